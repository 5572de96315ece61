import { existsSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InputError } from '../errors.js';

/**
 * The ansible.cfg keys provision reads, found as Ansible finds the file: $ANSIBLE_CONFIG, ./ansible.cfg,
 * ~/.ansible.cfg, /etc/ansible/ansible.cfg (the first that exists). Any other key is ignored (listed under --verbose).
 */
export interface AnsibleCfg {
  file: string;
  /** `[defaults] inventory`: comma-separated paths, relative to the cfg file's directory. */
  inventory?: string[];
  remoteUser?: string;
  privateKeyFile?: string;
  /** `[defaults] host_key_checking`. */
  hostKeyChecking?: boolean;
  forks?: number;
  timeout?: number;
  /** `[privilege_escalation] become`, `become_user`. */
  become?: boolean;
  becomeUser?: string;
  /** Keys present but not read by provision, as `section.key`. */
  ignored: string[];
}

const READ: Record<string, string[]> = {
  defaults: ['inventory', 'hostfile', 'remote_user', 'private_key_file', 'host_key_checking', 'forks', 'timeout'],
  privilege_escalation: ['become', 'become_user'],
};

export function findAnsibleCfg(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string | undefined {
  const home = env.HOME || os.homedir();
  const candidates = [
    env.ANSIBLE_CONFIG ? (isDir(env.ANSIBLE_CONFIG) ? path.join(env.ANSIBLE_CONFIG, 'ansible.cfg') : env.ANSIBLE_CONFIG) : undefined,
    path.join(cwd, 'ansible.cfg'),
    path.join(home, '.ansible.cfg'),
    '/etc/ansible/ansible.cfg',
  ];
  return candidates.find((c) => c !== undefined && existsSync(c) && !isDir(c));
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Python configparser's booleans, as Ansible's `boolean` type accepts them. */
function bool(v: string, file: string, line: number, key: string): boolean {
  const s = v.toLowerCase();
  if (['1', 'yes', 'true', 'on', 'y', 't'].includes(s)) return true;
  if (['0', 'no', 'false', 'off', 'n', 'f'].includes(s)) return false;
  throw new InputError(`${key} must be a boolean (true/false, yes/no), got '${v}'`, file, line, undefined, key);
}

function int(v: string, file: string, line: number, key: string, min: number): number {
  if (!/^\d+$/.test(v) || Number(v) < min) throw new InputError(`${key} must be a whole number of at least ${min}, got '${v}'`, file, line, undefined, key);
  return Number(v);
}

export function readAnsibleCfg(file: string, env: NodeJS.ProcessEnv = process.env): AnsibleCfg {
  const home = env.HOME || os.homedir();
  const out: AnsibleCfg = { file, ignored: [] };
  const expand = (p: string) => (p.startsWith('~/') || p === '~' ? path.join(home, p.slice(1)) : p);
  let section = '';
  readFileSync(file, 'utf8').split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const text = raw.replace(/\s;.*$/, '').trim(); // configparser: whole-line # and ; comments, inline ` ;`
    if (!text || text.startsWith('#') || text.startsWith(';')) return;
    const sec = /^\[([^\]]+)\]$/.exec(text);
    if (sec) {
      section = sec[1]!.trim();
      return;
    }
    const kv = /^([^=:]+?)\s*[=:]\s*(.*)$/.exec(text);
    if (!kv) throw new InputError(`expected 'key = value' or a [section]`, file, line);
    const key = kv[1]!.trim().toLowerCase();
    const value = kv[2]!.trim();
    if (!READ[section]?.includes(key)) {
      out.ignored.push(`${section}.${key}`);
      return;
    }
    const name = `${section}.${key}`;
    switch (key) {
      case 'inventory':
      case 'hostfile':
        out.inventory = value.split(',').map((s) => s.trim()).filter(Boolean).map((p) => path.resolve(path.dirname(file), expand(p)));
        break;
      case 'remote_user': out.remoteUser = value; break;
      case 'private_key_file': out.privateKeyFile = path.resolve(path.dirname(file), expand(value)); break;
      case 'host_key_checking': out.hostKeyChecking = bool(value, file, line, name); break;
      case 'forks': out.forks = int(value, file, line, name, 1); break;
      case 'timeout': out.timeout = int(value, file, line, name, 1); break;
      case 'become': out.become = bool(value, file, line, name); break;
      case 'become_user': out.becomeUser = value; break;
    }
  });
  return out;
}
