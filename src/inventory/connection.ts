import os from 'node:os';
import path from 'node:path';
import { InputError } from '../errors.js';
import { Secret, registerSecretValue } from '../secrets.js';
import { UnresolvedVar } from './markers.js';
import { shlexSplit } from './shlex.js';
import type { InventoryHost } from './types.js';
import { describeValue } from './validate.js';

export interface ConnectionSpec {
  /** Inventory name. */
  host: string;
  address: string;
  port: number;
  user: string;
  privateKeyPath?: string;
  knownHostsFile?: string;
  become: boolean;
  becomeUser: string;
  becomePassword?: Secret;
  jump?: { address: string; port: number; user: string; privateKeyPath?: string };
  connectTimeoutMs: number;
}

type Jump = NonNullable<ConnectionSpec['jump']>;

/**
 * Connection settings from the command line (`-u`, `--private-key`, `-b`, `--become-user`, `-K`,
 * `--ssh-common-args`, `-T`) or ansible.cfg: as in Ansible, a host's connection variables override them.
 */
export interface ConnectionDefaults {
  user?: string;
  privateKeyFile?: string;
  become?: boolean;
  becomeUser?: string;
  becomePassword?: Secret;
  sshCommonArgs?: string;
  timeoutSeconds?: number;
}

/**
 * How to reach a host, from Ansible's connection variables. When Ansible accepts several names for one setting,
 * the later name of its list wins, as in Ansible (e.g. `ansible_ssh_host` over `ansible_host`).
 */
export function connectionSpecFor(
  host: InventoryHost, inventoryFile: string, env: NodeJS.ProcessEnv = process.env, defaults: ConnectionDefaults = {},
): ConnectionSpec {
  const r = new VarReader(host, inventoryFile);
  const home = env.HOME || os.homedir();
  const localUser = () => currentUser(env);

  const connection = r.string(['ansible_connection']);
  if (connection !== undefined && !['ssh', 'smart', 'paramiko', 'paramiko_ssh'].includes(connection)) {
    throw r.error('ansible_connection', `connection '${connection}' is not supported: provision connects over SSH (use ssh, or leave it unset)`);
  }

  const user = r.string(['ansible_user', 'ansible_ssh_user']) ?? defaults.user ?? localUser();
  const keyFile = r.string(['ansible_private_key_file', 'ansible_ssh_private_key_file']) ?? defaults.privateKeyFile;
  const privateKeyPath = keyFile !== undefined ? expandHome(keyFile, home) : undefined;
  const commonArgs = host.vars.ansible_ssh_common_args === undefined && defaults.sshCommonArgs !== undefined
    ? shlexSplit(defaults.sshCommonArgs).map((w) => ({ text: w.text, from: '--ssh-common-args' }))
    : r.args('ansible_ssh_common_args');
  const sshArgs = [...commonArgs, ...r.args('ansible_ssh_extra_args')];

  const spec: ConnectionSpec = {
    host: host.name,
    address: r.string(['ansible_host', 'ansible_ssh_host']) ?? host.name,
    port: r.port(['ansible_port', 'ansible_ssh_port']) ?? 22,
    user,
    become: r.bool(['ansible_become']) ?? defaults.become ?? false,
    becomeUser: r.string(['ansible_become_user']) ?? defaults.becomeUser ?? 'root',
    connectTimeoutMs: (r.seconds(['ansible_timeout', 'ansible_ssh_timeout']) ?? defaults.timeoutSeconds ?? 10) * 1000,
  };
  if (privateKeyPath) spec.privateKeyPath = privateKeyPath;

  const known = r.string(['provision_known_hosts_file']) ?? sshOption(sshArgs.map((a) => a.text), 'UserKnownHostsFile');
  if (known) spec.knownHostsFile = expandHome(known, home);

  const becomePassword = r.secret(['ansible_become_password', 'ansible_become_pass']) ?? defaults.becomePassword;
  if (becomePassword) spec.becomePassword = becomePassword;

  const jumpKey = r.string(['provision_jump_private_key_file']);
  const jumpDefaults = { user: localUser(), privateKeyPath: jumpKey !== undefined ? expandHome(jumpKey, home) : privateKeyPath };
  const explicit = r.string(['provision_jump_host']);
  if (explicit !== undefined) {
    spec.jump = parseJump(explicit, jumpDefaults, (m) => r.error('provision_jump_host', m));
  } else {
    const jump = jumpFromSshArgs(sshArgs, jumpDefaults, (name, m) => r.error(name, m));
    if (jump) spec.jump = jump;
  }
  return spec;
}

/**
 * Every role needs root (packages, /etc, services): a spec that leaves commands running as another user can only
 * fail half-way (`mktemp: Permission denied`), and its --check would report changes it could never make.
 */
export function rootProblem(spec: Pick<ConnectionSpec, 'user' | 'become' | 'becomeUser'>): string | undefined {
  if (spec.become ? spec.becomeUser === 'root' : spec.user === 'root') return undefined;
  if (spec.become) return `become_user '${spec.becomeUser}' is not root: provision needs root on the hosts — set ansible_become_user: root (or leave it unset)`;
  return `connecting as '${spec.user}' (not root) without become: provision needs root on the hosts — set ansible_become: true (or connect as root)`;
}

function currentUser(env: NodeJS.ProcessEnv): string {
  try {
    return os.userInfo().username;
  } catch {
    return env.USER || env.LOGNAME || 'root';
  }
}

function expandHome(p: string, home: string): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return path.join(home, p.slice(2));
  return p;
}

/** Reads connection variables with their types; a wrong type → InputError at the value. */
class VarReader {
  constructor(private readonly host: InventoryHost, private readonly file: string) {}

  error(name: string, problem: string): InputError {
    const loc = this.host.varSources[name]?.locate([]);
    return new InputError(`${problem} (host ${this.host.name})`, loc?.file ?? this.file, loc?.line || undefined, loc?.column || undefined, name);
  }

  /** The last of `names` that is set (Ansible: later variable names of an option take precedence). */
  #pick(names: string[]): [string, unknown] | undefined {
    let found: [string, unknown] | undefined;
    for (const n of names) {
      const v = this.host.vars[n];
      if (v instanceof UnresolvedVar) throw v.error;
      if (v !== undefined && v !== null) found = [n, v];
    }
    return found;
  }

  string(names: string[]): string | undefined {
    const f = this.#pick(names);
    if (!f) return undefined;
    const [n, v0] = f;
    const v = v0 instanceof Secret ? v0.reveal() : v0; // a vaulted ansible_user / ansible_host: masked in output, used as is
    if (typeof v === 'number') return String(v);
    if (typeof v !== 'string' || v.trim() === '') throw this.error(n, `expected a non-empty string, got ${describeValue(v)}`);
    return v.trim();
  }

  port(names: string[]): number | undefined {
    const f = this.#pick(names);
    if (!f) return undefined;
    const [n, v] = f;
    const p = typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v;
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 65535) throw this.error(n, `expected a port from 1 to 65535, got ${describeValue(v)}`);
    return p;
  }

  seconds(names: string[]): number | undefined {
    const f = this.#pick(names);
    if (!f) return undefined;
    const [n, v] = f;
    const s = typeof v === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v;
    if (typeof s !== 'number' || !(s > 0) || !Number.isFinite(s)) throw this.error(n, `expected a timeout in seconds (a positive number), got ${describeValue(v)}`);
    return s;
  }

  /** Ansible's boolean(): true/false, yes/no, on/off, 1/0, y/n, t/f (any case). */
  bool(names: string[]): boolean | undefined {
    const f = this.#pick(names);
    if (!f) return undefined;
    const [n, v] = f;
    if (typeof v === 'boolean') return v;
    if (v === 1 || v === 0) return v === 1;
    if (typeof v === 'string') {
      const s = v.trim().toLowerCase();
      if (['yes', 'on', '1', 'true', 't', 'y'].includes(s)) return true;
      if (['no', 'off', '0', 'false', 'f', 'n', ''].includes(s)) return false;
    }
    throw this.error(n, `expected a boolean (true/false, yes/no), got ${describeValue(v)}`);
  }

  secret(names: string[]): Secret | undefined {
    const f = this.#pick(names);
    if (!f) return undefined;
    const [n, v] = f;
    if (v instanceof Secret) return v;
    if (typeof v === 'string' || typeof v === 'number') {
      registerSecretValue(String(v));
      return new Secret(String(v));
    }
    throw this.error(n, `expected a password string, got ${describeValue(v)}`);
  }

  /** Words of an ssh argument string, remembering which variable they came from. */
  args(name: string): { text: string; from: string }[] {
    const v = this.string([name]);
    if (v === undefined) return [];
    try {
      return shlexSplit(v).map((w) => ({ text: w.text, from: name }));
    } catch (e) {
      throw this.error(name, `cannot parse ssh arguments: ${(e as Error).message}`);
    }
  }
}

/** The value of `-o Name=value` / `-o Name value` / `-oName=value` in ssh arguments (first one wins, as in ssh). */
function sshOption(words: string[], option: string): string | undefined {
  const lower = option.toLowerCase();
  for (let i = 0; i < words.length; i++) {
    let opt: string | undefined;
    if (words[i] === '-o') opt = words[++i];
    else if (words[i].startsWith('-o')) opt = words[i].slice(2);
    if (opt === undefined) continue;
    const m = /^\s*([A-Za-z]+)\s*(?:=\s*|\s+)(.*)$/s.exec(opt);
    if (m && m[1].toLowerCase() === lower) return m[2].trim();
    if (!m && opt.toLowerCase() === lower && i + 1 < words.length) return words[i + 1];
  }
  return undefined;
}

/** `-o ProxyJump=…`, `-J …`, or the classic `-o ProxyCommand="ssh -W %h:%p [-p port] [user@]bastion"`. */
function jumpFromSshArgs(
  args: { text: string; from: string }[], defaults: { user: string; privateKeyPath?: string },
  error: (name: string, problem: string) => InputError,
): Jump | undefined {
  const words = args.map((a) => a.text);
  const from = args[0]?.from ?? 'ansible_ssh_common_args';
  const jIndex = words.indexOf('-J');
  const proxyJump = sshOption(words, 'ProxyJump') ?? (jIndex >= 0 ? words[jIndex + 1] : undefined);
  if (proxyJump !== undefined) {
    if (proxyJump.toLowerCase() === 'none') return undefined;
    return parseJump(proxyJump, defaults, (m) => error(from, m));
  }
  const proxyCommand = sshOption(words, 'ProxyCommand');
  if (proxyCommand === undefined || proxyCommand.toLowerCase() === 'none') return undefined;
  let cmd: string[];
  try {
    cmd = shlexSplit(proxyCommand).map((w) => w.text);
  } catch {
    cmd = [];
  }
  if (!/(^|\/)ssh$/.test(cmd[0] ?? '') || !cmd.includes('-W')) {
    throw error(from, `ProxyCommand '${proxyCommand}' is not supported: use -o ProxyJump=user@host:port or provision_jump_host`);
  }
  let port: number | undefined;
  let user: string | undefined;
  let key: string | undefined;
  let target: string | undefined;
  for (let i = 1; i < cmd.length; i++) {
    const w = cmd[i];
    if (w === '-W' || w === '-o' || w === '-F') i++;
    else if (w === '-p') port = Number(cmd[++i]);
    else if (w === '-l') user = cmd[++i];
    else if (w === '-i') key = cmd[++i];
    else if (/^-[qvCATNn46]+$/.test(w)) continue;
    else if (!w.startsWith('-')) target = w;
  }
  if (!target) throw error(from, `cannot find the jump host in ProxyCommand '${proxyCommand}'`);
  const jump = parseJump(target, defaults, (m) => error(from, m));
  if (user) jump.user = user;
  if (port !== undefined) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw error(from, `invalid port in ProxyCommand '${proxyCommand}'`);
    jump.port = port;
  }
  if (key) jump.privateKeyPath = key;
  return jump;
}

/** `[user@]host[:port]`, `[user@][v6addr]:port`, `ssh://[user@]host[:port]`; one hop only. */
export function parseJump(spec: string, defaults: { user: string; privateKeyPath?: string }, error: (problem: string) => InputError): Jump {
  const text = spec.trim().replace(/^ssh:\/\//, '');
  if (text.includes(',')) throw error(`only one jump host is supported, got '${spec}'`);
  const m = /^(?:([^@\s]+)@)?(\[[^\]]+\]|[^:@\s[\]]+)(?::(\d+))?$/.exec(text);
  if (!m) throw error(`expected a jump host as user@host:port, got '${spec}'`);
  const port = m[3] === undefined ? 22 : Number(m[3]);
  if (port < 1 || port > 65535) throw error(`invalid port ${m[3]} in jump host '${spec}'`);
  const jump: Jump = { address: m[2].replace(/^\[|\]$/g, ''), port, user: m[1] ?? defaults.user };
  if (defaults.privateKeyPath) jump.privateKeyPath = defaults.privateKeyPath;
  return jump;
}
