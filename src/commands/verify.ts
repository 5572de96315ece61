import { connect as mqttConnect } from 'mqtt';
import { isAbsent } from '../engine/runner.js';
import { HAPROXY_BACKEND_NAME } from '../haproxy/config.js';
import { backendServerStatus } from '../haproxy/stats.js';
import { readDynsecState } from '../dynsec/index.js';
import { gatherHostFacts } from '../facts/gather-host-facts.js';
import { generatedSecret } from '../generated-secrets.js';
import { exporterMetricsCurrent, scrapeBrokerUptime } from '../health/http-metrics.js';
import { connectionSpecFor, type ConnectionDefaults } from '../inventory/connection.js';
import { loadInventory } from '../inventory/load.js';
import { loadVaultKeyring } from '../inventory/vault-secrets.js';
import { loadExtraVars } from '../inventory/extra-vars.js';
import { askSecret } from '../controller/prompt.js';
import type { Inventory, InventoryHost } from '../inventory/types.js';
import { OptionsError } from '../errors.js';
import { ControlClient } from '../mqtt/control-client.js';
import { Secret } from '../secrets.js';
import { SshTransport } from '../transport/ssh.js';
import { Semaphore } from '../util/semaphore.js';
import type { Transport } from '../transport/types.js';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { rotationPaths } from '../pki/rotation.js';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { createHash, randomUUID, X509Certificate } from 'node:crypto';
import { daysLeft, servedCertificate } from '../health/served-certificate.js';
import { pemCertificates } from '../pki/x509.js';
import { checkLine, checksSummary, type Check } from '../output/checks.js';
import { DEFAULT_PKI_DIR } from '../cluster/certificate.js';
import { defaultOf } from '../cluster/variables.js';
import { isBridged } from '../cluster/bridge.js';
import { verifyBridges, type BridgeBroker } from './verify-bridges.js';
import type { VerifyOptions } from './options.js';
import type { CommandResult } from './result.js';

function str(v: unknown, d: string): string {
  return typeof v === 'string' ? v : v instanceof Secret ? v.reveal() : d;
}

/** `provision verify -i INV`: end-to-end checks of a live cluster; exits 2 and says what is wrong otherwise. */
export async function verifyCommand(o: VerifyOptions): Promise<CommandResult> {
  const vault = await loadVaultKeyring(o.vault ?? {});
  const inv = await loadInventory(o.inventories, { vault, extraVars: await loadExtraVars(o.extraVars, vault) });
  // --limit narrows the per-host checks; the cluster's settings are read from its first broker, and the cluster-wide
  // checks (HAProxy's view of every broker, the bridge tree) still look at all of them.
  const limited = o.limit === undefined ? undefined : new Set(limitHosts(inv, o.limit));
  const inLimit = (h: string) => !limited || limited.has(h);
  const allBrokers = (inv.groups.get('brokers')?.hosts ?? []).filter((h) => !isAbsent(inv.hosts.get(h)!));
  const brokers = allBrokers.filter(inLimit);
  const allLbs = inv.groups.get('loadbalancers')?.hosts ?? [];
  const lbs = allLbs.filter(inLimit);
  const settingsHost = allBrokers[0] ?? '';
  const checks: Check[] = [];
  const record = (name: string, ok: boolean, detail: string) => {
    checks.push({ name, ok, detail });
    process.stdout.write(checkLine({ name, ok, detail }));
  };
  const v = (h: string, k: string, d: string) => str(inv.hosts.get(h)?.vars[k], d);
  // Defaults from the variable catalogue, the ones the roles applied when they configured the hosts.
  const name = (h: string, k: 'verify_user' | 'mqtt_admin_user') => v(h, k, defaultOf(k));
  const portOf = (h: string, k: 'mqtt_tls_port' | 'mqtt_local_port' | 'exporter_port') => Number(v(h, k, String(defaultOf(k)))) || defaultOf(k);
  const secret = (h: string, k: string, name: string) => {
    const given = inv.hosts.get(h)?.vars[k];
    return given instanceof Secret ? given : typeof given === 'string' ? new Secret(given) : generatedSecret(inv.baseDir, name, true);
  };
  // During a CA rollover clients trust the bundle (src/pki/rotation.ts); so does verify.
  const pkiDir = join(inv.baseDir, v(settingsHost, 'pki_dir', DEFAULT_PKI_DIR));
  const caPath = existsSync(rotationPaths(pkiDir).bundle) ? rotationPaths(pkiDir).bundle : join(pkiDir, 'ca.crt');
  const ca = readFileSync(caPath);
  const defaults: ConnectionDefaults = { ...o.connection };
  if (o.askBecomePass) defaults.becomePassword = await askSecret('BECOME password: ');
  const transports = new Map<string, Transport>();
  const handshakes = o.sshHandshakes ? new Semaphore(o.sshHandshakes) : undefined;
  const connect = async (h: string) => {
    let t = transports.get(h);
    if (!t) {
      t = await SshTransport.connect(connectionSpecFor(inv.hosts.get(h) as InventoryHost, inv.files[0]!, process.env, defaults), {
        ...(o.knownHosts ? { knownHostsFile: o.knownHosts } : {}),
        acceptNewHostKeys: o.acceptNewHostKeys,
        ...(handshakes ? { handshakes } : {}),
      });
      transports.set(h, t);
    }
    return t;
  };
  try {
    // 1. TLS publish/subscribe through every load balancer (and the VIP), with the CA and the verify user.
    const vip = v(allLbs[0] ?? settingsHost, 'cluster_vip', '');
    const entryPoints = [...(allLbs.length ? lbs : brokers).map((h) => ({ label: h, address: v(h, 'ansible_host', h), servername: h })), ...(vip ? [{ label: 'VIP', address: vip.split('/')[0]!, servername: vip.split('/')[0]! }] : [])];
    const user = name(settingsHost, 'verify_user');
    const password = secret(settingsHost, 'verify_password', 'verify_password');
    const port = portOf(settingsHost, 'mqtt_tls_port');
    for (const ep of entryPoints) {
      try {
        const ms = await pubSubRoundTrip({ host: ep.address, port, ca, servername: ep.servername, username: user, password });
        record(`TLS publish/subscribe through ${ep.label} (${ep.address}:${port})`, true, `${ms} ms`);
      } catch (err) {
        record(`TLS publish/subscribe through ${ep.label} (${ep.address}:${port})`, false, (err as Error).message);
      }
    }
    // 2. Every broker UP in every load balancer's view.
    for (const lb of lbs) {
      try {
        const t = await connect(lb);
        const status = await backendServerStatus(t, HAPROXY_BACKEND_NAME);
        const states = [...status].map(([name, st]) => `${name}=${st}`);
        const down = states.filter((x) => !x.endsWith('=UP') && !x.endsWith('=no check'));
        const missing = allBrokers.filter((b) => !status.has(b));
        const rows = [...status.keys()];
        record(`HAProxy on ${lb} sees every broker UP`, down.length === 0 && missing.length === 0 && rows.length > 0, [...states, ...missing.map((m) => `${m}=MISSING`)].join(' '));
      } catch (err) {
        record(`HAProxy on ${lb} sees every broker UP`, false, (err as Error).message);
      }
    }
    // 3. Auth identical on every broker; 4. exporter metrics on every broker.
    const digests = new Map<string, string>();
    const exporterFreshness = async (b: string): Promise<[string, { ok: boolean; detail: string }]> => {
      try {
        const t = await connect(b);
        const facts = await gatherHostFacts(t);
        // Current, not only present: broker_uptime must increase within one $SYS interval (and some).
        const sysInterval = Number(v(b, 'sys_interval', String(defaultOf('sys_interval')))) || 10;
        return [b, { ok: true, detail: await exporterMetricsCurrent(() => scrapeBrokerUptime(t, facts.primaryAddress, portOf(b, 'exporter_port')), { withinMs: (sysInterval + 5) * 1000 }) }];
      } catch (err) {
        return [b, { ok: false, detail: (err as Error).message }];
      }
    };
    const freshness: Promise<[string, { ok: boolean; detail: string }]>[] = [];
    for (const b of brokers) {
      try {
        const t = await connect(b);
        const admin = { username: name(b, 'mqtt_admin_user'), password: secret(b, 'mqtt_admin_password', 'mqtt_admin_password') };
        const client = await ControlClient.connect({ stream: () => t.forward('127.0.0.1', portOf(b, 'mqtt_local_port')), ...admin, clientId: `provision-verify-${randomUUID().slice(0, 8)}` });
        try {
          const state = await readDynsecState(client);
          digests.set(b, createHash('sha256').update(JSON.stringify(normalize(state))).digest('hex').slice(0, 12));
        } finally {
          await client.close();
        }
      } catch (err) {
        record(`dynamic-security state readable on ${b}`, false, (err as Error).message);
      }
      // Started here, awaited below: each check may wait a $SYS interval, the brokers' waits overlap.
      freshness.push(exporterFreshness(b));
    }
    for (const [b, r] of await Promise.all(freshness)) record(`exporter metrics on ${b} are current`, r.ok, r.detail);
    if (digests.size) {
      const distinct = new Set(digests.values());
      record('authentication identical on every broker', distinct.size === 1 && digests.size === brokers.length, [...digests].map(([h, d]) => `${h}:${d}`).join(' '));
    }
    // 5. Bridged cluster: the tree's shape and delivery across brokers.
    const first = settingsHost;
    const routing = inv.hosts.get(first)?.vars.cluster_routing;
    const bridged = isBridged({
      cluster_mode: v(first, 'cluster_mode', 'active-passive') as 'active-active' | 'active-passive',
      cluster_backend: v(first, 'cluster_backend', 'open-source') as 'open-source' | 'cedalo',
      ...(routing === 'bridged' || routing === 'isolated' ? { cluster_routing: routing } : {}),
      mqtt_auth_backend: v(first, 'mqtt_auth_backend', 'dynsec'),
    });
    if (bridged && allBrokers.length > 1) {
      const reach: BridgeBroker[] = [];
      for (const b of allBrokers) {
        try {
          const t = await connect(b);
          reach.push({ name: b, address: (await gatherHostFacts(t)).primaryAddress, transport: t, localPort: Number(v(b, 'mqtt_local_port', '1883')) || 1883 });
        } catch (err) {
          record(`bridged cluster: ${b} reachable`, false, (err as Error).message);
        }
      }
      const admin = { username: v(first, 'mqtt_admin_user', 'provision-admin'), password: secret(first, 'mqtt_admin_password', 'mqtt_admin_password') };
      const verifyLogin = { username: user, password };
      for (const x of await verifyBridges({ brokers: reach, admin, verify: verifyLogin, bridgePort: Number(v(first, 'mqtt_bridge_port', '8884')) || 8884, topicRoot: 'provision/verify' })) record(x.name, x.ok, x.detail);
    }
    // 6. Days until each certificate expires: what each broker and load balancer presents on a fresh handshake, and the CAs.
    const renewBefore = Number(v(first, 'tls_renew_before_days', String(defaultOf('tls_renew_before_days')))) || defaultOf('tls_renew_before_days');
    const served = [...brokers.map((h) => ({ h, kind: 'broker', address: '127.0.0.1' })), ...lbs.map((h) => ({ h, kind: 'load balancer', address: v(h, 'ansible_host', h) }))];
    for (const x of served) {
      const label = `certificate of ${x.h} (${x.kind}, port ${portOf(x.h, 'mqtt_tls_port')})`;
      try {
        const t = await connect(x.h);
        // A broker beside HAProxy listens on loopback; HAProxy on the host's address: both reached from the host itself.
        const cert = await servedCertificate(await t.forward(x.address, portOf(x.h, 'mqtt_tls_port')), { servername: x.h });
        record(label, daysLeft(cert.notAfter) > 0, expiryDetail(cert.notAfter, renewBefore, cert.issuer));
      } catch (err) {
        record(label, false, (err as Error).message);
      }
    }
    for (const cert of pemCertificates(readFileSync(caPath, 'utf8')).map((p) => new X509Certificate(p))) {
      const notAfter = new Date(cert.validTo);
      record(`CA ${cert.subject.replace(/\n/g, ', ')}`, daysLeft(notAfter) > 0, expiryDetail(notAfter, 0, ''));
    }
  } finally {
    await Promise.all([...transports.values()].map((t) => t.close()));
  }
  const failed = checks.filter((x) => !x.ok);
  if (o.json) writeFileSync(o.json, `${JSON.stringify({ ok: failed.length === 0, checks }, null, 2)}\n`);
  process.stdout.write(checksSummary(checks));
  return failed.length ? 'failed' : 'ok';
}

/** The hosts a --limit selects; one that matches nothing is a bad option (exit 5), as for a run. */
function limitHosts(inv: Inventory, limit: string): string[] {
  try {
    return inv.selectHosts(limit);
  } catch (err) {
    throw new OptionsError(`--limit ${limit}: ${(err as Error).message}`);
  }
}

function expiryDetail(notAfter: Date, renewBefore: number, issuer: string): string {
  const d = daysLeft(notAfter);
  const when = `${d >= 0 ? `expires in ${d} days` : `EXPIRED ${-d} days ago`} (${notAfter.toISOString().slice(0, 10)})`;
  const from = issuer ? `, issued by ${issuer.replace(/\n/g, ', ')}` : '';
  return `${when}${from}${renewBefore && d >= 0 && d < renewBefore ? `; within tls_renew_before_days (${renewBefore}): the next run renews it` : ''}`;
}

function normalize(state: unknown): unknown {
  if (Array.isArray(state)) return state.map(normalize).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  if (state && typeof state === 'object') return Object.fromEntries(Object.entries(state).filter(([k]) => k !== 'textdescription').sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, normalize(x)]));
  return state;
}

async function pubSubRoundTrip(o: { host: string; port: number; ca: Buffer; servername: string; username: string; password: Secret }): Promise<number> {
  const topic = `provision/verify/${randomUUID()}`;
  const opts = { host: o.host, port: o.port, protocol: 'mqtts' as const, ca: o.ca, ...(isIP(o.servername) ? {} : { servername: o.servername }), username: o.username, password: o.password.reveal(), connectTimeout: 5000, reconnectPeriod: 0 };
  const sub = mqttConnect({ ...opts, clientId: `verify-sub-${randomUUID().slice(0, 8)}` });
  const pub = mqttConnect({ ...opts, clientId: `verify-pub-${randomUUID().slice(0, 8)}` });
  try {
    const started = Date.now();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no message back within 8 s')), 8000);
      const fail = (e: Error) => {
        clearTimeout(timer);
        reject(e);
      };
      sub.on('error', fail);
      pub.on('error', fail);
      sub.on('message', (t) => {
        if (t === topic) {
          clearTimeout(timer);
          resolve();
        }
      });
      sub.on('connect', () =>
        sub.subscribe(topic, { qos: 1 }, (err, granted) => {
          if (err || granted?.[0]?.qos === 128) return fail(new Error('subscription refused'));
          const send = () => pub.publish(topic, 'ping', { qos: 1 });
          if (pub.connected) send();
          else pub.once('connect', send);
        }),
      );
    });
    return Date.now() - started;
  } finally {
    sub.end(true);
    pub.end(true);
  }
}
