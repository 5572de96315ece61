// The bridged active-active cluster (3 brokers, mq2 and mq3 bridged to mq1), all figures in one run:
// (1) delivery latency p50/p99 same-node vs cross-node (one hop mq2→mq1, two hops mq2→mq1→mq3) at QoS 0 and 1,
// (2) throughput same-node vs cross-node at QoS 0 and 1, (3) loss and time to recover when the root's broker is
// killed (kill -9; restarted by systemd, or kept down) under a steady QoS 1 flow mq3 → mq2 (through the root).
// Usage: node dist/bench/bridged.js [--reps 3] [--seconds 6] [--keep]   (sandbox "m-bench")
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { hostShell, sandboxDown, sandboxUp, type Sandbox } from '../src/sandbox/index.js';
import { connectTls, endClient } from '../test/support/broker-checks.js';
import { timeUntilDelivered } from '../test/support/bridge-delivery.js';
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
  return { rate: Math.round(rate), sent, received, notYetDelivered3sAfterStop: sent - received };
}

/**
 * Until the tree is the primary one (mq2 and mq3 both connected to mq1: after a kill, mq3 first sits on mq2 and
 * moves back later) and fresh probes cross mq2 → mq1, mq2 → mq3 and mq3 → mq2: the bridges are up and any
 * backlog ahead of the probes has drained.
 */
async function settled(c: Cluster, tag: string): Promise<number> {
  const ep = (h: string) => ({ name: h, address: c.sb.hosts.find((x) => x.name === h)!.address });
  const t0 = Date.now();
  const root = `${ep('mq1').address}:8884`;
  for (;;) {
    const parents = await Promise.all(['mq2', 'mq3'].map(async (h) => (await hostShell(SB, h, "ss -Htn state established '( dport = :8884 )' | awk '{print $NF}'")).stdout.trim()));
    if (parents.every((p) => p === root)) break;
    if (Date.now() - t0 > 120_000) throw new Error(`the tree did not return to mq1: ${parents.join(', ')}`);
    await sleep(500);
  }
  for (const [from, to] of [['mq2', 'mq1'], ['mq2', 'mq3'], ['mq3', 'mq2']] as const) await timeUntilDelivered(ep(from), ep(to), c.ca, c.login, `provision/verify/settle-${tag}-${from}-${to}`, 120_000);
  return Date.now() - t0;
}

/**
 * A QoS 1 flow mq3 → subscriber on mq2 (through the root mq1) at `rate`/s, then kill -9 of mq1's broker:
 * `restarts` = as Debian's unit does (Restart=on-failure brings it back), else kept down (a runtime drop-in
 * Restart=no) so the tree must re-form without the root. Recovery = from the kill to the end of the first
 * silence at the subscriber; every silence is recorded; lost = never received.
 */
async function killRoot(c: Cluster, rate: number, topic: string, restarts: boolean) {
  const copies = new Map<number, number>();
  const recvAt: number[] = [];
  const sub = await connect(c, 'mq2');
  sub.on('message', (_t, p) => {
    const i = Number(p.toString());
    copies.set(i, (copies.get(i) ?? 0) + 1);
    recvAt.push(nowMs());
  });
  await sub.subscribeAsync(topic, { qos: 1 });
  await sleep(1000);
  const pub = await connect(c, 'mq3');
  let n = 0;
  const timer = setInterval(() => pub.publish(topic, String(n++), { qos: 1 }), 1000 / rate);
  await sleep(3000);
  if (!restarts) await hostShell(SB, 'mq1', "mkdir -p /run/systemd/system/mosquitto.service.d && printf '[Service]\\nRestart=no\\n' > /run/systemd/system/mosquitto.service.d/bench.conf && systemctl daemon-reload");
  const killedAt = nowMs();
  await hostShell(SB, 'mq1', 'systemctl kill -s KILL mosquitto');
  await sleep(restarts ? 10_000 : 25_000);
  clearInterval(timer);
  await sleep(3000);
  await Promise.all([sub, pub].map(endClient));
  const parent = (await hostShell(SB, 'mq3', "ss -Htn state established '( dport = :8884 )' | awk '{print $NF}'")).stdout.trim();
  if (!restarts) await hostShell(SB, 'mq1', 'rm -f /run/systemd/system/mosquitto.service.d/bench.conf && systemctl daemon-reload && systemctl start mosquitto');
  // Silences at the subscriber after the kill (over 300 ms; the flow sends every 50 ms): the first is the loss of
  // the root, a later one is a bridge moving back to its primary (failback).
  const after = [killedAt, ...recvAt.filter((t) => t > killedAt)];
  const gaps: { atMs: number; ms: number }[] = [];
  for (let k = 1; k < after.length; k++) if (after[k]! - after[k - 1]! > 300) gaps.push({ atMs: Math.round(after[k - 1]! - killedAt), ms: Math.round(after[k]! - after[k - 1]!) });
  const counts = Array.from({ length: n }, (_, i) => copies.get(i) ?? 0);
  return { sent: n, lost: counts.filter((x) => x === 0).length, duplicates: counts.reduce((a, x) => a + Math.max(0, x - 1), 0), recoveryMs: gaps[0] ? gaps[0].atMs + gaps[0].ms : 0, gaps, mq3ParentAfter: parent };
}

async function main(): Promise<void> {
  const reps = Number(argValue('--reps', '3'));
  const seconds = Number(argValue('--seconds', '6'));
  const c = await cluster();
  const out: Record<string, unknown[]> = { latency0: [], latency1: [], tput0same: [], tput0cross: [], tput1same: [], tput1cross: [], killRestarts: [], killStaysDown: [], settleMs: [] };
  const heal = async () => must(await timed(process.execPath, [join(PROJECT, 'bin', 'provision.js'), '-i', c.inventory, '-i', c.sb.inventoryPath, '--phase', 'runtime'], { env: { CI: '1' } }), 'heal');
  const settle = async (tag: string) => out.settleMs!.push(await settled(c, tag));
  for (let r = 0; r < reps; r++) {
    await settle(`r${r}`);
    for (const q of [0, 1] as const) {
      const l = await latency(c, q, 1000, 200, `provision/verify/lat${q}-${r}`);
      out[`latency${q}`]!.push(l);
      log(`QoS ${q} latency: ${JSON.stringify(l)}`);
    }
    for (const q of [0, 1] as const) {
      for (const [k, to] of [['same', 'mq2'], ['cross', 'mq1']] as const) {
        const t = await throughput(c, q, to, seconds, `provision/verify/tp${q}-${k}-${r}`);
        out[`tput${q}${k}`]!.push(t);
        log(`QoS ${q} throughput ${k} (mq2 → ${to}): ${JSON.stringify(t)}`);
        await settle(`tp${q}${k}${r}`); // the bridge's backlog drains before the next figure
      }
    }
    for (const restarts of [true, false]) {
      const k = await killRoot(c, 20, `provision/verify/kill-${restarts ? 'r' : 'd'}-${r}`, restarts);
      out[restarts ? 'killRestarts' : 'killStaysDown']!.push(k);
      log(`kill -9 root (${restarts ? 'systemd restarts it' : 'kept down'}): ${JSON.stringify(k)}`);
      await heal();
      await settle(`kill${r}${restarts}`);
    }
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
  type K = { lost: number; sent: number; duplicates: number; recoveryMs: number; gaps: { atMs: number; ms: number }[] };
  lines.push('', '| fault (flow mq3 → subscriber on mq2 through the root, QoS 1, 20 msg/s) | delivery back after (s, min / median / max) | later silences, per run | lost, per run | duplicates (median) |', '|---|---|---|---|---|');
  for (const [key, label] of [['killRestarts', 'kill -9 of the root broker mq1, systemd restarts it (Debian: Restart=on-failure)'], ['killStaysDown', 'kill -9 of the root broker mq1, kept down (mq3 re-parents to mq2)']] as const) {
    const kr = out[key] as K[];
    const later = kr.map((x) => x.gaps.slice(1).map((g) => `${(g.ms / 1000).toFixed(1)} s at +${(g.atMs / 1000).toFixed(1)} s`).join(', ') || 'none');
    lines.push(`| ${label} | ${f(stats(kr.map((x) => x.recoveryMs / 1000)), 2)} | ${later.join('; ')} | ${kr.map((x) => x.lost).sort((a, b) => a - b).join(' / ')} of ~${kr[0]!.sent} | ${stats(kr.map((x) => x.duplicates)).median} |`);
  }
  console.log(lines.join('\n'));
  mkdirSync(join(BENCH, 'results'), { recursive: true });
  writeFileSync(join(BENCH, 'results', `bridged-${new Date().toISOString().slice(0, 10)}.json`), `${JSON.stringify({ reps, seconds, machine: await machineDescription(), out }, null, 2)}\n`);
  if (!process.argv.includes('--keep')) await sandboxDown({ name: SB });
}

await main();
