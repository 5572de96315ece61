import { parseArgs } from 'node:util';
import { OptionsError } from '../errors.js';
import type { Secret } from '../secrets.js';
import { closestName } from '../inventory/typos.js';
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
  /** ansible-playbook's connection options: used where the inventory does not set the variable. */
  user?: string;
  become?: boolean;
  becomeUser?: string;
  privateKey?: string;
  /** -K: ask for the become password on the terminal (or read one line from stdin) before anything else. */
  askBecomePass?: boolean;
  /** Filled in by the run command from -K; never parsed from argv. */
  becomePassword?: Secret;
  /** Check the inventory, variables and playbook, connect to nothing. */
  syntaxCheck?: boolean;
  listTags?: boolean;
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
  user: { type: 'string', short: 'u' },
  become: { type: 'boolean', short: 'b' },
  'become-user': { type: 'string' },
  'ask-become-pass': { type: 'boolean', short: 'K' },
  'private-key': { type: 'string' },
  'key-file': { type: 'string' },
  'syntax-check': { type: 'boolean' },
  'list-tags': { type: 'boolean' },
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
    throw new OptionsError(`${shortParseError(err as Error, RUN_OPTIONS)} (see provision --help)`);
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
    ...(values.user ? { user: values.user } : {}),
    ...(values.become ? { become: true } : {}),
    ...(values['become-user'] ? { becomeUser: values['become-user'] } : {}),
    ...(values['private-key'] || values['key-file'] ? { privateKey: values['private-key'] ?? values['key-file'] } : {}),
    ...(values['ask-become-pass'] ? { askBecomePass: true } : {}),
    ...(values['syntax-check'] ? { syntaxCheck: true } : {}),
    ...(values['list-tags'] ? { listTags: true } : {}),
  };
  if (!out.help && !out.version && out.inventories.length === 0) throw new OptionsError('--inventory/-i is required (see provision --help)');
  return out;
}

/**
 * parseArgs' messages, made short and correct for a user: "unknown option '--becom' — did you mean '--become'?"
 * instead of its advice about `--` and positional arguments.
 */
export function shortParseError(err: Error, options: Record<string, { short?: string; type: string }>): string {
  const code = (err as NodeJS.ErrnoException).code;
  const unknown = /^Unknown option '([^']+)'/.exec(err.message);
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || unknown) {
    const given = unknown?.[1] ?? '?';
    const names = Object.keys(options).map((n) => `--${n}`);
    const guess = given.startsWith('--') ? closestName(given.split('=')[0]!, names) : undefined;
    return `unknown option '${given}'${guess ? ` — did you mean '${guess}'?` : ''}`;
  }
  const missing = /^Option '(?:-(\w), )?--([\w-]+) <value>' argument missing/.exec(err.message);
  if (missing) return `option --${missing[2]} needs a value`;
  const notString = /^Option '(?:-\w, )?--([\w-]+)' does not take an argument/.exec(err.message);
  if (notString) return `option --${notString[1]} takes no value`;
  return err.message.split('. To specify')[0]!;
}

/** `--wait-lock` has an optional value (parseArgs has none): a bare `--wait-lock` means the default wait. */
function withWaitLockDefault(argv: string[]): string[] {
  return argv.map((a) => (a === '--wait-lock' ? `--wait-lock=${DEFAULT_LOCK_WAIT_SECONDS}` : a));
}

export const HELP = `provision — agentless provisioning over SSH for a secured, highly available Mosquitto cluster

Usage:
  provision -i INVENTORY [options]          run the playbook (all phases: build → configure → runtime → cluster)
  provision verify -i INVENTORY [--known-hosts FILE] [--json FILE]
                                            end-to-end checks of a live cluster (provision verify --help)
  provision sandbox up N | add | down | status | stop H | start H | reboot H | exec H -- CMD
                                            local Debian 12 test hosts (root, Linux; provision sandbox --help)
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
      --list-tags          list the tags of each play's steps, then exit
      --syntax-check       check the inventory, its variables and the playbook, connect to nothing, then exit
  -u, --user USER          SSH user where the inventory sets no ansible_user
  -b, --become             become root (sudo) where the inventory sets no ansible_become
      --become-user USER   where the inventory sets no ansible_become_user (default root)
  -K, --ask-become-pass    ask for the sudo password (a terminal prompt, else one line of stdin)
      --private-key FILE   SSH key where the inventory sets no ansible_ssh_private_key_file (also --key-file)
      --known-hosts FILE   known_hosts file (wins over provision_known_hosts_file; default ~/.ssh/known_hosts)
      --accept-new-host-keys  record unknown host keys (like OpenSSH accept-new); changed keys are always refused
      --plain              line output even on a terminal
      --wait-lock[=SECONDS]  wait for another run on the same inventory (default ${DEFAULT_LOCK_WAIT_SECONDS} s) instead of exit 5
  -v, --verbose            show ok/skipped steps and progress lines
  -h, --help               this help
      --version            print the version

Exit codes: 0 ok, 2 a host failed, 3 a host unreachable, 4 bad inventory/playbook/vars, 5 bad options or the inventory is locked by another run.`;
