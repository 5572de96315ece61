import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect as mqttConnect, type MqttClient } from 'mqtt';
import { InputError } from '../../../src/errors.js';
import { containsSecret, redact, Secret } from '../../../src/secrets.js';
import {
  CONNACK_ACCEPTED_HEX,
  MQTT_DISCONNECT,
  encodeRemainingLength,
  mqttConnectPacket,
} from '../../../src/haproxy/mqtt-packets.js';
import {
  HAPROXY_CHECK_TIMING,
  renderHaproxyConfig,
  type HaproxyConfigInput,
} from '../../../src/haproxy/config.js';

const HAPROXY = '/usr/sbin/haproxy';
const MOSQUITTO = '/usr/sbin/mosquitto';
const MOSQUITTO_PASSWD = '/usr/bin/mosquitto_passwd';
const VERIFIED_CONNECT_HEX = '101f00044d51545404c2003c000268630005616c6963650008416c696365507731';

function baseInput(over: Partial<HaproxyConfigInput> = {}): HaproxyConfigInput {
  return {
    mode: 'active-passive',
    bind: [{ address: '10.77.0.100', port: 8883 }],
    tlsPemPath: '/etc/haproxy/certs/mqtt.pem',
    servers: [
      { name: 'mq1', address: '10.77.0.21', port: 1884 },
      { name: 'mq2', address: '10.77.0.22', port: 1884 },
      { name: 'mq3', address: '10.77.0.23', port: 1884 },
    ],
    healthCheck: { username: 'alice', password: new Secret('AlicePw1'), clientId: 'hc' },
    peers: {
      localName: 'lb1',
      members: [
        { name: 'lb1', address: '10.77.0.11', port: 10000 },
        { name: 'lb2', address: '10.77.0.12', port: 10000 },
      ],
    },
    maxKeepaliveSeconds: 60,
    metrics: { address: '10.77.0.11', port: 8404 },
    ...over,
  };
}

/** Non-comment directive lines, trimmed. */
function directives(cfg: string): string[] {
  return cfg
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

function serverLines(cfg: string): string[] {
  return directives(cfg).filter((l) => l.startsWith('server '));
}

describe('MQTT packets', () => {
  it('builds the verified CONNECT for hc/alice/AlicePw1', () => {
    const p = mqttConnectPacket({ clientId: 'hc', username: 'alice', password: new Secret('AlicePw1') });
    expect(p.toString('hex')).toBe(VERIFIED_CONNECT_HEX);
  });

  it('has DISCONNECT and CONNACK constants', () => {
    expect(MQTT_DISCONNECT.toString('hex')).toBe('e000');
    expect(CONNACK_ACCEPTED_HEX).toBe('20020000');
  });

  it('encodes the remaining length as an MQTT varint', () => {
    const cases: [number, string][] = [
      [0, '00'],
      [127, '7f'],
      [128, '8001'],
      [16383, 'ff7f'],
      [16384, '808001'],
      [2097151, 'ffff7f'],
      [2097152, '80808001'],
      [268435455, 'ffffff7f'],
    ];
    for (const [n, hex] of cases) expect(encodeRemainingLength(n).toString('hex')).toBe(hex);
    expect(() => encodeRemainingLength(268435456)).toThrow(RangeError);
    expect(() => encodeRemainingLength(-1)).toThrow(RangeError);
  });

  it('handles long user names and passwords (multi-byte remaining length)', () => {
    const password = 'p'.repeat(300);
    const username = 'u'.repeat(200);
    const p = mqttConnectPacket({ clientId: 'lb1-hc', username, password: new Secret(password), keepalive: 30 });
    // remaining = 10 (variable header) + (2+6) + (2+200) + (2+300) = 522 → 0x8a 0x04
    expect(p[0]).toBe(0x10);
    expect(p.subarray(1, 3).toString('hex')).toBe('8a04');
    expect(p.length).toBe(1 + 2 + 522);
    expect(p.readUInt16BE(3 + 8)).toBe(30); // keepalive after "\0\4MQTT" level flags
    expect(p.subarray(p.length - 300).toString()).toBe(password);
    expect(p.readUInt16BE(p.length - 302)).toBe(300);
  });

  it('rejects bad keepalive, empty client id and oversized fields', () => {
    const password = new Secret('x');
    expect(() => mqttConnectPacket({ clientId: 'a', username: 'b', password, keepalive: 70000 })).toThrow(RangeError);
    expect(() => mqttConnectPacket({ clientId: '', username: 'b', password })).toThrow(RangeError);
    expect(() => mqttConnectPacket({ clientId: 'a', username: 'u'.repeat(70000), password })).toThrow(RangeError);
  });
});

describe('renderHaproxyConfig', () => {
  it('active-passive: one active server, the others backup, failback and fast checks', () => {
    const cfg = renderHaproxyConfig(baseInput());
    const servers = serverLines(cfg);
    expect(servers).toEqual(['server mq1 10.77.0.21:1884', 'server mq2 10.77.0.22:1884 backup', 'server mq3 10.77.0.23:1884 backup']);
    expect(servers.filter((l) => !/\sbackup$/.test(l))).toHaveLength(1);
    const d = directives(cfg);
    expect(d).toContain('balance first');
    expect(d.some((l) => l.includes('allbackups'))).toBe(false);
    const ds = d.find((l) => l.startsWith('default-server '));
    expect(ds).toBe(
      'default-server check inter 500ms fastinter 250ms downinter 1s fall 2 rise 2 on-marked-down shutdown-sessions on-marked-up shutdown-backup-sessions',
    );
    // No stick table nor peers in active-passive, even when peers are given.
    expect(cfg).not.toMatch(/stick|^peers |localpeer/m);
  });

  it('active-active: leastconn, MQTT stickiness replicated through peers with localpeer', () => {
    const cfg = renderHaproxyConfig(baseInput({ mode: 'active-active' }));
    const d = directives(cfg);
    expect(d).toContain('balance leastconn');
    expect(d).toContain('localpeer lb1');
    expect(d).toContain('peers lb_peers');
    expect(d).toContain('peer lb1 10.77.0.11:10000');
    expect(d).toContain('peer lb2 10.77.0.12:10000');
    expect(d).toContain('stick-table type string len 64 size 100k expire 30m peers lb_peers');
    expect(d.find((l) => l.startsWith('stick on '))).toMatch(/^stick on req\.payload\(0,0\),mqtt_field_value\(connect,client_identifier\)/);
    expect(serverLines(cfg).every((l) => !l.includes('backup'))).toBe(true);
    expect(cfg).not.toContain('shutdown-backup-sessions');
    expect(d.find((l) => l.startsWith('default-server '))).toContain('on-marked-down shutdown-sessions');
    // localpeer must come before the peers section (it is in global).
    expect(cfg.indexOf('localpeer lb1')).toBeLessThan(cfg.indexOf('\npeers lb_peers'));

    const byUser = renderHaproxyConfig(baseInput({ mode: 'active-active', stickOn: 'username' }));
    expect(byUser).toContain('mqtt_field_value(connect,username)');
  });

  it('active-active without peers, or with a single load balancer, keeps a local stick table', () => {
    for (const peers of [undefined, { localName: 'lb1', members: [{ name: 'lb1', address: '10.77.0.11', port: 10000 }] }]) {
      const cfg = renderHaproxyConfig(baseInput({ mode: 'active-active', peers }));
      expect(cfg).toContain('stick-table type string len 64 size 100k expire 30m\n');
      expect(cfg).not.toMatch(/^peers |localpeer/m);
    }
  });

  it('has the global, defaults, frontend, health-check and metrics directives', () => {
    const cfg = renderHaproxyConfig(baseInput({ caPath: '/etc/haproxy/certs/ca.pem', maxConnections: 5000 }));
    const d = directives(cfg);
    for (const want of [
      'global',
      'log /dev/log local0',
      'chroot /var/lib/haproxy',
      'user haproxy',
      'group haproxy',
      'stats socket /run/haproxy/admin.sock mode 660 level admin expose-fd listeners',
      'maxconn 5000',
      'defaults',
      'mode tcp',
      'timeout connect 2s',
      'timeout client 120s',
      'timeout server 120s',
      'timeout check 1s',
      'frontend mqtt_tls',
      'bind 10.77.0.100:8883 ssl crt /etc/haproxy/certs/mqtt.pem ssl-min-ver TLSv1.2 ca-file /etc/haproxy/certs/ca.pem verify optional',
      'tcp-request inspect-delay 5s',
      'tcp-request content reject unless { req.payload(0,0),mqtt_is_valid }',
      'default_backend brokers',
      'backend brokers',
      'option redispatch 1',
      'retries 2',
      'option tcp-check',
      'tcp-check connect',
      `tcp-check send-binary ${VERIFIED_CONNECT_HEX}`,
      'tcp-check expect binary 20020000',
      'tcp-check send-binary e000',
      'frontend stats',
      'bind 10.77.0.11:8404',
      'mode http',
      'http-request use-service prometheus-exporter if { path /metrics }',
      'stats enable',
      'stats uri /stats',
    ]) {
      expect(d, want).toContain(want);
    }
    expect(d).not.toContain('daemon');
    // The tcp-check sequence is in order.
    const i = d.indexOf('tcp-check connect');
    expect(d.slice(i, i + 4)).toEqual(['tcp-check connect', `tcp-check send-binary ${VERIFIED_CONNECT_HEX}`, 'tcp-check expect binary 20020000', 'tcp-check send-binary e000']);
    expect(d.filter((l) => l === 'maxconn 5000')).toHaveLength(2); // global and frontend
    // Without maxConnections HAProxy sizes itself from the FD limit.
    expect(renderHaproxyConfig(baseInput())).not.toMatch(/^\s*maxconn /m);
    // Timeouts follow maxKeepaliveSeconds.
    expect(renderHaproxyConfig(baseInput({ maxKeepaliveSeconds: 300 }))).toContain('timeout client 480s');
    expect(HAPROXY_CHECK_TIMING.fall).toBe(2);
  });

  it('never writes the health-check password in clear', () => {
    const cfg = renderHaproxyConfig(baseInput());
    const pwHex = Buffer.from('AlicePw1').toString('hex');
    expect(cfg).not.toContain('AlicePw1');
    expect(cfg).toContain(pwHex);
    // The hex form counts as a secret: diffs and logs of the file go through redact().
    expect(containsSecret(cfg)).toBe(true);
    expect(redact(cfg)).not.toContain(pwHex);
    expect(redact(cfg)).toContain('tcp-check send-binary 101f00044d51545404c2003c000268630005616c696365');
  });

  it('is deterministic: same input, byte-identical output', () => {
    for (const mode of ['active-active', 'active-passive'] as const) {
      const a = renderHaproxyConfig(baseInput({ mode }));
      const b = renderHaproxyConfig(baseInput({ mode })); // fresh Secret objects
      expect(b).toBe(a);
      expect(a.endsWith('\n')).toBe(true);
    }
  });

  it('writes IPv6 addresses the way HAProxy parses them', () => {
    const cfg = renderHaproxyConfig(baseInput({ bind: [{ address: '[::1]', port: 8883 }, { address: '0.0.0.0', port: 8883 }] }));
    expect(cfg).toContain('bind ::1:8883 ssl crt');
    expect(cfg).toContain('bind 0.0.0.0:8883 ssl crt');
  });

  it('rejects input that would give a broken or silently different config', () => {
    const bad: Partial<HaproxyConfigInput>[] = [
      { mode: 'active-active', peers: { localName: 'lbX', members: [{ name: 'lb1', address: '10.0.0.1', port: 10000 }, { name: 'lb2', address: '10.0.0.2', port: 10000 }] } },
      { servers: [] },
      { bind: [] },
      { servers: [{ name: 'mq1', address: '10.0.0.1', port: 1884 }, { name: 'mq1', address: '10.0.0.2', port: 1884 }] },
      { servers: [{ name: 'mq 1', address: '10.0.0.1', port: 1884 }] },
      { servers: [{ name: 'mq1', address: '10.0.0.1', port: 70000 }] },
      { bind: [{ address: '10.0.0.1\n  bind *', port: 8883 }] },
      { tlsPemPath: 'relative.pem' },
      { tlsPemPath: '/etc/haproxy/my cert.pem' },
      { maxKeepaliveSeconds: 0 },
      { healthCheck: { username: 'alice\nglobal', password: new Secret('AlicePw1'), clientId: 'hc' } },
      { healthCheck: { username: 'alice', password: new Secret('AlicePw1'), clientId: 'h c' } },
      { healthCheck: { username: 'alice', password: new Secret('x'.repeat(5000)), clientId: 'hc' } },
    ];
    for (const over of bad) expect(() => renderHaproxyConfig(baseInput(over)), JSON.stringify(over)).toThrow(InputError);
  });
});

// ---------------------------------------------------------------------------------------------
// Real HAProxy: syntax check, then an end-to-end failover on loopback.
// ---------------------------------------------------------------------------------------------

const haveHaproxy = existsSync(HAPROXY);
const haveMosquitto = existsSync(MOSQUITTO) && existsSync(MOSQUITTO_PASSWD);
if (!haveHaproxy) console.warn(`SKIP real HAProxy tests: ${HAPROXY} is missing (apt-get install -y haproxy)`);
if (haveHaproxy && !haveMosquitto) console.warn(`SKIP end-to-end test: ${MOSQUITTO} or ${MOSQUITTO_PASSWD} is missing (apt-get install -y mosquitto)`);

let workDir = '';
let pemPath = '';
let certPath = '';

function makePem(dir: string): void {
  const key = join(dir, 'key.pem');
  certPath = join(dir, 'cert.pem');
  const r = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', certPath, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  pemPath = join(dir, 'server.pem');
  writeFileSync(pemPath, readFileSync(certPath, 'utf8') + readFileSync(key, 'utf8'), { mode: 0o600 });
}

function haproxyCheck(file: string): { status: number | null; output: string } {
  const r = spawnSync(HAPROXY, ['-c', '-f', file], { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe.skipIf(!haveHaproxy)('haproxy -c accepts the generated config', () => {
  beforeAll(() => {
    workDir = mkdtempSync(join(tmpdir(), 'provision-haproxy-'));
    makePem(workDir);
  });
  afterAll(() => {
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  for (const mode of ['active-passive', 'active-active'] as const) {
    it(`${mode} (Debian defaults: chroot, user, admin socket), no warnings`, () => {
      const file = join(workDir, `${mode}.cfg`);
      writeFileSync(file, renderHaproxyConfig(baseInput({ mode, tlsPemPath: pemPath, caPath: certPath })), { mode: 0o640 });
      const { status, output } = haproxyCheck(file);
      expect(status, output).toBe(0);
      expect(output).toContain('Configuration file is valid');
      expect(output).not.toContain('[WARNING]');
      expect(output).not.toContain('Removing incomplete section');
    });
  }

  it('the peers section survives only thanks to localpeer (control: without it HAProxy drops it)', () => {
    const cfg = renderHaproxyConfig(baseInput({ mode: 'active-active', tlsPemPath: pemPath }));
    const withLp = join(workDir, 'peers.cfg');
    writeFileSync(withLp, cfg);
    const ok = haproxyCheck(withLp);
    expect(ok.status, ok.output).toBe(0);
    expect(ok.output).not.toContain('Removing incomplete section');

    const without = join(workDir, 'peers-nolocal.cfg');
    writeFileSync(without, cfg.replace(/^\s*localpeer .*\n/m, ''));
    const ko = haproxyCheck(without);
    // Unless this machine's host name happens to be a peer's name, HAProxy silently drops the section.
    if (!['lb1', 'lb2'].includes(hostname())) expect(ko.output).toContain("Removing incomplete section 'peers lb_peers'");
  });
});

// ---------------------------------------------------------------------------------------------

interface Proc {
  child: ChildProcess;
  log: string[];
  name: string;
}

const procs: Proc[] = [];

function startProc(name: string, cmd: string, args: string[]): Proc {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const p: Proc = { child, log: [], name };
  child.stdout?.on('data', (d: Buffer) => p.log.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => p.log.push(d.toString()));
  procs.push(p);
  return p;
}

async function stopProc(p: Proc, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const done = new Promise<void>((resolve) => p.child.once('exit', () => resolve()));
  p.child.kill(signal); // by the PID we started, never by name
  await Promise.race([done, sleep(3000)]);
  if (p.child.exitCode === null && p.child.signalCode === null) {
    p.child.kill('SIGKILL');
    await done;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, p: Proc, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (p.child.exitCode !== null) throw new Error(`${p.name} exited (${p.child.exitCode}):\n${p.log.join('')}`);
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`${p.name}: port ${port} not open after ${timeoutMs} ms:\n${p.log.join('')}`);
}

/** One command on the HAProxy admin socket (non-interactive: HAProxy closes after the answer). */
function adminCommand(socketPath: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.createConnection(socketPath);
    let out = '';
    c.setEncoding('utf8');
    c.once('connect', () => c.write(`${command}\n`));
    c.on('data', (d: string) => (out += d));
    c.once('end', () => resolve(out));
    c.once('error', reject);
  });
}

/** `show servers state <backend>` → server name → srv_op_state (2 = RUNNING/UP, 0 = STOPPED/DOWN). */
async function serversState(socketPath: string): Promise<Map<string, number>> {
  const out = await adminCommand(socketPath, 'show servers state brokers');
  const lines = out.split('\n').filter((l) => l.trim() !== '');
  const header = lines.find((l) => l.startsWith('# '));
  if (!header) throw new Error(`unexpected "show servers state" output: ${out}`);
  const cols = header.slice(2).split(' ');
  const nameIdx = cols.indexOf('srv_name');
  const stateIdx = cols.indexOf('srv_op_state');
  const res = new Map<string, number>();
  for (const l of lines) {
    if (l.startsWith('#') || !/^\d+ /.test(l)) continue;
    const f = l.split(' ');
    if (f.length > stateIdx) res.set(f[nameIdx]!, Number(f[stateIdx]));
  }
  return res;
}

/** `show stat` → server name → { status, check_status } for the brokers backend. */
async function serverStats(socketPath: string): Promise<Map<string, { status: string; check: string }>> {
  const out = await adminCommand(socketPath, 'show stat');
  const lines = out.split('\n').filter((l) => l.trim() !== '');
  const cols = lines[0]!.replace(/^# /, '').split(',');
  const res = new Map<string, { status: string; check: string }>();
  for (const l of lines.slice(1)) {
    const f = l.split(',');
    const row = Object.fromEntries(cols.map((c, i) => [c, f[i] ?? '']));
    if (row.pxname === 'brokers' && row.svname !== 'BACKEND') res.set(row.svname!, { status: row.status!, check: row.check_status! });
  }
  return res;
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, everyMs = 50): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

function mosquittoPasswd(file: string, user: string, password: string, create: boolean): void {
  // The password goes through stdin (typed twice), never on the command line.
  const r = spawnSync(MOSQUITTO_PASSWD, [...(create ? ['-c'] : []), file, user], { input: `${password}\n${password}\n`, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mosquitto_passwd failed: ${r.stderr}`);
}

/** Sends raw bytes to a broker and returns the first bytes it answers. */
function rawExchange(port: number, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => c.write(data));
    const t = setTimeout(() => {
      c.destroy();
      reject(new Error('no answer'));
    }, 3000);
    c.once('data', (d: Buffer) => {
      clearTimeout(t);
      c.destroy();
      resolve(d);
    });
    c.once('error', reject);
  });
}

function connectClient(url: string, opts: Record<string, unknown>): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqttConnect(url, opts);
    c.once('connect', () => resolve(c));
    c.once('error', (e) => {
      c.end(true);
      reject(e);
    });
  });
}

describe.skipIf(!haveHaproxy || !haveMosquitto)('end to end on loopback: MQTT health check, TLS termination, failover', () => {
  const HEALTH = { user: 'alice', pass: 'AlicePw1' };
  const CLIENT = { user: 'bob', pass: 'BobPw123' };
  const LONG = { user: 'longuser', pass: 'L'.repeat(300) };
  let dir = '';
  let brokerPorts: number[] = [];
  let brokers: Proc[] = [];
  let haproxy: Proc | undefined;
  let frontPort = 0;
  let metricsPort = 0;
  let socketPath = '';
  const clients: MqttClient[] = [];

  function runtime(name: string) {
    const root = process.getuid?.() === 0;
    return {
      statsSocketPath: join(dir, `${name}.sock`),
      chroot: root ? dir : null,
      user: root && spawnSync('id', ['haproxy']).status === 0 ? 'haproxy' : null,
      group: root && spawnSync('id', ['-g', 'haproxy']).status === 0 ? 'haproxy' : null,
      log: ['stdout format short local0 info'],
    };
  }

  async function startHaproxy(name: string, input: HaproxyConfigInput, waitPort: number, extraArgs: string[] = []): Promise<Proc> {
    const file = join(dir, `${name}.cfg`);
    writeFileSync(file, renderHaproxyConfig(input), { mode: 0o640 });
    const check = haproxyCheck(file);
    expect(check.status, check.output).toBe(0);
    const p = startProc(name, HAPROXY, ['-f', file, '-db', ...extraArgs]);
    await waitForPort(waitPort, p);
    return p;
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'provision-haproxy-e2e-'));
    chmodSync(dir, 0o700);
    makePem(dir);
    const pw = join(dir, 'passwd');
    mosquittoPasswd(pw, HEALTH.user, HEALTH.pass, true);
    mosquittoPasswd(pw, CLIENT.user, CLIENT.pass, false);
    mosquittoPasswd(pw, LONG.user, LONG.pass, false);
    brokerPorts = [await freePort(), await freePort()];
    frontPort = await freePort();
    metricsPort = await freePort();
    brokers = brokerPorts.map((port, n) => {
      const conf = join(dir, `mosquitto-${n + 1}.conf`);
      writeFileSync(
        conf,
        [
          // Started as root, mosquitto drops to user "mosquitto", which cannot read this 0700 temp dir.
          ...(process.getuid?.() === 0 ? ['user root'] : []),
          'per_listener_settings false',
          `listener ${port} 127.0.0.1`,
          'allow_anonymous false',
          `password_file ${pw}`,
          'persistence false',
          'log_dest stderr',
          'log_type error',
          'log_type warning',
          '',
        ].join('\n'),
      );
      return startProc(`mosquitto-${n + 1}`, MOSQUITTO, ['-c', conf]);
    });
    for (const [n, b] of brokers.entries()) await waitForPort(brokerPorts[n]!, b);
    socketPath = join(dir, 'lb1.sock');
    haproxy = await startHaproxy(
      'lb1',
      {
        mode: 'active-passive',
        bind: [{ address: '127.0.0.1', port: frontPort }],
        tlsPemPath: pemPath,
        caPath: certPath,
        servers: brokerPorts.map((port, n) => ({ name: `mq${n + 1}`, address: '127.0.0.1', port })),
        healthCheck: { username: HEALTH.user, password: new Secret(HEALTH.pass), clientId: 'lb1-hc' },
        maxKeepaliveSeconds: 60,
        // maxconn N needs ~2N file descriptors: keep it small for a test process's ulimit.
        maxConnections: 1000,
        metrics: { address: '127.0.0.1', port: metricsPort },
        runtime: runtime('lb1'),
      },
      frontPort,
    );
  }, 30_000);

  afterAll(async () => {
    for (const c of clients) c.end(true);
    for (const p of [...procs].reverse()) await stopProc(p);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('brokers accept the generated CONNECT, also with a 300-byte password (2-byte remaining length)', async () => {
    const hc = mqttConnectPacket({ clientId: 'probe-1', username: HEALTH.user, password: new Secret(HEALTH.pass) });
    expect((await rawExchange(brokerPorts[0]!, hc)).subarray(0, 4).toString('hex')).toBe(CONNACK_ACCEPTED_HEX);
    const long = mqttConnectPacket({ clientId: 'probe-2', username: LONG.user, password: new Secret(LONG.pass) });
    expect(long[2]! & 0x80).toBe(0); // second varint byte ends the length
    expect(long[1]! & 0x80).toBe(0x80);
    expect((await rawExchange(brokerPorts[1]!, long)).subarray(0, 4).toString('hex')).toBe(CONNACK_ACCEPTED_HEX);
    const wrong = mqttConnectPacket({ clientId: 'probe-3', username: HEALTH.user, password: new Secret('wrong-pw') });
    expect((await rawExchange(brokerPorts[1]!, wrong)).subarray(0, 4).toString('hex')).toBe('20020005');
  });

  it('the MQTT health check marks both brokers UP (admin socket)', async () => {
    const stats = await waitFor(
      'both brokers L7OK',
      async () => {
        const s = await serverStats(socketPath);
        return [...s.values()].length === 2 && [...s.values()].every((v) => v.check === 'L7OK') ? s : undefined;
      },
      10_000,
    );
    expect(stats.get('mq1')?.status).toBe('UP');
    expect(stats.get('mq2')?.status).toBe('UP');
    const state = await serversState(socketPath);
    expect(state.get('mq1')).toBe(2);
    expect(state.get('mq2')).toBe(2);
  });

  it('a health check with a wrong password marks the brokers DOWN (it really logs in)', async () => {
    const port = await freePort();
    const bad = await startHaproxy(
      'lb-bad',
      {
        mode: 'active-passive',
        bind: [{ address: '127.0.0.1', port }],
        tlsPemPath: pemPath,
        servers: brokerPorts.map((p, n) => ({ name: `mq${n + 1}`, address: '127.0.0.1', port: p })),
        healthCheck: { username: HEALTH.user, password: new Secret('not-the-password'), clientId: 'lb-bad-hc' },
        maxKeepaliveSeconds: 60,
        maxConnections: 1000,
        runtime: runtime('lb-bad'),
      },
      port,
    );
    const stats = await waitFor(
      'both brokers DOWN',
      async () => {
        const s = await serverStats(join(dir, 'lb-bad.sock'));
        return [...s.values()].length === 2 && [...s.values()].every((v) => v.status === 'DOWN') ? s : undefined;
      },
      10_000,
    );
    expect(stats.get('mq1')?.check).toBe('L7RSP');
    await stopProc(bad);
  });

  it('terminates TLS for mqtt.js clients, rejects non-MQTT payloads, serves /metrics', async () => {
    const ca = readFileSync(certPath);
    const c = await connectClient(`mqtts://127.0.0.1:${frontPort}`, {
      ca,
      servername: 'localhost',
      username: CLIENT.user,
      password: CLIENT.pass,
      clientId: 'tls-probe',
      reconnectPeriod: 0,
    });
    clients.push(c);
    const got = new Promise<string>((resolve) => c.once('message', (_t, m) => resolve(m.toString())));
    await c.subscribeAsync('e2e/tls', { qos: 1 });
    await c.publishAsync('e2e/tls', 'hello through haproxy', { qos: 1 });
    expect(await got).toBe('hello through haproxy');
    await c.endAsync();

    // Wrong credentials reach the broker, which refuses them.
    await expect(
      connectClient(`mqtts://127.0.0.1:${frontPort}`, { ca, servername: 'localhost', username: CLIENT.user, password: 'nope', reconnectPeriod: 0 }),
    ).rejects.toThrow(/Not authorized|Bad username/i);

    // An untrusted CA is refused by the client: the listener really serves our certificate.
    await expect(
      new Promise((resolve, reject) => {
        const s = tls.connect({ host: '127.0.0.1', port: frontPort, servername: 'localhost' }, () => resolve(s));
        s.once('error', reject);
      }),
    ).rejects.toThrow(/self.signed|certificate/i);

    // Not MQTT: HAProxy closes the connection without forwarding it.
    const answer = await new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: frontPort, ca, servername: 'localhost' }, () => s.write('GET / HTTP/1.0\r\n\r\n'));
      let out = '';
      s.on('data', (d: Buffer) => (out += d.toString()));
      s.once('close', () => resolve(out));
      s.once('error', reject);
    });
    expect(answer).toBe('');

    const metrics = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(metrics.status).toBe(200);
    const body = await metrics.text();
    expect(body).toMatch(/haproxy_server_status\{proxy="brokers",server="mq1"/);
    expect((await fetch(`http://127.0.0.1:${metricsPort}/stats`)).status).toBe(200);
  });

  it('active-active: the stick table learns client ids from the CONNECT (peers with localpeer)', async () => {
    const port = await freePort();
    const peerPorts = [await freePort(), await freePort()];
    const sock = join(dir, 'lb-aa.sock');
    const aa = await startHaproxy(
      'lb-aa',
      {
        mode: 'active-active',
        bind: [{ address: '127.0.0.1', port }],
        tlsPemPath: pemPath,
        servers: brokerPorts.map((p, n) => ({ name: `mq${n + 1}`, address: '127.0.0.1', port: p })),
        healthCheck: { username: HEALTH.user, password: new Secret(HEALTH.pass), clientId: 'lb-aa-hc' },
        // lb2 is never started: lb1 keeps trying to reach it, on loopback only.
        peers: { localName: 'lb1', members: peerPorts.map((p, n) => ({ name: `lb${n + 1}`, address: '127.0.0.1', port: p })) },
        maxKeepaliveSeconds: 60,
        // No maxConnections: HAProxy sizes maxconn from this process's FD limit.
        runtime: runtime('lb-aa'),
      },
      port,
    );
    await waitFor('both brokers UP', async () => {
      const s = await serverStats(sock);
      return [...s.values()].length === 2 && [...s.values()].every((v) => v.check === 'L7OK') ? true : undefined;
    }, 10_000);
    const ca = readFileSync(certPath);
    const ids = ['sticky-a', 'sticky-b', 'sticky-c'];
    for (const clientId of ids) {
      const c = await connectClient(`mqtts://127.0.0.1:${port}`, { ca, servername: 'localhost', username: CLIENT.user, password: CLIENT.pass, clientId, reconnectPeriod: 0 });
      await c.endAsync();
    }
    const table = await adminCommand(sock, 'show table brokers');
    expect(table).toMatch(/table: brokers, type: string, size:102400/);
    for (const id of ids) expect(table).toMatch(new RegExp(`key=${id} use=\\d+ exp=\\d+ server_id=[12]`));
    // The peers section is live (not dropped): HAProxy knows its local peer.
    const peers = await adminCommand(sock, 'show peers');
    if (process.env.DEBUG_HAPROXY_E2E) console.log(table, peers);
    expect(peers).toMatch(/id=lb_peers disabled=0/);
    expect(peers).toMatch(/id=lb1\(local/);
    expect(peers).toMatch(/id=lb2\(remote/);
    await stopProc(aa);
  });

  it('reloads (master-worker, USR2) without refusing connections or cutting established clients', async () => {
    const port = await freePort();
    // -W: master-worker like Debian's "haproxy -Ws"; USR2 to the master = "systemctl reload haproxy".
    const lb = await startHaproxy(
      'lb-reload',
      {
        mode: 'active-passive',
        bind: [{ address: '127.0.0.1', port }],
        tlsPemPath: pemPath,
        servers: brokerPorts.map((p, n) => ({ name: `mq${n + 1}`, address: '127.0.0.1', port: p })),
        healthCheck: { username: HEALTH.user, password: new Secret(HEALTH.pass), clientId: 'lb-reload-hc' },
        maxKeepaliveSeconds: 60,
        maxConnections: 1000,
        runtime: runtime('lb-reload'),
      },
      port,
      ['-W'],
    );
    const ca = readFileSync(certPath);
    const opts = { ca, servername: 'localhost', username: CLIENT.user, password: CLIENT.pass, reconnectPeriod: 0 };
    const before = await connectClient(`mqtts://127.0.0.1:${port}`, { ...opts, clientId: 'before-reload' });
    clients.push(before);
    let beforeClosed = false;
    before.on('close', () => (beforeClosed = true));

    let refused = 0;
    let attempts = 0;
    let probing = true;
    const prober = (async () => {
      while (probing) {
        attempts++;
        await new Promise<void>((resolve) => {
          const c = net.connect(port, '127.0.0.1');
          c.once('connect', () => {
            c.destroy();
            resolve();
          });
          c.once('error', () => {
            refused++;
            resolve();
          });
        });
        await sleep(10);
      }
    })();
    await sleep(300);
    lb.child.kill('SIGUSR2'); // the master we started, by PID
    await sleep(1500);
    probing = false;
    await prober;
    expect(lb.child.exitCode).toBeNull();
    expect(lb.log.join('')).toMatch(/Reloading HAProxy/);
    expect(lb.log.join('').match(/New worker \(\d+\) forked/g)).toHaveLength(2);

    const after = await connectClient(`mqtts://127.0.0.1:${port}`, { ...opts, clientId: 'after-reload' });
    clients.push(after);
    const got = new Promise<string>((resolve) => after.once('message', (_t, m) => resolve(m.toString())));
    await after.subscribeAsync('e2e/reload', { qos: 1 });
    await before.publishAsync('e2e/reload', 'old worker still serves me', { qos: 1 });
    expect(await got).toBe('old worker still serves me');
    expect(beforeClosed).toBe(false);
    expect(refused, `${refused} of ${attempts} connection attempts refused during the reload`).toBe(0);
    console.log(`[haproxy reload] ${attempts} TCP connection attempts across a USR2 reload, ${refused} refused`);
    await before.endAsync();
    await after.endAsync();
    await stopProc(lb);
  });

  it('fails over to the backup when the active broker is killed (-9) and measures it', async () => {
    const ca = readFileSync(certPath);
    const common = { ca, servername: 'localhost', username: CLIENT.user, password: CLIENT.pass, reconnectPeriod: 1000 /* mqtt.js default */, connectTimeout: 3000 };
    const sub = await connectClient(`mqtts://127.0.0.1:${frontPort}`, { ...common, clientId: 'e2e-sub' });
    clients.push(sub);
    const pub = await connectClient(`mqtts://127.0.0.1:${frontPort}`, { ...common, clientId: 'e2e-pub' });
    clients.push(pub);
    const received = new Map<number, number>();
    sub.on('message', (_t, m) => {
      const seq = Number(m.toString());
      if (!received.has(seq)) received.set(seq, Date.now());
    });
    await sub.subscribeAsync('e2e/failover', { qos: 1 });
    let subReconnectedAt = 0;
    let killedAt = 0;
    sub.on('connect', () => {
      if (killedAt && !subReconnectedAt) subReconnectedAt = Date.now();
    });
    const events: string[] = [];
    for (const ev of ['close', 'reconnect', 'offline', 'connect', 'error'] as const) {
      sub.on(ev, (e?: unknown) => events.push(`sub ${ev} +${Date.now() - killedAt}ms ${e instanceof Error ? e.message : ''}`));
      pub.on(ev, (e?: unknown) => events.push(`pub ${ev} +${Date.now() - killedAt}ms ${e instanceof Error ? e.message : ''}`));
    }

    const TOTAL = 40;
    const KILL_AFTER = 12;
    let downAt = 0;
    let polling = true;
    const poller = (async () => {
      while (polling) {
        if (killedAt && !downAt) {
          const s = await serversState(socketPath).catch(() => undefined);
          if (s?.get('mq1') === 0) downAt = Date.now();
        }
        await sleep(25);
      }
    })();

    for (let seq = 1; seq <= TOTAL; seq++) {
      pub.publish('e2e/failover', String(seq), { qos: 1 });
      if (seq === KILL_AFTER) {
        killedAt = Date.now();
        brokers[0]!.child.kill('SIGKILL'); // the active broker, by the PID we started
      }
      await sleep(250);
    }
    await waitFor('the last message', async () => (received.has(TOTAL) ? true : undefined), 10_000).catch(() => undefined);
    await sleep(500);
    polling = false;
    await poller;

    const firstAfterKill = Math.min(...[...received.entries()].filter(([seq]) => seq > KILL_AFTER).map(([, t]) => t));
    const lost = [...Array(TOTAL).keys()].map((k) => k + 1).filter((s) => !received.has(s));
    const figures = {
      markedDownMs: downAt ? downAt - killedAt : NaN,
      subscriberReconnectedMs: subReconnectedAt ? subReconnectedAt - killedAt : NaN,
      subscriberReceivesAgainMs: Number.isFinite(firstAfterKill) ? firstAfterKill - killedAt : NaN,
      lost: `${lost.length} of ${TOTAL} QoS1 messages (4 msg/s): [${lost.join(',')}]`,
    };
    console.log(`[haproxy failover on loopback] ${JSON.stringify(figures)}`);
    if (process.env.DEBUG_HAPROXY_E2E) console.log(events.join('\n'), '\n', haproxy?.log.join(''));

    const state = await serversState(socketPath);
    expect(state.get('mq1')).toBe(0);
    expect(state.get('mq2')).toBe(2);
    expect(figures.markedDownMs).toBeLessThan(5000);
    expect(figures.subscriberReceivesAgainMs).toBeLessThan(5000);
    expect(received.has(TOTAL)).toBe(true);
  }, 60_000);
});
