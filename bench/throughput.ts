// Throughput through the load balancer vs straight to one broker, side by side in one run.
// N publishers → N subscribers (pairs on their own topic), 256-byte payloads, QoS 0 and QoS 1, over TLS.
// Usage: node dist/bench/throughput.js [--pairs 4] [--seconds 8] [--reps 3] [--keep]
import { connect, type MqttClient } from 'mqtt';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sandboxDown } from '../src/sandbox/index.js';
import { haCluster, HA_SANDBOX } from './ha-cluster.js';
import { argValue, BENCH, log, machineDescription, stats, type Stats } from './lib.js';

interface Target {
  label: string;
  host: string;
  servername: string;
}

const PAYLOAD = Buffer.alloc(256, 0x61);

async function open(t: Target, o: { ca: Buffer; user: string; password: string }, id: string): Promise<MqttClient> {
  const c = connect({ host: t.host, port: 8883, protocol: 'mqtts', ca: o.ca, servername: t.servername, username: o.user, password: o.password, clientId: id, reconnectPeriod: 0, connectTimeout: 5000 });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  return c;
}

/** Messages per second received by all subscribers together during `seconds`. */
async function measure(t: Target, qos: 0 | 1, pairs: number, seconds: number, auth: { ca: Buffer; user: string; password: string }): Promise<number> {
  const run = `${Date.now().toString(36)}`;
  const subs = await Promise.all(Array.from({ length: pairs }, (_, i) => open(t, auth, `tp-sub-${run}-${i}`)));
  const pubs = await Promise.all(Array.from({ length: pairs }, (_, i) => open(t, auth, `tp-pub-${run}-${i}`)));
  let received = 0;
  let counting = false;
  await Promise.all(
    subs.map(
      (s, i) =>
        new Promise<void>((resolve, reject) => {
          s.on('message', () => counting && received++);
          s.subscribe(`provision/verify/tp/${run}/${i}`, { qos }, (err) => (err ? reject(err) : resolve()));
        }),
    ),
  );
  let stop = false;
  // Each publisher keeps a bounded window in flight: QoS 1 waits for PUBACKs, QoS 0 for the socket to drain.
  const loops = pubs.map(async (p, i) => {
    const topic = `provision/verify/tp/${run}/${i}`;
    const window = qos === 1 ? 64 : 256;
    let inflight = 0;
    while (!stop) {
      if (inflight >= window) {
        await new Promise((r) => setImmediate(r));
        continue;
      }
      inflight++;
      p.publish(topic, PAYLOAD, { qos }, () => inflight--);
      if (qos === 0 && inflight % 32 === 0) await new Promise((r) => setImmediate(r));
    }
  });
  await new Promise((r) => setTimeout(r, 1000)); // warm-up
  counting = true;
  const started = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  counting = false;
  const elapsed = (performance.now() - started) / 1000;
  stop = true;
  await Promise.all(loops);
  for (const c of [...subs, ...pubs]) c.end(true);
  return received / elapsed;
}

async function main(): Promise<void> {
  const pairs = Number(argValue('--pairs', '4'));
  const seconds = Number(argValue('--seconds', '8'));
  const reps = Number(argValue('--reps', '3'));
  const cluster = await haCluster('active-passive');
  const auth = { ca: cluster.ca, user: cluster.user, password: cluster.password };
  // active-passive: the load balancer sends everything to mq1, so "direct" is mq1 itself.
  const direct: Target = { label: 'direct to mq1', host: cluster.address('mq1'), servername: 'mq1' };
  const viaLb: Target = { label: 'through lb1', host: cluster.address('lb1'), servername: 'lb1' };
  const results: Record<string, Record<string, number[]>> = { qos0: { direct: [], lb: [] }, qos1: { direct: [], lb: [] } };
  for (let r = 0; r < reps; r++)
    for (const qos of [0, 1] as const) {
      // Alternate the order per repetition so drift on a noisy machine hits both alike.
      const order = r % 2 === 0 ? [direct, viaLb] : [viaLb, direct];
      for (const t of order) {
        const rate = await measure(t, qos, pairs, seconds, auth);
        results[`qos${qos}`]![t === direct ? 'direct' : 'lb']!.push(rate);
        log(`rep ${r + 1} qos${qos} ${t.label}: ${Math.round(rate)} msg/s`);
      }
    }
  const fmt = (s: Stats) => `${Math.round(s.min)} / ${Math.round(s.median)} / ${Math.round(s.max)}`;
  const lines = [
    `| QoS | direct to one broker (msg/s, min / median / max) | through HAProxy | ratio (median) |`,
    `|---|---|---|---|`,
  ];
  for (const q of ['qos0', 'qos1']) {
    const d = stats(results[q]!.direct!);
    const l = stats(results[q]!.lb!);
    lines.push(`| ${q.slice(3)} | ${fmt(d)} | ${fmt(l)} | ${((l.median / d.median) * 100).toFixed(0)} % |`);
  }
  const machine = await machineDescription();
  const table = lines.join('\n');
  console.log(table);
  mkdirSync(join(BENCH, 'results'), { recursive: true });
  writeFileSync(join(BENCH, 'results', `throughput-${new Date().toISOString().slice(0, 10)}.json`), `${JSON.stringify({ pairs, seconds, reps, machine, results }, null, 2)}\n`);
  if (!process.argv.includes('--keep')) await sandboxDown({ name: HA_SANDBOX });
}

await main();
