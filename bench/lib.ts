// Shared helpers of the benchmarks (bench/noop.ts, bench/cold.ts): timing child processes, statistics,
// the Ansible environment, SSH control-master cleanup, machine description. See bench/README.md.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { cpus, homedir, totalmem } from 'node:os';
import { buildExporterOnController } from '../src/exporter/controller-build.js';
import { EXPORTER_FIXTURE_REF, makeExporterGitRepo } from '../src/exporter/stand-in-repo.js';
import { join } from 'node:path';
import { sandboxDown, sandboxUp, type Sandbox } from '../src/sandbox/index.js';

/** Repository root, from dist/bench/ (compiled) or bench/ (sources). */
export const PROJECT = (() => {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, 'package.json')) || dir.endsWith('/dist')) dir = join(dir, '..');
  return dir;
})();
export const BENCH = join(PROJECT, 'bench');
export const ANSIBLE_DIR = join(BENCH, 'ansible');
export const SANDBOX = 'bench';

export interface Timed {
  code: number;
  seconds: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; wall time from spawn to exit (process start-up included). */
export function timed(cmd: string, args: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {}): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { cwd: o.cwd ?? PROJECT, env: { ...process.env, ...o.env }, stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGTERM'), o.timeoutMs ?? 20 * 60_000);
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, seconds: (performance.now() - started) / 1000, stdout, stderr });
    });
    if (o.input !== undefined) {
      child.stdin!.on('error', () => {});
      child.stdin!.end(o.input);
    }
  });
}

export function must(r: Timed, what: string): Timed {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}\n--- stdout (tail)\n${r.stdout.slice(-4000)}\n--- stderr (tail)\n${r.stderr.slice(-4000)}`);
  return r;
}

export interface Stats {
  min: number;
  median: number;
  max: number;
}
export function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { min: s[0]!, median, max: s[s.length - 1]! };
}
export const fmt = (x: number) => x.toFixed(2);
export const fmtStats = (s: Stats) => `${fmt(s.min)} / ${fmt(s.median)} / ${fmt(s.max)}`;

/** Totals of Ansible's PLAY RECAP (all hosts). */
export function ansibleRecap(stdout: string): { ok: number; changed: number; failed: number; unreachable: number; hosts: number } {
  const t = { ok: 0, changed: 0, failed: 0, unreachable: 0, hosts: 0 };
  for (const m of stdout.matchAll(/^\S+\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/gm)) {
    t.hosts++;
    t.ok += Number(m[1]);
    t.changed += Number(m[2]);
    t.unreachable += Number(m[3]);
    t.failed += Number(m[4]);
  }
  return t;
}

/**
 * Environment of every ansible-playbook run: bench/ansible/ansible.cfg (pipelining, ControlMaster/ControlPersist,
 * forks 10, the sandbox's known_hosts) and a control-socket directory the benchmark owns, so it can close the
 * SSH masters it caused (never anyone else's).
 */
export function ansibleEnv(controlDir: string): NodeJS.ProcessEnv {
  mkdirSync(controlDir, { recursive: true, mode: 0o700 });
  return {
    ANSIBLE_CONFIG: join(ANSIBLE_DIR, 'ansible.cfg'),
    ANSIBLE_SSH_CONTROL_PATH_DIR: controlDir,
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_FORCE_COLOR: '0',
    // The project's own Python (pyenv) is not Debian's ansible's: run ansible-playbook with what it was packaged for.
    PATH: `/usr/bin:${process.env.PATH ?? ''}`,
  };
}

/** Closes the SSH control masters whose sockets are in `controlDir` (ssh -O exit on each socket). */
export async function closeControlMasters(controlDir: string): Promise<void> {
  if (!existsSync(controlDir)) return;
  await Promise.all(
    readdirSync(controlDir).map((s) => timed('ssh', ['-o', `ControlPath=${join(controlDir, s)}`, '-O', 'exit', 'bench-master'], { timeoutMs: 10_000 }).catch(() => undefined)),
  );
}

/** `project`: another checkout of provision (built) to measure instead of this one (a baseline). */
export function provisionArgs(inventories: string[], playbook: string, json: string, project = PROJECT): string[] {
  return [join(project, 'bin', 'provision.js'), ...inventories.flatMap((i) => ['-i', i]), '--playbook', playbook, '--plain', '--json', json];
}

export interface ProvisionReport {
  durationMs: number;
  hosts: { host: string; changed: number; failed: number; roundTrips: number; state: string }[];
}
export function readReport(path: string): ProvisionReport {
  return JSON.parse(readFileSync(path, 'utf8')) as ProvisionReport;
}

export async function freshSandbox(count: number, name = SANDBOX): Promise<Sandbox> {
  await sandboxDown({ name });
  return sandboxUp({ name, count });
}

/** Markdown lines describing this machine and the tools' versions. */
export async function machineDescription(): Promise<string[]> {
  const first = async (cmd: string, args: string[]) => {
    try {
      const r = await timed(cmd, args, { env: { PATH: `/usr/bin:/usr/sbin:${process.env.PATH ?? ''}` } });
      return (r.stdout + r.stderr).split('\n').find((l) => l.trim())?.trim() ?? '?';
    } catch {
      return '?';
    }
  };
  const cpu = cpus()[0]?.model ?? '?';
  const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  return [
    `- date: ${new Date().toISOString()}`,
    `- machine: ${cpus().length} CPUs (${cpu}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, kernel ${await first('uname', ['-r'])}, load average at start ${load}`,
    `- node ${process.version}; ${await first('ansible-playbook', ['--version'])}; ${await first('ssh', ['-V'])}`,
    `- controller mosquitto: ${await first('mosquitto', ['-h'])}`,
  ];
}

export function log(line: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

export function argValue(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

/** The brokers play of playbooks/site.yaml, alone (the later plays need load balancers / cluster settings). */
export function brokersPlaybook(work: string): string {
  const plays = parse(readFileSync(join(PROJECT, 'playbooks', 'site.yaml'), 'utf8')) as { name: string; hosts: string }[];
  const play = plays.find((p) => p.hosts === 'brokers' && /broker/i.test(p.name));
  if (!play) throw new Error('playbooks/site.yaml has no brokers play');
  const file = join(work, 'brokers.yaml');
  writeFileSync(file, stringify([play]));
  return file;
}

/** Untimed, before any figure: the stand-in exporter repository and its binary, built once into provision's cache. */
export async function benchExporter(work: string): Promise<{ repo: { url: string; ref: string }; binaryPath: string }> {
  const repo = await makeExporterGitRepo(join(work, 'exporter-src'));
  const build = await buildExporterOnController({
    repoUrl: repo.url,
    ref: EXPORTER_FIXTURE_REF,
    version: '0.8.0',
    cacheDir: join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'provision', 'exporter'),
  });
  log(`exporter binary ${build.binaryPath} (${build.cached ? 'cached' : `built in ${build.seconds} s`})`);
  return { repo, binaryPath: build.binaryPath };
}
