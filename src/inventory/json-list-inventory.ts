import { execFile } from 'node:child_process';
import { accessSync, constants, openSync, readSync, closeSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';
import { UnsafeText, VaultRef, parseLookupString } from './markers.js';
import type { InventoryBuilder } from './model.js';
import { NO_LOCATION } from './var-source.js';

/**
 * The JSON an inventory script prints for `--list` (Ansible's `script` plugin), which is also what
 * `ansible-inventory --list` prints: `{group: {hosts: [...], vars: {...}, children: [...]}, _meta: {hostvars: {...}}}`.
 * Like Ansible: a group given as a list is its hosts; a group mapping without hosts/vars/children is one host of that
 * name with those variables; without `_meta.hostvars` the script is asked `--host H` for each host.
 * `{"__ansible_vault": …}` and `{"__ansible_unsafe": …}` read back as `!vault` and `!unsafe` values (Ansible's JSON decoder).
 */

/** Ansible's script plugin: an executable file, or one starting with `#!`. */
export function isInventoryScript(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    const fd = openSync(file, 'r');
    try {
      const head = Buffer.alloc(2);
      readSync(fd, head, 0, 2, 0);
      return head.toString('latin1') === '#!';
    } finally {
      closeSync(fd);
    }
  }
}

/** `file --list` (and `file --host H` when needed), parsed into the builder. */
export async function runInventoryScript(file: string, b: InventoryBuilder): Promise<void> {
  const list = await runScript(file, ['--list']);
  const data = parseScriptJson(list, file, '--list');
  await addListFormat(data, file, b, async (host) => {
    const out = await runScript(file, ['--host', host]);
    return out.trim() === '' ? {} : parseScriptJson(out, file, `--host ${host}`);
  });
}

/** Is this parsed JSON/YAML file the --list format (rather than the yaml plugin's)? Its `_meta.hostvars` says so. */
export function isListFormat(data: unknown): data is Record<string, unknown> {
  const meta = isMapping(data) ? data._meta : undefined;
  return isMapping(meta) && 'hostvars' in meta;
}

/** Add the groups, hosts and variables of --list output. `hostVars` answers for hosts when `_meta.hostvars` is absent. */
export async function addListFormat(
  data: Record<string, unknown>, file: string, b: InventoryBuilder, hostVars?: (host: string) => Promise<unknown>,
): Promise<void> {
  const loc = NO_LOCATION(file);
  const hosts = new Set<string>();
  let meta: unknown;
  for (const [group, raw] of Object.entries(data)) {
    if (group === '_meta') {
      if (isMapping(raw) && 'hostvars' in raw) meta = raw.hostvars;
      continue;
    }
    b.addGroup(group, loc);
    let g: Record<string, unknown> = isMapping(raw) ? raw : { hosts: raw };
    if (isMapping(raw) && !['hosts', 'vars', 'children'].some((k) => k in raw)) g = { hosts: [group], vars: raw };
    if ('hosts' in g) {
      if (!Array.isArray(g.hosts)) throw new InputError(`group '${group}' has bad data for the host list: it must be a list of host names`, file);
      for (const h of g.hosts) {
        if (typeof h !== 'string' || h === '') throw new InputError(`group '${group}': host names must be non-empty strings, got ${JSON.stringify(h)}`, file);
        hosts.add(h);
        b.addHost(h, group, loc);
      }
    }
    if ('vars' in g) {
      if (!isMapping(g.vars)) throw new InputError(`group '${group}' has bad data for variables: 'vars' must be a mapping`, file);
      for (const [k, v] of Object.entries(g.vars)) b.setGroupVar(group, k, { value: rawValue(v, file), node: { loc, keyLoc: loc }, file });
    }
    if ('children' in g) {
      if (!Array.isArray(g.children)) throw new InputError(`group '${group}': 'children' must be a list of group names`, file);
      for (const c of g.children) {
        if (typeof c !== 'string' || c === '') throw new InputError(`group '${group}': child group names must be non-empty strings`, file);
        b.addGroup(c, loc);
        b.addChild(group, c, loc);
      }
    }
  }
  if (meta !== undefined && !isMapping(meta)) throw new InputError("'_meta.hostvars' must be a mapping of host names to variables", file);
  for (const h of hosts) {
    const got = meta !== undefined ? meta[h] ?? {} : hostVars ? await hostVars(h) : {};
    if (!isMapping(got)) throw new InputError(`improperly formatted host information for ${h}: it must be a mapping of variables`, file);
    for (const [k, v] of Object.entries(got)) b.setHostVar(h, k, { value: rawValue(v, file), node: { loc, keyLoc: loc }, file });
  }
}

/**
 * Parsed JSON/TOML data as the loaders' raw values: vault/unsafe objects to their markers, lookup strings to
 * LookupRefs, TOML dates to their ISO text (as Ansible's JSON output shows them), big integers to numbers.
 */
export function rawValue(v: unknown, file: string): unknown {
  const loc = NO_LOCATION(file);
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'string') return parseLookupString(v, path.dirname(path.resolve(file)), loc) ?? v;
  if (Array.isArray(v)) return v.map((x) => rawValue(x, file));
  if (isMapping(v)) {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === '__ansible_vault' && typeof v.__ansible_vault === 'string') return new VaultRef(v.__ansible_vault, loc);
    if (keys.length === 1 && keys[0] === '__ansible_unsafe' && typeof v.__ansible_unsafe === 'string') return new UnsafeText(v.__ansible_unsafe);
    return Object.fromEntries(keys.map((k) => [k, rawValue(v[k], file)]));
  }
  return v;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function runScript(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    // No shell; a bound so a hanging script fails instead of stalling the run.
    execFile(path.resolve(file), args, { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 120_000 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const e = err as NodeJS.ErrnoException & { code?: unknown; killed?: boolean };
      const why = e.killed ? 'did not finish within 120 s'
        : typeof e.code === 'number' ? `exited with status ${e.code}`
          : `could not be run (${e.message.split('\n')[0]}; an executable inventory script needs its #! interpreter and the execute bit)`;
      const detail = stderr.trim().split('\n').slice(-3).join(' / ');
      reject(new InputError(`inventory script \`${path.basename(file)} ${args.join(' ')}\` ${why}${detail ? `: ${detail}` : ''}`, file));
    });
  });
}

function parseScriptJson(text: string, file: string, what: string): Record<string, unknown> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new InputError(`inventory script output of ${what} is not JSON: ${(e as Error).message}`, file);
  }
  if (!isMapping(data)) throw new InputError(`inventory script output of ${what} must be a JSON object`, file);
  return data;
}
