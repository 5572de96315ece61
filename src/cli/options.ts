import { parseArgs } from 'node:util';
import { OptionsError } from '../errors.js';
import { isPhase, PHASES, type Phase } from '../engine/phase.js';
import { DEFAULT_LOCK_WAIT_SECONDS } from '../controller/run-lock.js';

export interface RunCliOptions {
  inventories: string[];
  playbook?: string;
  phases: Phase[];
  limit?: string;
  tags: string[];
  skipTags: string[];
  check: boolean;
  diff: boolean;
  forks: number;
  json?: string;
  listHosts: boolean;
  listTasks: boolean;
  verbose: boolean;
  acceptNewHostKeys: boolean;
  knownHosts?: string;
  extraVars: string[];
  plain: boolean;
  /** Seconds to wait for another run's lock on the inventory (0: fail at once, exit 5). */
  waitLockSeconds?: number;
}

export const RUN_OPTIONS = {
  inventory: { type: 'string', short: 'i', multiple: true },
  playbook: { type: 'string' },
  phase: { type: 'string' },
  limit: { type: 'string', short: 'l' },
  tags: { type: 'string', short: 't' },
  'skip-tags': { type: 'string' },
  check: { type: 'boolean', short: 'C' },
  diff: { type: 'boolean', short: 'D' },
  forks: { type: 'string', short: 'f' },
  json: { type: 'string' },
  'list-hosts': { type: 'boolean' },
  'list-tasks': { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  'accept-new-host-keys': { type: 'boolean' },
  'known-hosts': { type: 'string' },
  'extra-vars': { type: 'string', short: 'e', multiple: true },
  plain: { type: 'boolean' },
  'wait-lock': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

const list = (s: string | undefined) => (s ? s.split(',').map((x) => x.trim()).filter(Boolean) : []);

export function parseRunOptions(argv: string[]): RunCliOptions & { help: boolean; version: boolean } {
  let values: ReturnType<typeof parseArgs<{ options: typeof RUN_OPTIONS; args: string[]; allowPositionals: true }>>['values'];
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: withWaitLockDefault(argv), options: RUN_OPTIONS, allowPositionals: true, strict: true }));
  } catch (err) {
    throw new OptionsError(`${(err as Error).message} (see provision --help)`);
  }
  if (positionals.length) throw new OptionsError(`unexpected argument '${positionals[0]}' (see provision --help)`);
  const phases = values.phase === undefined ? [...PHASES] : list(values.phase);
  if (phases.length === 0) throw new OptionsError(`--phase needs at least one of ${PHASES.join(', ')}`);
  for (const p of phases) if (!isPhase(p)) throw new OptionsError(`--phase: unknown phase '${p}' (phases: ${PHASES.join(', ')})`);
  const forks = values.forks === undefined ? 10 : Number(values.forks);
  if (!Number.isInteger(forks) || forks < 1 || forks > 500) throw new OptionsError(`--forks must be a whole number from 1 to 500, got '${values.forks}'`);
  const waitLock = values['wait-lock'];
  if (waitLock !== undefined && !/^\d{1,6}$/.test(waitLock)) throw new OptionsError(`--wait-lock takes whole seconds (--wait-lock=SECONDS), got '${waitLock}'`);
  const out = {
    inventories: values.inventory ?? [],
    phases: PHASES.filter((p) => phases.includes(p)),
    tags: list(values.tags),
    skipTags: list(values['skip-tags']),
    check: Boolean(values.check),
    diff: Boolean(values.diff),
    forks,
    listHosts: Boolean(values['list-hosts']),
    listTasks: Boolean(values['list-tasks']),
    verbose: Boolean(values.verbose),
    acceptNewHostKeys: Boolean(values['accept-new-host-keys']),
    extraVars: values['extra-vars'] ?? [],
    plain: Boolean(values.plain),
    help: Boolean(values.help),
    version: Boolean(values.version),
    ...(values.playbook ? { playbook: values.playbook } : {}),
    ...(values.limit ? { limit: values.limit } : {}),
    ...(values.json ? { json: values.json } : {}),
    ...(values['known-hosts'] ? { knownHosts: values['known-hosts'] } : {}),
    ...(waitLock !== undefined ? { waitLockSeconds: Number(waitLock) } : {}),
  };
  if (!out.help && !out.version && out.inventories.length === 0) throw new OptionsError('--inventory/-i is required (see provision --help)');
  return out;
}

/** `--wait-lock` has an optional value (parseArgs has none): a bare `--wait-lock` means the default wait. */
function withWaitLockDefault(argv: string[]): string[] {
  return argv.map((a) => (a === '--wait-lock' ? `--wait-lock=${DEFAULT_LOCK_WAIT_SECONDS}` : a));
}

export const HELP = `provision — agentless provisioning over SSH for a secured, highly available Mosquitto cluster

Usage:
  provision -i INVENTORY [options]          run the playbook (all phases: build → configure → runtime → cluster)
  provision verify -i INVENTORY             end-to-end checks of a live cluster
  provision pki rotate-ca start|promote|retire -i INVENTORY   CA rollover, one stage per run
  provision sandbox up N | down | status    local Debian 12 test hosts (root, Linux)
  provision demo [down]                     sandbox + full HA cluster + verify, in one command

Options:
  -i, --inventory FILE     Ansible inventory (YAML or INI); repeatable
      --playbook FILE      playbook (default playbooks/site.yaml)
      --phase LIST         comma list of build,configure,runtime,cluster (always run in that order)
  -l, --limit PATTERN      host/group pattern, Ansible style: brokers | mq1,mq2 | all:!lb1
  -t, --tags LIST          only steps with these tags (role names and phase names are tags too)
      --skip-tags LIST     skip steps with these tags
  -C, --check              change nothing; report what would change
  -D, --diff               show unified diffs of changed files (secrets masked)
  -f, --forks N            hosts in parallel (default 10)
  -e, --extra-vars K=V     highest-precedence variables (or @file.yaml); repeatable
      --json FILE          machine-readable report (per host, per step)
      --list-hosts         list the hosts each play would run on, then exit
      --list-tasks         list the steps each play would run, then exit
      --known-hosts FILE   known_hosts file (default ~/.ssh/known_hosts, or provision_known_hosts_file)
      --accept-new-host-keys  record unknown host keys (like OpenSSH accept-new); changed keys are always refused
      --plain              line output even on a terminal
      --wait-lock[=SECONDS]  wait for another run on the same inventory (default ${DEFAULT_LOCK_WAIT_SECONDS} s) instead of exit 5
  -v, --verbose            show ok/skipped steps and progress lines
  -h, --help               this help
      --version            print the version

Exit codes: 0 ok, 2 a host failed, 3 a host unreachable, 4 bad inventory/playbook/vars, 5 bad options or the inventory is locked by another run.`;
