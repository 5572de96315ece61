// One TLS policy for mosquitto and HAProxy (src/tls/policy.ts): rendered into both configurations, and
// checked with the real OpenSSL client against the real servers started on loopback from those configurations.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderMosquittoConf } from '../../../roles/mosquitto_config/template.js';
import { renderHaproxyConfig } from '../../../src/haproxy/config.js';
import { Secret } from '../../../src/secrets.js';
import { TLS12_CIPHERS, TLS12_CIPHER_LIST, TLS13_CIPHERSUITE_LIST } from '../../../src/tls/policy.js';
import { CBC_ONLY_OFFER, tlsProbe } from '../../support/tls-probe.js';

const root = process.getuid?.() === 0;
const haveServers = existsSync('/usr/sbin/mosquitto') && existsSync('/usr/sbin/haproxy');

function mosquittoConf(dir: string, tlsPort: number, localPort: number): string {
  return renderMosquittoConf({
    passwordFile: join(dir, 'passwd'),
    aclFile: join(dir, 'acl'),
    dynsecFile: join(dir, 'dynsec.json'),
    dataDir: dir,
    certDir: dir,
    localPort,
    tlsPort,
    tlsBind: '127.0.0.1',
    maxKeepalive: 60,
    maxPacketSize: 1048576,
    setTcpNodelay: true,
    sysInterval: 10,
    persistence: false,
    autosaveInterval: 60,
    maxQueuedMessages: 1000,
    extra: root ? ['user root'] : [],
  });
}

function haproxyConf(dir: string, port: number, metricsPort: number): string {
  return renderHaproxyConfig({
    mode: 'active-passive',
    bind: [{ address: '127.0.0.1', port }],
    tlsPemPath: join(dir, 'server.pem'),
    servers: [{ name: 'mq1', address: '127.0.0.1', port: 1 }],
    healthCheck: { username: 'hc', password: new Secret('Hc-Pa55-word'), clientId: 'lb1-hc' },
    maxKeepaliveSeconds: 60,
    maxConnections: 100,
    metrics: { address: '127.0.0.1', port: metricsPort },
    runtime: { statsSocketPath: join(dir, 'lb.sock'), chroot: null, user: null, group: null, log: ['stdout format short local0 info'] },
  });
}

const valueOf = (conf: string, key: string): string | undefined => new RegExp(`^\\s*${key.replace('.', '\\.')} (\\S+)`, 'm').exec(conf)?.[1];

describe('the TLS policy', () => {
  it('is AEAD only with forward secrecy, as the local OpenSSL reads the list', () => {
    const r = spawnSync('openssl', ['ciphers', '-v', '-tls1_2', '-ciphersuites', '', TLS12_CIPHER_LIST], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.map((l) => l.split(/\s+/)[0])).toEqual([...TLS12_CIPHERS]);
    for (const l of lines) {
      expect(l, l).toMatch(/\bMac=AEAD\b/);
      expect(l, l).toMatch(/\bKx=(ECDH|DH)\b/);
      expect(l, l).not.toMatch(/CBC|SHA1\b|Enc=AES\(\d+\)\s/);
    }
    expect(TLS13_CIPHERSUITE_LIST.split(':').every((s) => /^TLS_(AES_\d+_GCM|CHACHA20_POLY1305)_SHA\d+$/.test(s))).toBe(true);
  });

  it('is the same in mosquitto.conf and haproxy.cfg', () => {
    const m = mosquittoConf('/d', 8883, 1883);
    const h = haproxyConf('/d', 8883, 8404);
    expect(valueOf(m, 'ciphers')).toBe(TLS12_CIPHER_LIST);
    expect(valueOf(h, 'ssl-default-bind-ciphers')).toBe(TLS12_CIPHER_LIST);
    expect(valueOf(m, 'ciphers_tls1.3')).toBe(TLS13_CIPHERSUITE_LIST);
    expect(valueOf(h, 'ssl-default-bind-ciphersuites')).toBe(TLS13_CIPHERSUITE_LIST);
    expect(valueOf(m, 'tls_version')).toBe('tlsv1.2');
    expect(h).toMatch(/^\s*ssl-default-bind-options ssl-min-ver TLSv1\.2 no-tls-tickets$/m);
    expect(h).toMatch(/^\s*bind 127\.0\.0\.1:8883 ssl crt \S+ ssl-min-ver TLSv1\.2$/m);
  });
});

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

async function waitForPort(port: number, child: ChildProcess, log: string[]): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}:\n${log.join('')}`);
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => (c.destroy(), resolve(true)));
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} never opened:\n${log.join('')}`);
}

describe.skipIf(!haveServers)('real servers from the rendered configs, probed with openssl s_client', () => {
  let dir = '';
  const children: ChildProcess[] = [];
  const ports: Record<'mosquitto' | 'haproxy', number> = { mosquitto: 0, haproxy: 0 };

  function start(cmd: string, args: string[]): { child: ChildProcess; log: string[] } {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const log: string[] = [];
    child.stdout?.on('data', (d: Buffer) => log.push(d.toString()));
    child.stderr?.on('data', (d: Buffer) => log.push(d.toString()));
    children.push(child);
    return { child, log };
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'provision-tls-policy-'));
    const key = join(dir, 'server.key');
    const crt = join(dir, 'server.crt');
    const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', crt, '-days', '1', '-subj', '/CN=localhost'], { encoding: 'utf8' });
    if (gen.status !== 0) throw new Error(gen.stderr);
    writeFileSync(join(dir, 'ca.crt'), readFileSync(crt));
    writeFileSync(join(dir, 'server.pem'), readFileSync(crt, 'utf8') + readFileSync(key, 'utf8'), { mode: 0o600 });
    writeFileSync(join(dir, 'passwd'), '', { mode: 0o600 });
    writeFileSync(join(dir, 'acl'), '', { mode: 0o600 });
    ports.mosquitto = await freePort();
    ports.haproxy = await freePort();
    writeFileSync(join(dir, 'mosquitto.conf'), mosquittoConf(dir, ports.mosquitto, await freePort()));
    writeFileSync(join(dir, 'haproxy.cfg'), haproxyConf(dir, ports.haproxy, await freePort()));
    const m = start('/usr/sbin/mosquitto', ['-c', join(dir, 'mosquitto.conf')]);
    const h = start('/usr/sbin/haproxy', ['-f', join(dir, 'haproxy.cfg'), '-db']);
    await waitForPort(ports.mosquitto, m.child, m.log);
    await waitForPort(ports.haproxy, h.child, h.log);
  }, 30_000);

  afterAll(() => {
    for (const c of children) c.kill('SIGTERM'); // the PIDs we started
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const server of ['mosquitto', 'haproxy'] as const) {
    it(`${server}: AEAD over TLS 1.2 and TLS 1.3 accepted; a CBC-only offer, TLS 1.1 and TLS 1.0 refused`, async () => {
      const port = ports[server];
      const aead = await tlsProbe('127.0.0.1', port, { version: '1_2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
      expect(aead.ok, aead.output).toBe(true);
      expect([aead.protocol, aead.cipher]).toEqual(['TLSv1.2', 'ECDHE-ECDSA-AES128-GCM-SHA256']);
      const chacha = await tlsProbe('127.0.0.1', port, { version: '1_2', ciphers: 'ECDHE-ECDSA-CHACHA20-POLY1305' });
      expect(chacha.cipher, chacha.output).toBe('ECDHE-ECDSA-CHACHA20-POLY1305');
      const v13 = await tlsProbe('127.0.0.1', port, { version: '1_3' });
      expect(v13.ok, v13.output).toBe(true);
      expect(v13.protocol).toBe('TLSv1.3');
      // Whatever a client prefers, the server picks from the policy.
      const any12 = await tlsProbe('127.0.0.1', port, { version: '1_2', ciphers: `${CBC_ONLY_OFFER}:ECDHE-ECDSA-AES256-GCM-SHA384` });
      expect(any12.cipher, any12.output).toBe('ECDHE-ECDSA-AES256-GCM-SHA384');
      for (const [what, probe] of [
        ['CBC-only offer', await tlsProbe('127.0.0.1', port, { version: '1_2', ciphers: CBC_ONLY_OFFER })],
        ['TLS 1.1', await tlsProbe('127.0.0.1', port, { version: '1_1' })],
        ['TLS 1.0', await tlsProbe('127.0.0.1', port, { version: '1' })],
      ] as const) {
        expect(probe.ok, `${server} ${what}:\n${probe.output}`).toBe(false);
        expect(probe.output, `${server} ${what}`).toMatch(/alert|handshake failure|no cipher|wrong version/i);
      }
    }, 60_000);
  }
});
