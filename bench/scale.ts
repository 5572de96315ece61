// Scale benchmark of the full broker job's no-op (issue 13 goal 2): how wall time, controller CPU, controller
// memory and round trips grow from 1 to 100 hosts. One sandbox grows through the sizes (1, 3, 10, 30, 100 by
// default); at each size the new hosts are converged (untimed), then the no-op runs `--reps` times. Variants
// (`--variants default,forks=10,handshakes=30`) are alternated inside each repetition, so their ratios come from one
// run on the same hosts.
//
//   npx tsc -p tsconfig.json && node dist/bench/scale.js [--sizes 1,3,10,30,100] [--reps 3] [--variants default]
//                                                         [--keep] [--work DIR of a --keep run] [--sandbox scale]
//
// Controller CPU and peak memory come from GNU time around the provision process (Node start included); round
// trips and the connect step from provision's --json. Raw figures: bench/results/scale-<date>.json.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXPORTER_FIXTURE_REF } from '../src/exporter/stand-in-repo.js';
import type { RunReport } from '../src/engine/records.js';
import { sandboxDown, sandboxUp } from '../src/sandbox/index.js';
import { BENCH, argValue, benchExporter, brokersPlaybook, fmt, fmtStats, log, machineDescription, must, provisionArgs, stats, timed } from './lib.js';

const sizes = argValue('--sizes', '1,3,10,30,100').split(',').map(Number);
const reps = Number(argValue('--reps', '3'));
const keep = process.argv.includes('--keep');
const SANDBOX_NAME = argValue('--sandbox', 'scale');
/** A variant is provision's defaults or one setting changed: `forks=N`, `handshakes=N` (--ssh-handshakes N). */
const variants = argValue('--variants', 'default').split(',');
/** Converging runs (untimed) bound their forks: the sandbox's one apt proxy serves every host. */
const convergeForks = argValue('--converge-forks', '20');

/** CPU seconds the whole machine has been busy (all cores, /proc/stat): controller + every sandbox host. */
function machineBusySeconds(): number {
  const [, ...f] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const [user, nice, system, , , irq, softirq, steal] = f.map(Number); // idle and iowait are not busy
  return (user! + nice! + system! + irq! + softirq! + steal!) / 100; // USER_HZ = 100 on Linux
}

interface Sample {
  wall: number;
  /** CPU seconds of the whole machine during the run, and what is left of them after the controller's. */
  machineCpuSeconds: number;
  hostsCpuSeconds: number;
  engineMs: number;
  cpuSeconds: number;
  maxRssMb: number;
  roundTrips: number[];
  changed: number;
}
interface Row {
  hosts: number;
  variant: string;
  samples: Sample[];
}

function variantArgs(v: string): { args: string[]; env: Record<string, string> } {
  if (v === 'default') return { args: [], env: {} };
  const [k, n] = v.split('=');
  if (k === 'forks') return { args: ['--forks', n!], env: {} };
  if (k === 'handshakes') return { args: ['--ssh-handshakes', n!], env: {} };
  throw new Error(`unknown variant ${v} (default, forks=N, handshakes=N)`);
}

async function main(): Promise<void> {
  const machine = await machineDescription();
  // --work DIR reuses a previous run's directory (its inventory, CA and passwords) on a sandbox kept with --keep.
  const work = argValue('--work', '') || mkdtempSync(join(tmpdir(), 'provision-bench-scale-'));
  mkdirSync(work, { recursive: true });
  log(`work dir ${work}; sizes ${sizes.join(',')}; ${reps} repetitions; variants ${variants.join(', ')}`);
  const { repo } = await benchExporter(work);
  const playbook = brokersPlaybook(work);
  const rows: Row[] = [];
  let failure: unknown;
  try {
    for (const n of sizes) {
      const names = Array.from({ length: n }, (_, i) => `node${i + 1}`);
      const dir = join(work, `n${n}`);
      mkdirSync(dir, { recursive: true });
      // One inventory file for every size: the CA, the host certificates and the generated passwords live beside
      // it, and the hosts converged at a smaller size must keep them.
      const inv = join(work, 'hosts.yaml');
      writeFileSync(inv, `all:\n  vars:\n    exporter_repo_url: ${repo.url}\n    exporter_ref: ${EXPORTER_FIXTURE_REF}\n  children:\n    brokers:\n      hosts:\n${names.map((h) => `        ${h}: {}\n`).join('')}`);
      const upStarted = Date.now();
      const sb = await sandboxUp({ name: SANDBOX_NAME, count: n });
      log(`${n} host(s) up in ${((Date.now() - upStarted) / 1000).toFixed(1)} s`);
      const run = async (tag: string, extra: string[], env: Record<string, string>) => {
        const json = join(dir, `${tag}.json`);
        const timeFile = join(dir, `${tag}.time`);
        const busy0 = machineBusySeconds();
        const args = ['-f', '%e %U %S %M', '-o', timeFile, process.execPath, ...provisionArgs([inv, sb.inventoryPath], playbook, json), ...extra];
        const r = must(await timed('/usr/bin/time', args, { env: { CI: '1', NO_COLOR: '1', ...env }, timeoutMs: 60 * 60_000 }), `provision (${n} hosts, ${tag})`);
        const machineCpu = machineBusySeconds() - busy0;
        const [, user, sys, rssKb] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
        const report = JSON.parse(readFileSync(json, 'utf8')) as RunReport;
        const sample: Sample = {
          wall: r.seconds,
          engineMs: report.durationMs,
          cpuSeconds: user! + sys!,
          machineCpuSeconds: machineCpu,
          hostsCpuSeconds: machineCpu - (user! + sys!),
          maxRssMb: rssKb! / 1024,
          roundTrips: report.hosts.map((h) => h.roundTrips),
          changed: report.hosts.reduce((s, h) => s + h.changed, 0),
        };
        const bad = report.hosts.filter((h) => h.state !== 'ok');
        if (bad.length) throw new Error(`provision (${n} hosts, ${tag}): ${bad.map((h) => `${h.host} ${h.state}`).join(', ')}`);
        return sample;
      };
      log(`${n} host(s): converging (untimed, --forks ${convergeForks})`);
      const c = await run('converge', ['--forks', convergeForks], {});
      log(`  converged in ${fmt(c.wall)} s, ${c.changed} changes`);
      const byVariant = new Map(variants.map((v) => [v, { hosts: n, variant: v, samples: [] as Sample[] }]));
      for (let i = 0; i < reps; i++) {
        const order = i % 2 === 0 ? variants : [...variants].reverse();
        for (const v of order) {
          const { args, env } = variantArgs(v);
          const s = await run(`rep${i}-${v.replace('=', '')}`, args, env);
          byVariant.get(v)!.samples.push(s);
          log(`  rep ${i + 1} ${v}: ${fmt(s.wall)} s (engine ${s.engineMs} ms), cpu ${fmt(s.cpuSeconds)} s (machine ${fmt(s.machineCpuSeconds)} s of ${fmt(s.wall * cpus().length)}), rss ${s.maxRssMb.toFixed(0)} MB, changed ${s.changed}`);
        }
      }
      rows.push(...byVariant.values());
    }
  } catch (err) {
    failure = err; // the sizes that finished are still reported
  } finally {
    if (!keep) await sandboxDown({ name: SANDBOX_NAME });
  }

  const base = new Map<string, number>();
  for (const r of rows) if (!base.has(r.variant) && r.hosts === 3) base.set(r.variant, stats(r.samples.map((s) => s.wall)).median);
  const range = (xs: number[]) => {
    const s = stats(xs);
    return s.min === s.max ? String(s.min) : `${s.min}–${s.max}`;
  };
  const lines = [
    `### No-op of the full broker job by number of hosts (${reps} repetitions${variants.length > 1 ? ', variants alternating' : ''})`,
    '',
    ...machine,
    '',
    '| hosts | variant | wall s (min / median / max) | vs 3 hosts | engine s (median) | controller CPU s (median) | machine CPU s, all cores (median) | machine busy (median) | controller peak RSS MB (median) | round trips per host | changed |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => {
      const w = stats(r.samples.map((s) => s.wall));
      const b = base.get(r.variant);
      const busy = stats(r.samples.map((s) => s.machineCpuSeconds / (s.wall * cpus().length))).median;
      return `| ${r.hosts} | ${r.variant} | ${fmtStats(w)} | ${b ? `${(w.median / b).toFixed(2)}×` : '—'} | ${fmt(stats(r.samples.map((s) => s.engineMs)).median / 1000)} | ${fmt(stats(r.samples.map((s) => s.cpuSeconds)).median)} | ${fmt(stats(r.samples.map((s) => s.machineCpuSeconds)).median)} | ${(busy * 100).toFixed(0)} % | ${stats(r.samples.map((s) => s.maxRssMb)).median.toFixed(0)} | ${range(r.samples.flatMap((s) => s.roundTrips))} | ${r.samples.reduce((t, s) => t + s.changed, 0)} |`;
    }),
    '',
    ...(failure ? [`**Incomplete**: ${String((failure as Error).message ?? failure).split('\n')[0]}`, ''] : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  mkdirSync(join(BENCH, 'results'), { recursive: true });
  const file = join(BENCH, 'results', `scale-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ machine, reps, variants, rows }, null, 2)}\n`);
  log(`raw figures: ${file}`);
  if (failure) throw failure;
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
