// No-op benchmark of the FULL broker job (the brokers play of playbooks/site.yaml: build, configure, runtime
// phases, the exporter binary already built) against bench/ansible/site.yml, the same job as a good Ansible
// author writes it (pipelining, ControlPersist, forks ≥ hosts). Each tool gets its own sandbox of N converged
// hosts (their CAs and files differ, so they cannot share hosts); repetitions alternate (P A, A P, …).
//
//   npx tsc -p tsconfig.json && node dist/bench/noop-broker.js [--sizes 1,3,10] [--reps 3] [--no-ansible] [--keep] [--sandbox NAME]
//
// --sandbox: the name of provision's sandbox (default bench-p), so several checkouts can bench side by side.
//
// Prints a markdown table and where provision's time goes (per role, per host, from its --json); raw figures go
// to bench/results/noop-broker-<date>.json.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXPORTER_FIXTURE_REF } from '../src/exporter/stand-in-repo.js';
import { sandboxDown, sandboxUp } from '../src/sandbox/index.js';
import type { RunReport } from '../src/engine/records.js';
import { ANSIBLE_DIR, BENCH, SANDBOX, ansibleEnv, ansibleRecap, argValue, benchExporter, brokersPlaybook, closeControlMasters, fmt, fmtStats, log, machineDescription, must, provisionArgs, stats, timed } from './lib.js';

const sizes = argValue('--sizes', '1,3,10').split(',').map(Number);
const reps = Number(argValue('--reps', '3'));
const withAnsible = !process.argv.includes('--no-ansible');
const keep = process.argv.includes('--keep');
const P_SANDBOX = argValue('--sandbox', 'bench-p');
// bench/ansible/ansible.cfg reads the known_hosts of the sandbox named "bench".
const A_SANDBOX = SANDBOX;
// Without Ansible its sandbox is left alone (it may be someone else's run).
const sandboxes = withAnsible ? [P_SANDBOX, A_SANDBOX] : [P_SANDBOX];

interface Row {
  hosts: number;
  provision: number[];
  engineMs: number[];
  ansible: number[];
  roundTrips: number[];
  changed: { provision: number[]; ansible: number[] };
  /** role → ms per host, of the median provision repetition. */
  roles: Record<string, number>;
}

function perRole(r: RunReport): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of r.steps) {
    const k = s.kind === 'connect' ? 'connect + facts' : s.role || '(engine)';
    out[k] = (out[k] ?? 0) + s.durationMs / r.hosts.length;
  }
  return out;
}

async function main(): Promise<void> {
  const machine = await machineDescription();
  const work = mkdtempSync(join(tmpdir(), 'provision-bench-noop-broker-'));
  log(`work dir ${work}; sizes ${sizes.join(',')}; ${reps} repetitions; ansible ${withAnsible ? 'yes' : 'no'}`);
  const { repo, binaryPath } = await benchExporter(work);
  const build = { binaryPath };
  const playbook = brokersPlaybook(work);
  const rows: Row[] = [];
  let failure: unknown;
  try {
    for (const n of sizes) {
      const names = Array.from({ length: n }, (_, i) => `node${i + 1}`);
      const hostsYaml = (vars: string) => `all:\n${vars}  children:\n    brokers:\n      hosts:\n${names.map((h) => `        ${h}: {}\n`).join('')}`;
      const dir = join(work, `n${n}`);
      mkdirSync(dir, { recursive: true });
      const pInv = join(dir, 'provision-hosts.yaml');
      writeFileSync(pInv, hostsYaml(`  vars:\n    exporter_repo_url: ${repo.url}\n    exporter_ref: ${EXPORTER_FIXTURE_REF}\n`));
      const aInv = join(dir, 'ansible-hosts.yaml');
      writeFileSync(aInv, hostsYaml(''));
      for (const name of sandboxes) await sandboxDown({ name });
      const pSb = await sandboxUp({ name: P_SANDBOX, count: n });
      const aSb = withAnsible ? await sandboxUp({ name: A_SANDBOX, count: n }) : undefined;
      const controlDir = join(dir, 'cp');
      const provision = async (tag: string) => {
        const json = join(dir, `p-${tag}.json`);
        const r = must(await timed(process.execPath, provisionArgs([pInv, pSb.inventoryPath], playbook, json), { env: { CI: '1', NO_COLOR: '1' } }), `provision (${n} hosts, ${tag})`);
        return { seconds: r.seconds, report: JSON.parse(readFileSync(json, 'utf8')) as RunReport };
      };
      const ansible = async (tag: string) => {
        const args = ['-i', aSb!.inventoryPath, '-i', aInv, 'site.yml', '-f', String(Math.max(10, n)), '-e', `state_dir=${join(dir, 'ansible-state')}`, '-e', `exporter_binary=${build.binaryPath}`];
        const r = must(await timed('ansible-playbook', args, { cwd: ANSIBLE_DIR, env: ansibleEnv(controlDir) }), `ansible-playbook site.yml (${n} hosts, ${tag})`);
        const recap = ansibleRecap(r.stdout);
        if (recap.hosts !== n || recap.failed || recap.unreachable) throw new Error(`ansible recap: ${JSON.stringify(recap)}\n${r.stdout.slice(-3000)}`);
        return { seconds: r.seconds, recap };
      };
      try {
        log(`${n} host(s): converging (untimed)`);
        const c = await provision('converge');
        log(`  provision converged in ${fmt(c.seconds)} s`);
        if (withAnsible) log(`  ansible converged in ${fmt((await ansible('converge')).seconds)} s`);
        const row: Row = { hosts: n, provision: [], engineMs: [], ansible: [], roundTrips: [], changed: { provision: [], ansible: [] }, roles: {} };
        const reports: RunReport[] = [];
        for (let i = 0; i < reps; i++) {
          const order = i % 2 === 0 ? (['provision', 'ansible'] as const) : (['ansible', 'provision'] as const);
          for (const tool of order) {
            if (tool === 'provision') {
              const p = await provision(`rep${i}`);
              const changed = p.report.hosts.reduce((s, h) => s + h.changed, 0);
              row.provision.push(p.seconds);
              row.engineMs.push(p.report.durationMs);
              row.changed.provision.push(changed);
              row.roundTrips.push(...p.report.hosts.map((h) => h.roundTrips));
              reports.push(p.report);
              log(`  rep ${i + 1} provision ${fmt(p.seconds)} s (engine ${p.report.durationMs} ms), changed ${changed}, round trips ${[...new Set(p.report.hosts.map((h) => h.roundTrips))].join('/')}`);
            } else if (withAnsible) {
              const a = await ansible(`rep${i}`);
              row.ansible.push(a.seconds);
              row.changed.ansible.push(a.recap.changed);
              log(`  rep ${i + 1} ansible   ${fmt(a.seconds)} s, changed ${a.recap.changed}`);
            }
          }
        }
        const median = [...reports].sort((a, b) => a.durationMs - b.durationMs)[Math.floor(reports.length / 2)]!;
        row.roles = perRole(median);
        rows.push(row);
      } finally {
        await closeControlMasters(controlDir);
      }
    }
  } catch (err) {
    failure = err; // the sizes that finished are still reported
  } finally {
    if (!keep) for (const name of sandboxes) await sandboxDown({ name });
  }

  const base = rows.length ? stats(rows[0]!.provision).median : NaN;
  const roleNames = [...new Set(rows.flatMap((r) => Object.keys(r.roles)))];
  const lines = [
    `### No-op run, full broker job (${reps} repetitions, alternating)`,
    '',
    ...machine,
    '',
    '| hosts | provision s (min / median / max) | provision engine s (median) | ansible s (min / median / max) | ansible / provision | provision vs the smallest size | round trips per host | changed (provision / ansible) |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => {
      const p = stats(r.provision);
      const a = r.ansible.length ? stats(r.ansible) : undefined;
      const rt = stats(r.roundTrips);
      const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
      return `| ${r.hosts} | ${fmtStats(p)} | ${fmt(stats(r.engineMs).median / 1000)} | ${a ? fmtStats(a) : '—'} | ${a ? `${(a.median / p.median).toFixed(1)}×` : '—'} | ${(p.median / base).toFixed(2)}× | ${rt.min === rt.max ? rt.min : `${rt.min}–${rt.max}`} | ${sum(r.changed.provision)} / ${a ? sum(r.changed.ansible) : '—'} |`;
    }),
    '',
    'Where provision spends its time (ms per host, summed over the steps of each role, median repetition):',
    '',
    `| role | ${rows.map((r) => `${r.hosts} host(s)`).join(' | ')} |`,
    `| --- | ${rows.map(() => '---:').join(' | ')} |`,
    ...roleNames.map((k) => `| ${k} | ${rows.map((r) => (r.roles[k] ?? 0).toFixed(0)).join(' | ')} |`),
    '',
    ...(failure ? [`**Incomplete**: ${String((failure as Error).message ?? failure).split('\n')[0]}`, ''] : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  mkdirSync(join(BENCH, 'results'), { recursive: true });
  const file = join(BENCH, 'results', `noop-broker-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ machine, reps, rows }, null, 2)}\n`);
  log(`raw figures: ${file}`);
  if (failure) throw failure;
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
