// The bridged active-active cluster (3 brokers, mq2 and mq3 bridged to mq1), all figures in one run:
// (1) delivery latency p50/p99 same-node vs cross-node (one hop mq2→mq1, two hops mq2→mq1→mq3) at QoS 0 and 1,
// (2) throughput same-node vs cross-node at QoS 0 and 1, (3) loss and time to recover when the root's broker is
// killed (kill -9) under a steady QoS 1 flow mq3 → mq2 (through the root).
// Usage: node dist/bench/bridged.js [--reps 3] [--seconds 6] [--keep]   (sandbox "m-bench")
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { hostShell, sandboxDown, sandboxUp, type Sandbox } from '../src/sandbox/index.js';
import { connectTls, endClient } from '../test/support/broker-checks.js';
import { makeExporterGitRepo } from '../test/support/exporter-fixture.js';
import { argValue, BENCH, log, machineDescription, must, PROJECT, stats, timed } from './lib.js';

const SB = 'm-bench';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

interface Cluster {
  sb: Sandbox;
  ca: Buffer;
  login: { username: string; password: string };
  inventory: string;
}

async function cluster(): Promise<Cluster> {
  const sb = await sandboxUp({ name: SB, count: 3, prefix: 'mq' });
  const dir = join(sb.stateDir, 'cluster');
  mkdirSync(dir, { recursive: true });
  const repo = await makeExporterGitRepo(join(dir, 'exporter-src'));
  const inventory = join(dir, 'hosts.yaml');
  writeFileSync(
    inventory,
    `all:
  vars:
    cluster_mode: active-active
    cluster_routing: bridged
    max_queued_messages: 100000
    exporter_repo_url: ${repo.url}
  children:
    brokers:
      hosts: { mq1: {}, mq2: {}, mq3: {} }
`,
  );
  log(`provisioning ${SB} (bridged active-active) …`);
  must(await timed(process.execPath, [join(PROJECT, 'bin', 'provision.js'), '-i', inventory, '-i', sb.inventoryPath], { env: { CI: '1' } }), 'provision');
  return { sb, inventory, ca: readFileSync(join(dir, 'pki', 'ca.crt')), login: { username: 'provision-verify', password: readFileSync(join(dir, 'secrets', 'verify_password'), 'utf8').trim() } };
}

const connect = (c: Cluster, host: string) => connectTls({ address: c.sb.hosts.find((h) => h.name === host)!.address, servername: host, ca: c.ca }, c.login);

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

/** N messages at `rate`/s from mq2, timestamped; subscribers on mq2 (same node), mq1 (1 hop), mq3 (2 hops). */
async function latency(c: Cluster, qos: 0 | 1, n: number, rate: number, topic: string) {
  const at: Record<string, number[]> = { mq2: [], mq1: [], mq3: [] };
  const subs: MqttClient[] = [];
  for (const h of Object.keys(at)) {
    const s = await connect(c, h);
    s.on('message', (_t, p) => at[h]!.push(nowMs() - Number(p.toString())));
    await s.subscribeAsync(topic, { qos });
    subs.push(s);
  }
  await sleep(1000); // the bridges forward the new subscription's messages from the next publish on
  const pub = await connect(c, 'mq2');
  for (let i = 0; i < n; i++) {
    pub.publish(topic, String(nowMs()), { qos });
    await sleep(1000 / rate);
  }
  await sleep(3000);
  await Promise.all([...subs, pub].map(endClient));
  return Object.fromEntries(Object.entries(at).map(([h, xs]) => [h, { received: xs.length, p50: percentile(xs, 50), p99: percentile(xs, 99) }]));
}

/** As many messages as go, `window` in flight, for `seconds` from mq2; received per second at one subscriber on `to`. */
async function throughput(c: Cluster, qos: 0 | 1, to: string, seconds: number, topic: string) {
  const sub = await connect(c, to);
  let received = 0;
  sub.on('message', () => received++);
  await sub.subscribeAsync(topic, { qos });
  await sleep(1000);
  const pub = await connect(c, 'mq2');
  const payload = Buffer.alloc(256, 120);
  let sent = 0;
  let stop = false;
  const pump = () => {
    if (stop) return;
    sent++;
    pub.publish(topic, payload, { qos }, pump);
  };
  for (let i = 0; i < 100; i++) pump();
  await sleep(1000); // warm-up
  const r0 = received;
  const t0 = nowMs();
  await sleep(seconds * 1000);
  const rate = ((received - r0) * 1000) / (nowMs() - t0);
  stop = true;
  await sleep(3000);
  await Promise.all([sub, pub].map(endClient));
  return { rate: Math.round(rate), sent, received, notDelivered: sent - received };
}

/** A QoS 1 flow mq3 → subscriber on mq2 (through the root mq1) at `rate`/s; kill -9 of mq1's broker. */
async function killRoot(c: Cluster, rate: number, topic: string) {
  const seen = new Map<number, number>();
  const sub = await connect(c, 'mq2');
  sub.on('message', (_t, p) => {
    const i = Number(p.toString());
    if (!seen.has(i)) seen.set(i, nowMs());
  });
  await sub.subscribeAsync(topic, { qos: 1 });
  await sleep(1000);
  const pub = await connect(c, 'mq3');
  let n = 0;
  const sentAt: number[] = [];
  const timer = setInterval(() => {
    sentAt.push(nowMs());
    pub.publish(topic, String(n++), { qos: 1 });
  }, 1000 / rate);
  await sleep(3000);
  const killedAt = nowMs();
  await hostShell(SB, 'mq1', 'systemctl kill -s KILL mosquitto');
  await sleep(15_000);
  clearInterval(timer);
  await sleep(3000);
  await Promise.all([sub, pub].map(endClient));
  const after = [...seen.entries()].filter(([i]) => sentAt[i]! > killedAt).sort((a, b) => a[1] - b[1]);
  const lost = Array.from({ length: n }, (_, i) => i).filter((i) => !seen.has(i)).length;
  const parent = await hostShell(SB, 'mq3', "ss -Htn state established '( dport = :8884 )' | awk '{print $NF}'");
  return { sent: n, lost, recoveryMs: after.length ? Math.round(after[0]![1] - killedAt) : null, mq3ParentAfter: parent.stdout.trim() };
}

async function main(): Promise<void> {
  const reps = Number(argValue('--reps', '3'));
  const seconds = Number(argValue('--seconds', '6'));
  const c = await cluster();
  const out: Record<string, unknown[]> = { latency0: [], latency1: [], tput0same: [], tput0cross: [], tput1same: [], tput1cross: [], killRoot: [] };
  const heal = async () => must(await timed(process.execPath, [join(PROJECT, 'bin', 'provision.js'), '-i', c.inventory, '-i', c.sb.inventoryPath, '--phase', 'runtime'], { env: { CI: '1' } }), 'heal');
  for (let r = 0; r < reps; r++) {
    for (const q of [0, 1] as const) {
      const l = await latency(c, q, 1000, 200, `provision/verify/lat${q}-${r}`);
      out[`latency${q}`]!.push(l);
      log(`QoS ${q} latency: ${JSON.stringify(l)}`);
      for (const [k, to] of [['same', 'mq2'], ['cross', 'mq1']] as const) {
        const t = await throughput(c, q, to, seconds, `provision/verify/tp${q}-${k}-${r}`);
        out[`tput${q}${k}`]!.push(t);
        log(`QoS ${q} throughput ${k} (mq2 → ${to}): ${JSON.stringify(t)}`);
      }
    }
    const k = await killRoot(c, 20, `provision/verify/kill-${r}`);
    out.killRoot!.push(k);
    log(`kill -9 root: ${JSON.stringify(k)}`);
    // systemd does not restart a killed mosquitto (Debian's unit has no Restart=): bring it back, let the tree return.
    await heal();
    await sleep(10_000);
  }
  type L = Record<string, { p50: number; p99: number; received: number }>;
  const lat = (q: 0 | 1, h: string, k: 'p50' | 'p99') => stats((out[`latency${q}`] as L[]).map((x) => x[h]![k]));
  const f = (s: { min: number; median: number; max: number }, d = 1) => `${s.min.toFixed(d)} / ${s.median.toFixed(d)} / ${s.max.toFixed(d)}`;
  const tp = (key: string) => stats((out[key] as { rate: number }[]).map((x) => x.rate));
  const lines = [
    '| QoS | path | latency p50 ms (min / median / max) | latency p99 ms | throughput msg/s (min / median / max) |',
    '|---|---|---|---|---|',
  ];
  for (const q of [0, 1] as const) {
    lines.push(`| ${q} | same node (mq2 → mq2) | ${f(lat(q, 'mq2', 'p50'))} | ${f(lat(q, 'mq2', 'p99'))} | ${f(tp(`tput${q}same`), 0)} |`);
    lines.push(`| ${q} | cross node, 1 hop (mq2 → mq1) | ${f(lat(q, 'mq1', 'p50'))} | ${f(lat(q, 'mq1', 'p99'))} | ${f(tp(`tput${q}cross`), 0)} |`);
    lines.push(`| ${q} | cross node, 2 hops (mq2 → mq1 → mq3) | ${f(lat(q, 'mq3', 'p50'))} | ${f(lat(q, 'mq3', 'p99'))} | |`);
  }
  const kr = out.killRoot as { lost: number; sent: number; recoveryMs: number | null }[];
  const rec = stats(kr.map((x) => (x.recoveryMs ?? NaN) / 1000));
  const lost = stats(kr.map((x) => x.lost));
  lines.push('', '| fault | cross-node delivery back after (s, min / median / max) | QoS 1 messages lost (min / median / max) |', '|---|---|---|');
  lines.push(`| kill -9 of the root broker mq1, flow mq3 → mq2 at 20 msg/s | ${f(rec, 2)} | ${lost.min} / ${lost.median} / ${lost.max} of ~${kr[0]!.sent} |`);
  console.log(lines.join('\n'));
  mkdirSync(join(BENCH, 'results'), { recursive: true });
  writeFileSync(join(BENCH, 'results', `bridged-${new Date().toISOString().slice(0, 10)}.json`), `${JSON.stringify({ reps, seconds, machine: await machineDescription(), out }, null, 2)}\n`);
  if (!process.argv.includes('--keep')) await sandboxDown({ name: SB });
}

await main();
