// Cold-run benchmark: bare Debian 12 hosts to configured, serving Mosquitto brokers on 3 sandbox hosts, with
//   provision  — the "Mosquitto brokers" play of playbooks/site.yaml (taken from that file at start),
//   ansible    — bench/ansible/site.yml,
//   floor      — bench/floor/site.sh (one ssh session per host, one shell script).
// Every run gets BARE hosts: the sandbox is removed and created again (from the cached base image) before each
// tool's run, untimed. The tool order rotates per repetition. The exporter's Go build is done once before any
// timing (provision caches it on the controller; Ansible and the floor upload that same binary).
//
//   npx tsc -p tsconfig.json && node dist/bench/cold.js [--reps 3] [--hosts 3] [--tools provision,ansible,floor]
//                                                        [--sandbox bench] [--keep] [--baseline DIR]
// --baseline DIR: also measure the provision of another (built) checkout, e.g. the commit before a change, as the
// tool "baseline", in the same rotation: before and after side by side in one run.
// (Ansible reads the known_hosts of the sandbox named "bench": another --sandbox runs without it.)
//
// Prints a markdown table on stdout; raw figures go to bench/results/cold-<date>.json.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sandboxDown } from '../src/sandbox/index.js';
import type { Sandbox } from '../src/sandbox/index.js';
import { EXPORTER_FIXTURE_REF } from '../src/exporter/stand-in-repo.js';
import {
  ANSIBLE_DIR,
  BENCH,
  PROJECT,
  SANDBOX,
  ansibleEnv,
  ansibleRecap,
  argValue,
  benchExporter,
  brokersPlaybook,
  closeControlMasters,
  fmt,
  fmtStats,
  freshSandbox,
  log,
  machineDescription,
  must,
  provisionArgs,
  readReport,
  stats,
  timed,
} from './lib.js';

const reps = Number(argValue('--reps', '3'));
const hostCount = Number(argValue('--hosts', '3'));
const keep = process.argv.includes('--keep');
type Tool = 'provision' | 'baseline' | 'ansible' | 'floor';
const baseline = argValue('--baseline', '');
const TOOLS = [...argValue('--tools', 'provision,ansible,floor').split(','), ...(baseline ? ['baseline'] : [])] as Tool[];
const sandboxName = argValue('--sandbox', SANDBOX);
if (TOOLS.some((t) => !['provision', 'baseline', 'ansible', 'floor'].includes(t)) || !TOOLS.includes('floor')) throw new Error(`--tools: a list of provision, ansible, floor, with floor (the ratios are to it)`);
if (TOOLS.includes('ansible') && sandboxName !== SANDBOX) throw new Error(`--sandbox ${sandboxName}: bench/ansible/ansible.cfg reads the sandbox "${SANDBOX}"'s known_hosts; leave ansible out of --tools`);

/** Serving brokers: every host's exporter answers on :9234 with broker metrics (so mosquitto runs, the
 * exporter's dynsec login works and the firewall lets 9234 in). */
async function check(sb: Sandbox): Promise<void> {
  for (const h of sb.hosts) {
    let body = '';
    for (let i = 0; i < 200 && !/broker_clients_connected [1-9]/.test(body); i++) {
      body = await fetch(`http://${h.address}:9234/metrics`, { signal: AbortSignal.timeout(2000) }).then((r) => r.text(), () => '');
      if (!/broker_clients_connected [1-9]/.test(body)) await new Promise((r) => setTimeout(r, 100)); // fine-grained: it is timed
    }
    if (!/broker_clients_connected [1-9]/.test(body)) throw new Error(`${h.name}: exporter at ${h.address}:9234 shows no broker connection`);
  }
}

async function main(): Promise<void> {
  const machine = await machineDescription();
  const work = mkdtempSync(join(tmpdir(), 'provision-bench-cold-'));
  log(`work dir ${work}; ${hostCount} hosts; ${reps} repetitions`);

  // Untimed: the exporter built once (provision's controller cache); every tool uploads this binary.
  const { repo, binaryPath } = await benchExporter(work);
  const build = { binaryPath };
  const playbook = brokersPlaybook(work);
  const names = Array.from({ length: hostCount }, (_, i) => `node${i + 1}`);
  const brokersYaml = (extra: string) =>
    `all:\n  vars:\n${extra}  children:\n    brokers:\n      hosts:\n${names.map((n) => `        ${n}: {}\n`).join('')}`;

  const runs: Record<Tool, number[]> = { provision: [], baseline: [], ansible: [], floor: [] };
  const runOnly: Record<Tool, number[]> = { provision: [], baseline: [], ansible: [], floor: [] };
  const roundTrips: Partial<Record<Tool, number[]>> = {};
  const notes: string[] = [];
  try {
    for (let i = 0; i < reps; i++) {
      const order = TOOLS.map((_, k) => TOOLS[(k + i) % TOOLS.length]!);
      for (const tool of order) {
        const sb = await freshSandbox(hostCount, sandboxName);
        const dir = join(work, `${tool}-${i}`);
        mkdirSync(dir, { recursive: true });
        let seconds: number;
        if (tool === 'provision' || tool === 'baseline') {
          const inv = join(dir, 'hosts.yaml');
          writeFileSync(inv, brokersYaml(`    exporter_repo_url: ${repo.url}\n    exporter_ref: ${EXPORTER_FIXTURE_REF}\n`));
          const json = join(dir, 'report.json');
          const r = must(await timed(process.execPath, provisionArgs([inv, sb.inventoryPath], playbook, json, tool === 'baseline' ? baseline : undefined), { env: { CI: '1', NO_COLOR: '1' } }), tool);
          seconds = r.seconds;
          const rep = readReport(json);
          (roundTrips[tool] ??= []).push(...rep.hosts.map((h) => h.roundTrips));
          notes.push(`${tool} rep ${i + 1}: round trips per host ${rep.hosts.map((h) => h.roundTrips).join('/')}, changed ${rep.hosts.map((h) => h.changed).join('/')}`);
        } else if (tool === 'ansible') {
          const inv = join(dir, 'hosts.yaml');
          writeFileSync(inv, brokersYaml('    {}\n').replace('  vars:\n    {}\n', ''));
          const controlDir = join(dir, 'cp');
          try {
            const r = must(
              await timed('ansible-playbook', ['-i', sb.inventoryPath, '-i', inv, 'site.yml', '-e', `state_dir=${join(dir, 'state')}`, '-e', `exporter_binary=${build.binaryPath}`], { cwd: ANSIBLE_DIR, env: ansibleEnv(controlDir) }),
              'ansible-playbook site.yml',
            );
            seconds = r.seconds;
            const recap = ansibleRecap(r.stdout);
            if (recap.failed || recap.unreachable || recap.hosts !== hostCount) throw new Error(`ansible recap ${JSON.stringify(recap)}`);
            notes.push(`ansible rep ${i + 1}: changed ${recap.changed} in total`);
          } finally {
            await closeControlMasters(controlDir);
          }
        } else {
          const r = must(
            await timed(join(BENCH, 'floor', 'site.sh'), ['-s', join(dir, 'state'), '-b', build.binaryPath, '-k', sb.keyPath, '-K', sb.knownHostsPath, ...sb.hosts.map((h) => `${h.name}=${h.address}`)]),
            'floor site.sh',
          );
          seconds = r.seconds;
        }
        // Timed until every broker serves (its exporter shows a broker connection): provision's run ends only
        // once its checks saw that, a plain script ends before its services are up.
        const t0 = Date.now();
        await check(sb);
        const serving = (Date.now() - t0) / 1000;
        runs[tool].push(seconds + serving);
        runOnly[tool].push(seconds);
        log(`rep ${i + 1} ${tool.padEnd(9)} ${fmt(seconds + serving)} s to brokers serving (run ${fmt(seconds)} s + ${fmt(serving)} s until serving)`);
      }
    }
  } finally {
    if (!keep) await sandboxDown({ name: sandboxName });
  }

  const st = Object.fromEntries(TOOLS.map((t) => [t, stats(runs[t])])) as Record<Tool, ReturnType<typeof stats>>;
  const ratio = (t: Tool) => `${(st[t].median / st.floor.median).toFixed(2)}`;
  const lines = [
    `### Cold run, bare hosts to serving brokers (${hostCount} hosts, ${reps} repetitions, order rotated)`,
    '',
    ...machine,
    '',
    '| tool | seconds to brokers serving (min / median / max) | median / floor median | the tool\'s run alone (min / median / max) |',
    '| --- | ---: | ---: | ---: |',
    ...TOOLS.map((t) => `| ${t} | ${fmtStats(st[t])} | ${ratio(t)} | ${fmtStats(stats(runOnly[t]))} |`),
    '',
    `provision / floor: ${ratio('provision')} (issue 13's target ≤ 1.10: ${Number(ratio('provision')) <= 1.1 ? 'met' : 'NOT met'})${TOOLS.includes('ansible') ? `; ansible / provision: ${(st.ansible.median / st.provision.median).toFixed(2)}` : ''}; round trips per host: ${Object.entries(roundTrips).map(([t, r]) => `${t} ${Math.min(...r)}–${Math.max(...r)}`).join(', ') || '—'}.${baseline ? ` Baseline: ${baseline}.` : ''}`,
    '',
    ...notes.map((n) => `- ${n}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  mkdirSync(join(BENCH, 'results'), { recursive: true });
  const file = join(BENCH, 'results', `cold-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ machine, reps, hostCount, runs, runOnly, notes }, null, 2)}\n`);
  log(`raw figures: ${file}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
