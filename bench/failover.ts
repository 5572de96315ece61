// Failover through the load balancer: a QoS 1 publisher at a steady rate and a subscriber, then
// (a) kill -9 of the serving broker, (b) a whole host powered off. Recovery time and lost messages.
// Usage: node dist/bench/failover.js [--reps 3] [--rate 10] [--keep]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostShell, sandboxDown, startHost, stopHost } from '../src/sandbox/index.js';
import { measureFailover, type FailoverResult } from '../test/support/failover.js';
import { haCluster, HA_SANDBOX } from './ha-cluster.js';
import { argValue, BENCH, log, machineDescription, must, PROJECT, stats, timed } from './lib.js';

async function main(): Promise<void> {
  const reps = Number(argValue('--reps', '3'));
  const rate = Number(argValue('--rate', '10'));
  const cluster = await haCluster('active-passive');
  const base = { host: cluster.address('lb1'), port: 8883, ca: cluster.ca, servername: 'lb1', username: cluster.user, password: cluster.password, ratePerSecond: rate, beforeMs: 3000, afterMs: 7000 };
  const runs: Record<'killBroker' | 'stopHost', FailoverResult[]> = { killBroker: [], stopHost: [] };
  const heal = async () => must(await timed(process.execPath, [join(PROJECT, 'bin', 'provision.js'), '-i', cluster.inventory, '-i', cluster.sb.inventoryPath, '--phase', 'runtime'], { env: { CI: '1' } }), 'heal');
  for (let r = 0; r < reps; r++) {
    // active-passive: mq1 serves while it is up.
    const k = await measureFailover({ ...base, topic: `provision/verify/fo/k${r}`, fault: async () => void (await hostShell(HA_SANDBOX, 'mq1', 'systemctl kill -s KILL mosquitto')) });
    runs.killBroker.push(k);
    log(`kill -9 mq1 broker: back after ${k.recoveryMs} ms, lost ${k.lost}/${k.sent} (window ${k.publishedInGap})`);
    await heal();
    const s = await measureFailover({ ...base, topic: `provision/verify/fo/s${r}`, fault: () => stopHost(HA_SANDBOX, 'mq1') });
    runs.stopHost.push(s);
    log(`power-off mq1: back after ${s.recoveryMs} ms, lost ${s.lost}/${s.sent} (window ${s.publishedInGap})`);
    await startHost(HA_SANDBOX, 'mq1');
    await heal();
  }
  const row = (name: string, xs: FailoverResult[]) => {
    const rec = stats(xs.map((x) => x.recoveryMs / 1000));
    const lost = stats(xs.map((x) => x.lost));
    return `| ${name} | ${rec.min.toFixed(2)} / ${rec.median.toFixed(2)} / ${rec.max.toFixed(2)} | ${lost.min} / ${lost.median} / ${lost.max} of ~${xs[0]!.sent} | ${xs.map((x) => `${x.lost}≤${x.publishedInGap}`).join(', ')} |`;
  };
  const table = [
    `| fault | subscriber back after (s, min / median / max) | QoS 1 messages lost (min / median / max) | lost ≤ published in the window, per run |`,
    `|---|---|---|---|`,
    row('kill -9 of the serving broker', runs.killBroker),
    row('power-off of the serving host', runs.stopHost),
  ].join('\n');
  console.log(table);
  mkdirSync(join(BENCH, 'results'), { recursive: true });
  writeFileSync(join(BENCH, 'results', `failover-${new Date().toISOString().slice(0, 10)}.json`), `${JSON.stringify({ reps, rate, machine: await machineDescription(), runs }, null, 2)}\n`);
  if (!process.argv.includes('--keep')) await sandboxDown({ name: HA_SANDBOX });
}

await main();
