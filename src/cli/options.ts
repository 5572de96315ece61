import { parseArgs } from 'node:util';
import { OptionsError } from '../errors.js';
import { closestName } from '../inventory/typos.js';
import { isPhase, PHASES } from '../engine/phase.js';
import { DEFAULT_LOCK_WAIT_SECONDS } from '../controller/run-lock.js';
import type { ConnectionDefaults } from '../inventory/connection.js';
import { shlexSplit } from '../inventory/shlex.js';
import { DEFAULT_FORKS, DEFAULT_SSH_HANDSHAKES, runOptions, type ConnectOptions, type RunOptions, type VaultOptions } from '../commands/options.js';
import type { AnsibleCfg } from './ansible-cfg.js';

/** The vault flags, shared by every command that reads an inventory (ansible-playbook and ansible-inventory spell them so). */
export const VAULT_OPTIONS = {
  'vault-password-file': { type: 'string', multiple: true },
  'vault-pass-file': { type: 'string', multiple: true },
  'ask-vault-pass': { type: 'boolean', short: 'J' },
  'ask-vault-password': { type: 'boolean' },
  'vault-id': { type: 'string', multiple: true },
} as const;

/** `{ vault }` when a vault flag was given, else nothing (the keyring then reads only the ANSIBLE_VAULT_* variables). */
export function vaultOption(values: Parameters<typeof vaultCliOptions>[0]): { vault?: VaultOptions } {
  const v = vaultCliOptions(values);
  return v.passwordFiles.length > 0 || v.askVaultPass || v.vaultIds.length > 0 ? { vault: v } : {};
}

function vaultCliOptions(values: { 'vault-password-file'?: string[]; 'vault-pass-file'?: string[]; 'ask-vault-pass'?: boolean; 'ask-vault-password'?: boolean; 'vault-id'?: string[] }): VaultOptions {
  return {
    passwordFiles: [...(values['vault-password-file'] ?? []), ...(values['vault-pass-file'] ?? [])],
    askVaultPass: Boolean(values['ask-vault-pass'] || values['ask-vault-password']),
    vaultIds: values['vault-id'] ?? [],
  };
}

/** ansible-playbook's connection flags, spelled as it spells them (run, verify and exec). */
export const CONNECTION_OPTIONS = {
  user: { type: 'string', short: 'u' },
  'private-key': { type: 'string' },
  'key-file': { type: 'string' },
  become: { type: 'boolean', short: 'b' },
  'become-user': { type: 'string' },
  'ask-become-pass': { type: 'boolean', short: 'K' },
  'ssh-common-args': { type: 'string' },
  timeout: { type: 'string', short: 'T' },
} as const;

/** What every command that connects to hosts reads the same way (run and verify): which hosts, their variables, how to reach them. */
export const CONNECT_OPTIONS = {
  inventory: { type: 'string', short: 'i', multiple: true },
  limit: { type: 'string', short: 'l' },
  'extra-vars': { type: 'string', short: 'e', multiple: true },
  ...VAULT_OPTIONS,
  ...CONNECTION_OPTIONS,
  'known-hosts': { type: 'string' },
  'accept-new-host-keys': { type: 'boolean' },
  'ssh-handshakes': { type: 'string' },
} as const;

type ConnectValues = {
  inventory?: string[]; limit?: string; 'extra-vars'?: string[]; 'known-hosts'?: string; 'accept-new-host-keys'?: boolean; 'ask-become-pass'?: boolean;
  'ssh-handshakes'?: string;
} & Parameters<typeof vaultCliOptions>[0] & Parameters<typeof connectionDefaults>[0];

/** The CONNECT_OPTIONS flags over ansible.cfg's keys: the part of a command's options run and verify share. */
export function connectOptions(values: ConnectValues, cfg?: AnsibleCfg): ConnectOptions {
  const connection = connectionDefaults(values, cfg);
  return {
    inventories: values.inventory ?? cfg?.inventory ?? [],
    extraVars: values['extra-vars'] ?? [],
    // host_key_checking = False: unknown keys are recorded; a changed key is still refused (provision never skips it).
    acceptNewHostKeys: Boolean(values['accept-new-host-keys']) || cfg?.hostKeyChecking === false,
    ...(values.limit ? { limit: values.limit } : {}),
    ...(values['known-hosts'] ? { knownHosts: values['known-hosts'] } : {}),
    ...vaultOption(values),
    ...(Object.keys(connection).length ? { connection } : {}),
    ...(values['ask-become-pass'] ? { askBecomePass: true } : {}),
    ...(values['ssh-handshakes'] !== undefined ? { sshHandshakes: wholeNumber('--ssh-handshakes', values['ssh-handshakes']) } : {}),
  };
}

/** A count option's value: a whole number from 1 to 500 (--forks, --ssh-handshakes), else a clear error. */
export function wholeNumber(flag: string, value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 500) throw new OptionsError(`${flag} must be a whole number from 1 to 500, got '${value}'`);
  return n;
}

export const RUN_OPTIONS = {
  ...CONNECT_OPTIONS,
  playbook: { type: 'string' },
  phase: { type: 'string' },
  tags: { type: 'string', short: 't' },
  'skip-tags': { type: 'string' },
  check: { type: 'boolean', short: 'C' },
  diff: { type: 'boolean', short: 'D' },
  forks: { type: 'string', short: 'f' },
  json: { type: 'string' },
  'list-hosts': { type: 'boolean' },
  'list-tasks': { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  plain: { type: 'boolean' },
  'wait-lock': { type: 'string' },
  'syntax-check': { type: 'boolean' },
  'flush-cache': { type: 'boolean' },
  'list-tags': { type: 'boolean' },
  'start-at-task': { type: 'string' },
  step: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

const list = (s: string | undefined) => (s ? s.split(',').map((x) => x.trim()).filter(Boolean) : []);

/** ansible-playbook flags that have no meaning for provision's converging steps: refused with what to use instead. */
const NOT_SUPPORTED: Record<string, string> = {
  'start-at-task': 'every step converges, so a rerun skips what is done; narrow a run with --tags or --phase',
  step: 'there is no interactive mode; preview a run with --check --diff',
};

export function parseRunOptions(argv: string[], cfg?: AnsibleCfg): RunOptions & { help: boolean; version: boolean } {
  let values: ReturnType<typeof parseArgs<{ options: typeof RUN_OPTIONS; args: string[]; allowPositionals: true }>>['values'];
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: withWaitLockDefault(withSshArgsValue(argv)), options: RUN_OPTIONS, allowPositionals: true, strict: true }));
  } catch (err) {
    throw new OptionsError(`${shortParseError(err as Error, RUN_OPTIONS)} (see provision --help)`);
  }
  if (positionals.length) throw new OptionsError(`unexpected argument '${positionals[0]}' (see provision --help)`);
  const phases = values.phase === undefined ? [...PHASES] : list(values.phase);
  if (phases.length === 0) throw new OptionsError(`--phase needs at least one of ${PHASES.join(', ')}`);
  for (const p of phases) if (!isPhase(p)) throw new OptionsError(`--phase: unknown phase '${p}' (phases: ${PHASES.join(', ')})`);
  for (const [flag, instead] of Object.entries(NOT_SUPPORTED)) {
    if (values[flag as keyof typeof values] !== undefined) throw new OptionsError(`--${flag} is not supported: ${instead}`);
  }
  const forks = values.forks === undefined ? cfg?.forks ?? DEFAULT_FORKS : wholeNumber('--forks', values.forks);
  const waitLock = values['wait-lock'];
  if (waitLock !== undefined && !/^\d{1,6}$/.test(waitLock)) throw new OptionsError(`--wait-lock takes whole seconds (--wait-lock=SECONDS), got '${waitLock}'`);
  const out = {
    ...runOptions({
      ...connectOptions(values, cfg),
      phases: PHASES.filter((p) => phases.includes(p)),
      tags: list(values.tags),
      skipTags: list(values['skip-tags']),
      check: Boolean(values.check),
      diff: Boolean(values.diff),
      forks,
      listHosts: Boolean(values['list-hosts']),
      listTasks: Boolean(values['list-tasks']),
      verbose: Boolean(values.verbose),
      plain: Boolean(values.plain),
      ...(values.playbook ? { playbook: values.playbook } : {}),
      ...(values.json ? { json: values.json } : {}),
      ...(waitLock !== undefined ? { waitLockSeconds: Number(waitLock) } : {}),
      ...(values['syntax-check'] ? { syntaxCheck: true } : {}),
      ...(cfg ? { ansibleCfg: cfg } : {}),
      ...(values['list-tags'] ? { listTags: true } : {}),
    }),
    help: Boolean(values.help),
    version: Boolean(values.version),
  };
  if (!out.help && !out.version && out.inventories.length === 0) throw new OptionsError('--inventory/-i is required (or [defaults] inventory in ansible.cfg; see provision --help)');
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

/** Command-line flags over ansible.cfg, as in Ansible (and a host's variables over both, in connectionSpecFor). */
export function connectionDefaults(values: { user?: string; 'private-key'?: string; 'key-file'?: string; become?: boolean; 'become-user'?: string; 'ssh-common-args'?: string; timeout?: string }, cfg?: AnsibleCfg): ConnectionDefaults {
  const c: ConnectionDefaults = {};
  const user = values.user ?? cfg?.remoteUser;
  if (user !== undefined) c.user = user;
  const key = values['private-key'] ?? values['key-file'] ?? cfg?.privateKeyFile;
  if (key !== undefined) c.privateKeyFile = key;
  if (values.become || cfg?.become !== undefined) c.become = Boolean(values.become || cfg?.become);
  const becomeUser = values['become-user'] ?? cfg?.becomeUser;
  if (becomeUser !== undefined) c.becomeUser = becomeUser;
  if (values['ssh-common-args'] !== undefined) {
    try {
      shlexSplit(values['ssh-common-args']);
    } catch (e) {
      throw new OptionsError(`--ssh-common-args: ${(e as Error).message}`);
    }
    c.sshCommonArgs = values['ssh-common-args'];
  }
  if (values.timeout !== undefined) {
    if (!/^\d{1,5}$/.test(values.timeout) || Number(values.timeout) < 1) throw new OptionsError(`-T/--timeout takes whole seconds (at least 1), got '${values.timeout}'`);
    c.timeoutSeconds = Number(values.timeout);
  } else if (cfg?.timeout !== undefined) c.timeoutSeconds = cfg.timeout;
  return c;
}

/** `--wait-lock` has an optional value (parseArgs has none): a bare `--wait-lock` means the default wait. */
function withWaitLockDefault(argv: string[]): string[] {
  return argv.map((a) => (a === '--wait-lock' ? `--wait-lock=${DEFAULT_LOCK_WAIT_SECONDS}` : a));
}

/** ssh arguments start with '-' ("-o ProxyJump=b"), which parseArgs would take for an option: keep them the value. */
export function withSshArgsValue(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--ssh-common-args' && i + 1 < argv.length) out.push(`--ssh-common-args=${argv[++i]}`);
    else out.push(a);
  }
  return out;
}

export const HELP = `provision — agentless provisioning over SSH for a secured, highly available Mosquitto cluster

Usage:
  provision -i INVENTORY [options]          run the playbook (all phases: build → configure → runtime → cluster)
  provision verify -i INVENTORY [-l PATTERN] [--known-hosts FILE] [--json FILE]
                                            end-to-end checks of a live cluster (provision verify --help)
  provision sandbox up N | add | down | status | stop H | start H | reboot H | exec H -- CMD
                                            local Debian 12 test hosts (root, Linux; provision sandbox --help)
  provision pki rotate-ca start|promote|retire -i INVENTORY   CA rollover, one stage per run
  provision demo [down]                     sandbox + full HA cluster + verify, in one command
  provision inventory -i INV --list | --graph [GROUP] | --host H   what ansible-inventory prints
  provision exec PATTERN -i INV [-b] -- COMMAND   a shell command on each host (ansible PATTERN -m shell -a)

Options:
  -i, --inventory FILE     Ansible inventory (YAML or INI); repeatable
      --playbook FILE      playbook (default playbooks/site.yaml)
      --phase LIST         comma list of build,configure,runtime,cluster (always run in that order)
  -l, --limit PATTERN      host/group pattern, Ansible style: brokers | mq1,mq2 | all:!lb1
  -t, --tags LIST          only steps with these tags (role names and phase names are tags too)
      --skip-tags LIST     skip steps with these tags
  -C, --check              change nothing; report what would change
  -D, --diff               show unified diffs of changed files (secrets masked)
  -f, --forks N            hosts in parallel (default ${DEFAULT_FORKS}; ansible.cfg: forks)
      --ssh-handshakes N   SSH handshakes in progress at once across all hosts (default ${DEFAULT_SSH_HANDSHAKES}; sshd's
                           MaxStartups drops unauthenticated connections beyond 10 by default, a jump host's too)
  -e, --extra-vars K=V     highest-precedence variables (or @file.yaml); repeatable
      --vault-password-file FILE  Ansible Vault password: a file, or an executable that prints it; repeatable
  -J, --ask-vault-pass     prompt for the vault password (no echo)
      --vault-id LABEL@SRC vault password with a label; SRC is a file, an executable or 'prompt'; repeatable
      --json FILE          machine-readable report (per host, per step)
      --list-hosts         list the hosts each play would run on, then exit
      --list-tasks         list the steps each play would run, then exit
      --list-tags          list the tags of each play's steps, then exit
      --syntax-check       check the inventory, its variables and the playbook, connect to nothing, then exit
      --known-hosts FILE   known_hosts file (wins over provision_known_hosts_file; default ~/.ssh/known_hosts)
      --accept-new-host-keys  record unknown host keys (like OpenSSH accept-new); changed keys are always refused
      --plain              line output even on a terminal
  -u, --user USER          SSH user where a host sets no ansible_user (ansible.cfg: remote_user)
      --private-key FILE   SSH key where a host sets no ansible_private_key_file (also --key-file; ansible.cfg: private_key_file)
  -b, --become             become (sudo) where a host sets no ansible_become; --become-user USER (default root)
  -K, --ask-become-pass    ask for the sudo password (a terminal prompt without echo, else one line of stdin)
      --ssh-common-args A  ssh arguments where a host sets no ansible_ssh_common_args (ProxyJump, UserKnownHostsFile)
  -T, --timeout SECONDS    SSH connect timeout (default 10)
      --flush-cache        accepted, does nothing (provision keeps no fact cache)
      --wait-lock[=SECONDS]  wait for another run on the same inventory (default ${DEFAULT_LOCK_WAIT_SECONDS} s) instead of exit 5
  -v, --verbose            show ok/skipped steps and progress lines
  -h, --help               this help
      --version            print the version

Exit codes: 0 ok, 2 a host failed, 3 a host unreachable, 4 bad inventory/playbook/vars, 5 bad options or the inventory is locked by another run.`;
