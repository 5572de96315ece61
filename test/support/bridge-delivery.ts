// Delivery across a bridged cluster, counted per copy: what a cycle (copies > 1), a missing link (0 copies)
// or a re-parenting window (a gap in a steady flow) looks like to real MQTT clients on each broker.
import type { MqttClient } from 'mqtt';
import { connectTls, endClient, type Login } from './broker-checks.js';

export interface BrokerEndpoint {
  name: string;
  address: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function subscribers(brokers: BrokerEndpoint[], ca: Buffer, login: Login, filter: string, onMessage: (at: string, topic: string, payload: string) => void): Promise<MqttClient[]> {
  const subs: MqttClient[] = [];
  for (const b of brokers) {
    const c = await connectTls({ address: b.address, servername: b.name, ca }, login);
    c.on('message', (topic, payload) => onMessage(b.name, topic, payload.toString()));
    const granted = await c.subscribeAsync(filter, { qos: 1 });
    if (granted.some((g) => g.qos === 128)) throw new Error(`subscription to ${filter} refused on ${b.name}`);
    subs.push(c);
  }
  return subs;
}

export interface Matrix {
  /** copies[receiver][origin] = how many copies of each message arrived, summed; exact when every message came once. */
  copies: Record<string, Record<string, number[]>>;
  /** Largest number of copies of one message at one broker (1 = exactly once; a cycle shows as >> 1). */
  maxCopies: number;
  missing: number;
  duplicates: number;
}

/**
 * Every broker publishes `n` QoS 1 messages; a subscriber on every broker counts the copies of each one,
 * listening `settleMs` after the last publish so late copies a loop would produce are counted too.
 */
export async function deliveryMatrix(brokers: BrokerEndpoint[], ca: Buffer, login: Login, o: { topic: string; n: number; settleMs?: number }): Promise<Matrix> {
  const copies: Matrix['copies'] = {};
  for (const r of brokers) copies[r.name] = Object.fromEntries(brokers.map((b) => [b.name, new Array<number>(o.n).fill(0)]));
  const subs = await subscribers(brokers, ca, login, `${o.topic}/#`, (at, _t, payload) => {
    const [origin, i] = payload.split(':');
    const row = copies[at]?.[origin!];
    if (row && Number(i) < o.n) row[Number(i)]!++;
  });
  const pubs: MqttClient[] = [];
  try {
    for (const b of brokers) pubs.push(await connectTls({ address: b.address, servername: b.name, ca }, login));
    await Promise.all(pubs.map(async (p, k) => {
      for (let i = 0; i < o.n; i++) await p.publishAsync(`${o.topic}/${brokers[k]!.name}`, `${brokers[k]!.name}:${i}`, { qos: 1 });
    }));
    await sleep(o.settleMs ?? 4000);
  } finally {
    await Promise.all([...subs, ...pubs].map(endClient));
  }
  const all = Object.values(copies).flatMap((row) => Object.values(row).flat());
  return { copies, maxCopies: Math.max(...all), missing: all.filter((c) => c === 0).length, duplicates: all.reduce((s, c) => s + Math.max(0, c - 1), 0) };
}

/** Until a message published on `from` arrives on `to` (probes every 200 ms); the time it took. */
export async function timeUntilDelivered(from: BrokerEndpoint, to: BrokerEndpoint, ca: Buffer, login: Login, topic: string, timeoutMs = 60_000): Promise<number> {
  const started = Date.now();
  let done = false;
  const sub = await connectTls({ address: to.address, servername: to.name, ca }, login);
  const pub = await connectTls({ address: from.address, servername: from.name, ca }, login);
  try {
    const arrived = new Promise<void>((resolve) => sub.on('message', () => resolve()));
    await sub.subscribeAsync(topic, { qos: 1 });
    const probing = (async () => {
      while (!done && Date.now() - started < timeoutMs) {
        pub.publish(topic, 'probe', { qos: 0 });
        await sleep(200);
      }
    })();
    const ok = await Promise.race([arrived.then(() => true), sleep(timeoutMs).then(() => false)]);
    done = true;
    await probing;
    if (!ok) throw new Error(`nothing from ${from.name} reached ${to.name} within ${timeoutMs} ms`);
    return Date.now() - started;
  } finally {
    done = true;
    await Promise.all([endClient(sub), endClient(pub)]);
  }
}

export interface Flow {
  sent: number;
  /** Per receiving broker: messages never seen, and extra copies. */
  perReceiver: Record<string, { lost: number; duplicates: number; maxCopies: number }>;
}

/** A steady QoS 1 flow from `from` (rate per second) seen by subscribers on `to`, with `during` run in the middle. */
export async function steadyFlow(from: BrokerEndpoint, to: BrokerEndpoint[], ca: Buffer, login: Login, o: { topic: string; ratePerSecond: number; beforeMs: number; afterMs: number; during: () => Promise<void> }): Promise<Flow> {
  const seen: Record<string, Map<number, number>> = Object.fromEntries(to.map((b) => [b.name, new Map<number, number>()]));
  const subs = await subscribers(to, ca, login, o.topic, (at, _t, payload) => {
    const m = seen[at]!;
    m.set(Number(payload), (m.get(Number(payload)) ?? 0) + 1);
  });
  const pub = await connectTls({ address: from.address, servername: from.name, ca }, login);
  let n = 0;
  const timer = setInterval(() => pub.publish(o.topic, String(n++), { qos: 1 }), 1000 / o.ratePerSecond);
  try {
    await sleep(o.beforeMs);
    await o.during();
    await sleep(o.afterMs);
  } finally {
    clearInterval(timer);
    await sleep(3000);
    await Promise.all([...subs, pub].map(endClient));
  }
  const perReceiver: Flow['perReceiver'] = {};
  for (const [name, m] of Object.entries(seen)) {
    const counts = Array.from({ length: n }, (_, i) => m.get(i) ?? 0);
    perReceiver[name] = { lost: counts.filter((c) => c === 0).length, duplicates: counts.reduce((s, c) => s + Math.max(0, c - 1), 0), maxCopies: Math.max(0, ...counts) };
  }
  return { sent: n, perReceiver };
}
