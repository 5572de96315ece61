// `provision verify` for a bridged cluster: cross-node delivery (publish through each broker, receive on every
// other) and the tree's shape (each bridge's state on its own broker, and the parent it is connected to).
import { randomUUID } from 'node:crypto';
import { MqttClient } from 'mqtt';
import { bridgeClientId } from '../mosquitto/bridge.js';
import type { Secret } from '../secrets.js';
import type { Transport } from '../transport/types.js';

export interface BridgeBroker {
  name: string;
  /** The address other brokers' bridges dial (its primary address, as provision configured it). */
  address: string;
  transport: Transport;
  localPort: number;
}

export interface BridgeCheck {
  name: string;
  ok: boolean;
  detail: string;
}

type Login = { username: string; password: Secret };

/** An MQTT client on the broker's local listener, through its SSH connection (no port opened to the controller). */
async function localClient(b: BridgeBroker, login: Login, id: string): Promise<MqttClient> {
  const stream = await b.transport.forward('127.0.0.1', b.localPort);
  const client = new MqttClient(() => stream, { protocolVersion: 4, username: login.username, password: login.password.reveal(), clientId: id, reconnectPeriod: 0, connectTimeout: 5000, clean: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no CONNACK from ${b.name}'s local listener within 5 s`)), 5000);
    client.once('connect', () => (clearTimeout(timer), resolve()));
    client.once('error', (e) => (clearTimeout(timer), reject(e)));
  });
  client.on('error', () => {});
  return client;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The bridge state each broker keeps on itself: `$SYS/broker/connection/<id>/state` (retained, 1 = connected). */
async function bridgeState(b: BridgeBroker, admin: Login): Promise<string | undefined> {
  const c = await localClient(b, admin, `provision-verify-sys-${randomUUID().slice(0, 8)}`);
  try {
    let state: string | undefined;
    c.on('message', (_t, p) => (state = p.toString()));
    await c.subscribeAsync(`$SYS/broker/connection/${bridgeClientId(b.name)}/state`, { qos: 0 });
    await sleep(1000);
    return state;
  } finally {
    c.end(true);
  }
}

/** The broker this broker's bridge is connected to right now (its established TCP connection to the bridge port). */
async function parentAddress(b: BridgeBroker, bridgePort: number): Promise<string[]> {
  const r = await b.transport.script(`ss -Htn state established '( dport = :${bridgePort} )' 2>/dev/null | awk '{print $NF}'`);
  return r.stdout.split('\n').map((l) => l.trim().replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1')).filter(Boolean);
}

export async function verifyBridges(o: { brokers: BridgeBroker[]; admin: Login; verify: Login; bridgePort: number; topicRoot: string }): Promise<BridgeCheck[]> {
  const checks: BridgeCheck[] = [];
  const byAddress = new Map(o.brokers.map((b) => [b.address, b.name]));
  // Tree shape: every broker after the first has exactly one bridge, connected, to a broker before it.
  for (const [k, b] of o.brokers.entries()) {
    if (k === 0) continue;
    const earlier = o.brokers.slice(0, k).map((x) => x.name);
    try {
      const [state, peers] = await Promise.all([bridgeState(b, o.admin), parentAddress(b, o.bridgePort)]);
      const parents = peers.map((a) => byAddress.get(a) ?? a);
      const name = `bridge ${b.name} → ${earlier.join(' | ')}`;
      if (state !== '1' || parents.length === 0) checks.push({ name, ok: false, detail: `link down: ${b.name}'s bridge state ${state ?? 'unknown'}, connected to none of ${earlier.join(', ')}` });
      else if (parents.length > 1) checks.push({ name, ok: false, detail: `${b.name} holds ${parents.length} bridge connections (${parents.join(', ')}): not a tree` });
      else if (!earlier.includes(parents[0]!)) checks.push({ name, ok: false, detail: `${b.name} is bridged to ${parents[0]}, not to a broker before it` });
      else checks.push({ name, ok: parents[0] === earlier[0], detail: parents[0] === earlier[0] ? `connected to ${parents[0]}` : `connected to ${parents[0]}: the link to its primary ${earlier[0]} is down` });
    } catch (err) {
      checks.push({ name: `bridge ${b.name} → ${earlier.join(' | ')}`, ok: false, detail: (err as Error).message });
    }
  }
  // Cross-node delivery: one QoS 1 message through each broker, exactly one copy on every other.
  const run = randomUUID();
  const subs = new Map<string, MqttClient>();
  const got = new Map<string, Map<string, number>>();
  try {
    for (const b of o.brokers) {
      try {
        const c = await localClient(b, o.verify, `provision-verify-x-${randomUUID().slice(0, 8)}`);
        const seen = new Map<string, number>();
        got.set(b.name, seen);
        c.on('message', (t) => {
          const origin = t.split('/').pop()!;
          seen.set(origin, (seen.get(origin) ?? 0) + 1);
        });
        await c.subscribeAsync(`${o.topicRoot}/${run}/#`, { qos: 1 });
        subs.set(b.name, c);
      } catch (err) {
        checks.push({ name: `cross-node delivery to ${b.name}`, ok: false, detail: (err as Error).message });
      }
    }
    for (const b of o.brokers) {
      const c = subs.get(b.name);
      if (c) await c.publishAsync(`${o.topicRoot}/${run}/${b.name}`, 'cross-node probe', { qos: 1 });
    }
    await sleep(3000);
    for (const from of o.brokers) {
      if (!subs.has(from.name)) continue;
      const missing = o.brokers.filter((to) => to.name !== from.name && subs.has(to.name) && !got.get(to.name)?.get(from.name));
      const extra = o.brokers.filter((to) => (got.get(to.name)?.get(from.name) ?? 0) > 1);
      const others = o.brokers.filter((to) => to.name !== from.name && subs.has(to.name)).map((t) => t.name);
      checks.push({
        name: `cross-node delivery from ${from.name}`,
        ok: missing.length === 0 && extra.length === 0,
        detail: missing.length ? `not received on ${missing.map((m) => m.name).join(', ')}` : extra.length ? `more than one copy on ${extra.map((m) => m.name).join(', ')} (a loop?)` : `one copy on each of ${others.join(', ')}`,
      });
    }
  } finally {
    for (const c of subs.values()) c.end(true);
  }
  return checks;
}
