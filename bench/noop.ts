// No-op benchmark: the engine self-test job (test/fixtures/playbooks/engine.yaml) against bench/ansible/engine.yml
// on 1, 3 and 10 sandbox hosts that are already converged. Both tools take turns on the SAME hosts, alternating
// per repetition (A B, B A, …) so background load hits both alike.
//
//   npx tsc -p tsconfig.json && node dist/bench/noop.js [--sizes 1,3,10] [--reps 5] [--keep]
//
// Prints a markdown table on stdout; raw figures go to bench/results/noop-<date>.json. Removes the sandbox at the
// end unless --keep.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sandboxDown, sandboxUp } from '../src/sandbox/index.js';
import {
  ANSIBLE_DIR,
  BENCH,
  PROJECT,
  SANDBOX,
  ansibleEnv,
  ansibleRecap,
  argValue,
  closeControlMasters,
  fmt,
  fmtStats,
  log,
  machineDescription,
  must,
  provisionArgs,
  readReport,
  stats,
  timed,
} from './lib.js';

const PLAYBOOK = join(PROJECT, 'test', 'fixtures', 'playbooks', 'engine.yaml');
const sizes = argValue('--sizes', '1,3,10').split(',').map(Number);
const reps = Number(argValue('--reps', '5'));
const keep = process.argv.includes('--keep');

interface Row {
  hosts: number;
  provision: number[];
  provisionEngineMs: number[];
  ansible: number[];
  roundTrips: number[];
  provisionChanged: number[];
  ansibleChanged: number[];
  ansibleTasks: number;
}

async function main(): Promise<void> {
  const machine = await machineDescription();
  const work = mkdtempSync(join(tmpdir(), 'provision-bench-noop-'));
  const controlDir = join(work, 'cp');
  const env = ansibleEnv(controlDir);
  const rows: Row[] = [];
  let failure: unknown;
  log(`work dir ${work}; sizes ${sizes.join(',')}; ${reps} repetitions`);
  await sandboxDown({ name: SANDBOX });
  try {
    for (const n of sizes) {
      const sb = await sandboxUp({ name: SANDBOX, count: n });
      const inv = sb.inventoryPath;
      const provision = async (tag: string) => {
        const json = join(work, `p-${n}-${tag}.json`);
        const r = must(await timed(process.execPath, provisionArgs([inv], PLAYBOOK, json), { env: { CI: '1', NO_COLOR: '1' } }), `provision (${n} hosts, ${tag})`);
        return { seconds: r.seconds, report: readReport(json) };
      };
      const ansible = async (tag: string) => {
        const r = must(await timed('ansible-playbook', ['-i', inv, 'engine.yml'], { cwd: ANSIBLE_DIR, env }), `ansible-playbook engine.yml (${n} hosts, ${tag})`);
        const recap = ansibleRecap(r.stdout);
        if (recap.hosts !== n || recap.failed || recap.unreachable) throw new Error(`ansible recap: ${JSON.stringify(recap)}\n${r.stdout.slice(-3000)}`);
        return { seconds: r.seconds, recap };
      };
      log(`${n} host(s): converge with provision, then with Ansible`);
      const c1 = await provision('converge');
      const c2 = await ansible('converge');
      log(`  converged: provision ${fmt(c1.seconds)} s, ansible ${fmt(c2.seconds)} s (changed ${c2.recap.changed})`);
      const row: Row = { hosts: n, provision: [], provisionEngineMs: [], ansible: [], roundTrips: [], provisionChanged: [], ansibleChanged: [], ansibleTasks: 0 };
      for (let i = 0; i < reps; i++) {
        const order = i % 2 === 0 ? (['provision', 'ansible'] as const) : (['ansible', 'provision'] as const);
        for (const tool of order) {
          if (tool === 'provision') {
            const p = await provision(`rep${i}`);
            const changed = p.report.hosts.reduce((s, h) => s + h.changed, 0);
            row.provision.push(p.seconds);
            row.provisionEngineMs.push(p.report.durationMs);
            row.provisionChanged.push(changed);
            row.roundTrips.push(...p.report.hosts.map((h) => h.roundTrips));
            log(`  rep ${i + 1} provision ${fmt(p.seconds)} s (engine ${p.report.durationMs} ms), changed ${changed}, round trips ${[...new Set(p.report.hosts.map((h) => h.roundTrips))].join('/')}`);
          } else {
            const a = await ansible(`rep${i}`);
            row.ansible.push(a.seconds);
            row.ansibleChanged.push(a.recap.changed);
            row.ansibleTasks = a.recap.ok / n;
            log(`  rep ${i + 1} ansible   ${fmt(a.seconds)} s, changed ${a.recap.changed}`);
          }
        }
      }
      rows.push(row);
    }
  } catch (err) {
    // Keep what was measured: the sizes that finished are still reported below.
    failure = err;
  } finally {
    await closeControlMasters(controlDir);
    if (!keep) await sandboxDown({ name: SANDBOX });
  }

  const lines = [
    `### No-op run, engine self-test job (${reps} repetitions, alternating)`,
    '',
    ...machine,
    '',
    '| hosts | provision s (min / median / max) | ansible s (min / median / max) | ratio ansible/provision (median) | provision round trips per host | changed (provision / ansible, all reps) |',
    '| ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => {
      const p = stats(r.provision);
      const a = stats(r.ansible);
      const rt = stats(r.roundTrips);
      const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
      return `| ${r.hosts} | ${fmtStats(p)} | ${fmtStats(a)} | ${(a.median / p.median).toFixed(1)}× | ${rt.min === rt.max ? rt.min : `${rt.min}–${rt.max}`} | ${sum(r.provisionChanged)} / ${sum(r.ansibleChanged)} |`;
    }),
    '',
    ...(failure ? [`**Incomplete**: the run stopped with: ${String((failure as Error).message ?? failure).split('\n')[0]}`, ''] : []),
    `Wall time of the whole CLI process (Node / Python start-up included). provision's own run time (its --json durationMs), median: ${rows.map((r) => `${r.hosts} host(s) ${fmt(stats(r.provisionEngineMs).median / 1000)} s`).join(', ')}.`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  mkdirSync(join(BENCH, 'results'), { recursive: true });
  const file = join(BENCH, 'results', `noop-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ machine, reps, rows }, null, 2)}\n`);
  log(`raw figures: ${file}`);
  if (failure) throw failure;
}

main().catch(async (err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
