import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostShell, sandboxDown, sandboxUp, type Sandbox } from '../../src/sandbox/index.js';
import { servedCertificate, type ServedCertificate } from '../../src/health/served-certificate.js';
import { connect as netConnect } from 'node:net';
import { connectTls, endClient, type TlsTarget } from '../support/broker-checks.js';
import { changedCount, provision } from '../support/cli.js';
import type { RunReport } from '../../src/engine/records.js';
import { makeExporterGitRepo } from '../support/exporter-fixture.js';
import { APP_ENV, APP_LOGIN, APP_USER_VARS } from '../support/inventory-fragments.js';

// A certificate renewal and a whole CA rollover on real brokers (bridged active-active, HAProxy beside mq1) while
// clients stay connected: a subscriber on a broker directly and one through the load balancer, a publisher
// sending a numbered message every 100 ms; none of them may be disconnected, no message may be lost.
const NAME = 'm-certs';
let sb: Sandbox;
let dir: string;
let inv: string;
const login = APP_LOGIN;
const env = APP_ENV;
const figures: Record<string, unknown> = {};
const sh = async (host: string, cmd: string) => (await hostShell(sb.name, host, cmd)).stdout.trim();
const addr = (h: string) => sb.hosts.find((x) => x.name === h)!.address;
const pki = (...p: string[]) => join(dir, 'pki', ...p);

function writeInventory(extraSans: string[]): void {
  const url = readFileSync(join(dir, 'exporter-url'), 'utf8');
  writeFileSync(
    inv,
    `all:
  vars:
    cluster_mode: active-active
    exporter_repo_url: ${url}
    tls_extra_sans: [${extraSans.join(', ')}]
${APP_USER_VARS}
  children:
    brokers:
      hosts:
        mc1: {}
        mc2: {}
    loadbalancers:
      hosts:
        mc1: {}
`,
  );
}

const run = (json: string) => provision(['-i', inv, '-i', sb.inventoryPath, '--diff'], { env, json: join(dir, json) });

/** A client that must stay connected: every close is counted. */
interface Watched {
  client: MqttClient;
  closes: number;
  received: number[];
}

async function watched(t: TlsTarget, topic?: string): Promise<Watched> {
  const client = await connectTls(t, login);
  const w: Watched = { client, closes: 0, received: [] };
  client.on('close', () => w.closes++);
  if (topic) {
    client.on('message', (_t, payload) => w.received.push(Number(payload.toString())));
    await client.subscribeAsync(topic, { qos: 1 });
  }
  return w;
}

/** Sequence numbers missing from `got` between the first and the last one sent. */
function missing(got: number[], sent: number): number[] {
  const have = new Set(got);
  const out: number[] = [];
  for (let i = 0; i < sent; i++) if (!have.has(i)) out.push(i);
  return out;
}

/** The certificate presented on a fresh handshake (nothing trusted: compared with the files). */
async function served(address: string, servername: string): Promise<ServedCertificate> {
  const sock = netConnect({ host: address, port: 8883 });
  await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
  return servedCertificate(sock, { servername });
}

const fileFingerprint = (host: string) => new X509Certificate(readFileSync(pki('hosts', host, 'server.crt'))).fingerprint256;
const mainPid = (h: string) => sh(h, 'systemctl show -p MainPID --value mosquitto');
/** mc2's bridge connection to mc1 (its local port changes if it reconnected). */
const bridgeConn = () => sh('mc2', "ss -Htn state established '( dport = :8884 )' | awk '{print $3}'");
const stepsNamed = (r: RunReport | undefined, re: RegExp) =>
  (r?.steps ?? []).filter((x) => re.test(x.step) && x.status === 'changed').map((x) => x.host).sort();

describe('certificates and CA change without a disconnect (2 brokers, HAProxy on mc1)', () => {
  let direct: Watched;
  let viaLb: Watched;
  let pub: Watched;
  let sent = 0;
  let ticker: NodeJS.Timeout;

  beforeAll(async () => {
    sb = await sandboxUp({ name: NAME, count: 2, prefix: 'mc' });
    dir = join(sb.stateDir, 'certs');
    mkdirSync(dir, { recursive: true });
    const repo = await makeExporterGitRepo(join(dir, 'exporter-src'));
    writeFileSync(join(dir, 'exporter-url'), repo.url);
    inv = join(dir, 'hosts.yaml');
    writeInventory([]);
    const first = await run('first.json');
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const ca = readFileSync(pki('ca.crt'));
    // The clients keep the CA file they connected with: trust is checked at the handshake only.
    direct = await watched({ address: addr('mc2'), servername: 'mc2', ca }, 'app/rot/seq');
    viaLb = await watched({ address: addr('mc1'), servername: 'mc1', ca }, 'app/rot/seq');
    pub = await watched({ address: addr('mc2'), servername: 'mc2', ca });
    ticker = setInterval(() => void pub.client.publishAsync('app/rot/seq', String(sent++), { qos: 1 }).catch(() => {}), 100);
  }, 600_000);

  afterAll(async () => {
    clearInterval(ticker);
    for (const w of [direct, viaLb, pub]) if (w) await endClient(w.client).catch(() => {});
    mkdirSync('bench/out', { recursive: true });
    writeFileSync('bench/out/cert-rotation-e2e.json', `${JSON.stringify(figures, null, 2)}\n`);
    await sandboxDown({ name: NAME });
  });

  /** Nobody was disconnected and every message sent so far reached both subscribers. */
  async function expectNobodyDropped(what: string): Promise<void> {
    const upTo = sent;
    await new Promise((r) => setTimeout(r, 1500));
    expect({ what, closes: [direct.closes, viaLb.closes, pub.closes], missingDirect: missing(direct.received, upTo), missingLb: missing(viaLb.received, upTo) }).toEqual({ what, closes: [0, 0, 0], missingDirect: [], missingLb: [] });
  }

  it('a renewal (new SANs) reloads both brokers and HAProxy: new handshakes get the new certificates, nobody reconnects', async () => {
    const before = { mc1: fileFingerprint('mc1'), mc2: fileFingerprint('mc2'), pids: [await mainPid('mc1'), await mainPid('mc2')], bridge: await bridgeConn() };
    expect(before.bridge).not.toBe('');
    expect((await served(addr('mc2'), 'mc2')).fingerprint256).toBe(before.mc2);
    writeInventory(['renewed.example']);
    const t0 = Date.now();
    const r = await run('renew.json');
    figures.renewalRunMs = Date.now() - t0;
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('SANs changed: +renewed.example');
    expect(stepsNamed(r.report, /^reload mosquitto/)).toEqual(['mc1', 'mc2']);
    expect(stepsNamed(r.report, /^restart mosquitto/)).toEqual([]);
    expect(stepsNamed(r.report, /haproxy/)).toContain('mc1');
    expect([await mainPid('mc1'), await mainPid('mc2')]).toEqual(before.pids);
    expect(fileFingerprint('mc2')).not.toBe(before.mc2);
    // mc2's broker directly; mc1's public 8883 is HAProxy (with the same certificate of mc1).
    expect((await served(addr('mc2'), 'mc2')).fingerprint256).toBe(fileFingerprint('mc2'));
    expect((await served(addr('mc1'), 'mc1')).fingerprint256).toBe(fileFingerprint('mc1'));
    // (mc1's broker listens on loopback behind HAProxy: its handshake is checked by the reload step itself.)
    expect(await bridgeConn()).toBe(before.bridge);
    await expectNobodyDropped('renewal');
  }, 600_000);

  it('the next run changes nothing (the reload counts as loaded: no restart later)', async () => {
    const r = await run('idle.json');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(changedCount(r.report!), r.stdout).toBe(0);
  }, 600_000);

  it('CA rollover: start → run → promote → run → retire → run; clients with the bundle connect at every stage, nobody drops', async () => {
    const pids = [await mainPid('mc1'), await mainPid('mc2')];
    const bridge = await bridgeConn();
    const oldCa = readFileSync(pki('ca.crt'), 'utf8');
    const stage = async (s: string) => {
      const r = await provision(['pki', 'rotate-ca', s, '-i', inv, '-i', sb.inventoryPath], { env });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const t0 = Date.now();
      const run1 = await run(`ca-${s}.json`);
      figures[`caRun_${s}_ms`] = Date.now() - t0;
      expect(run1.code, run1.stdout + run1.stderr).toBe(0);
      expect(stepsNamed(run1.report, /^restart mosquitto/)).toEqual([]);
      const bundle = readFileSync(pki('ca-bundle.crt'));
      for (const [h, name] of [['mc2', 'mc2'], ['mc1', 'mc1']] as const) {
        const c = await connectTls({ address: addr(h), servername: name, ca: bundle }, login);
        await endClient(c);
      }
      return run1;
    };

    await stage('start');
    const newCa = readFileSync(pki('ca-next.crt'), 'utf8');
    expect(await sh('mc2', 'grep -c "BEGIN CERTIFICATE" /etc/mosquitto/certs/ca.crt')).toBe('2');
    expect((await served(addr('mc2'), 'mc2')).issuer).toBe(new X509Certificate(oldCa).subject);

    const promoted = await stage('promote');
    expect(promoted.stdout).toContain('the CA changed');
    expect(readFileSync(pki('ca.crt'), 'utf8')).toBe(newCa);
    for (const h of ['mc1', 'mc2']) expect((await served(addr(h), h)).issuer).toBe(new X509Certificate(newCa).subject);
    expect(await sh('mc2', 'grep -c "BEGIN CERTIFICATE" /etc/mosquitto/certs/ca.crt')).toBe('2');

    await stage('retire');
    expect(await sh('mc2', 'grep -c "BEGIN CERTIFICATE" /etc/mosquitto/certs/ca.crt')).toBe('1');
    // A client with only the new CA connects; one with only the old CA is refused.
    await endClient(await connectTls({ address: addr('mc2'), servername: 'mc2', ca: newCa }, login));
    await expect(connectTls({ address: addr('mc2'), servername: 'mc2', ca: oldCa }, login)).rejects.toThrow();

    expect([await mainPid('mc1'), await mainPid('mc2')]).toEqual(pids);
    expect(await bridgeConn()).toBe(bridge);
    await expectNobodyDropped('CA rollover');
    figures.messagesSent = sent;
  }, 900_000);

  it('provision verify reports the days until each certificate expires', async () => {
    const r = await provision(['verify', '-i', inv, '-i', sb.inventoryPath], { env });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/certificate of mc1 \(broker, port 8883\) — expires in 39\d days/);
    expect(r.stdout).toMatch(/certificate of mc2 \(broker, port 8883\) — expires in 39\d days/);
    expect(r.stdout).toMatch(/certificate of mc1 \(load balancer, port 8883\) — expires in 39\d days/);
    expect(r.stdout).toMatch(/CA .*provision MQTT CA .* — expires in 36\d\d days/);
    figures.verify = r.stdout.split('\n').filter((l) => /expires in/.test(l));
  }, 300_000);
});
