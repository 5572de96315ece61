import { parse, TomlError } from 'smol-toml';
import { InputError } from '../errors.js';
import { expandHostRange, splitHostPort } from './host-range.js';
import { rawValue } from './json-list-inventory.js';
import type { InventoryBuilder } from './model.js';
import { NO_LOCATION } from './var-source.js';

/**
 * Ansible's `toml` inventory plugin (files ending in .toml): top-level tables are groups with `vars` (a table),
 * `children` (a list of group names) and `hosts` (a table of host patterns → their variables). TOML is read with
 * smol-toml (TOML 1.0, as Python's tomllib that Debian's Ansible uses). TOML has no line per value here: errors
 * of the structure name the file and the group/host; syntax errors carry the line and column.
 */
export function parseTomlInventory(file: string, text: string, b: InventoryBuilder): void {
  let data: Record<string, unknown>;
  try {
    data = parse(text) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof TomlError) throw new InputError(`TOML syntax error: ${e.message.split('\n')[0].replace(/^Invalid TOML document: /, '')}`, file, e.line, e.column);
    throw e;
  }
  if (Object.keys(data).length === 0) throw new InputError('the TOML inventory is empty', file);
  if ('plugin' in data) throw new InputError('inventory plugin configuration files (plugin = …) are not supported; list hosts and groups instead (or use `ansible-inventory --list > inventory.json`)', file);
  for (const [group, g] of Object.entries(data)) parseGroup(file, b, group, g);
}

function parseGroup(file: string, b: InventoryBuilder, group: string, g: unknown): void {
  const loc = NO_LOCATION(file);
  if (g !== undefined && !isTable(g)) throw new InputError(`group '${group}' must be a table with 'hosts', 'vars' and/or 'children'`, file, undefined, undefined, group);
  b.addGroup(group, loc);
  for (const [key, data] of Object.entries(g ?? {})) {
    if (key === 'vars') {
      if (!isTable(data)) throw new InputError(`'vars' of group '${group}' must be a table`, file, undefined, undefined, `${group}.vars`);
      for (const [k, v] of Object.entries(data)) b.setGroupVar(group, k, { value: rawValue(v, file), node: { loc, keyLoc: loc }, file });
    } else if (key === 'children') {
      if (!Array.isArray(data) || data.some((c) => typeof c !== 'string' || c === '')) {
        throw new InputError(`'children' of group '${group}' must be a list of group names`, file, undefined, undefined, `${group}.children`);
      }
      for (const child of data as string[]) {
        parseGroup(file, b, child, {});
        b.addChild(group, child, loc);
      }
    } else if (key === 'hosts') {
      if (!isTable(data)) throw new InputError(`'hosts' of group '${group}' must be a table of host names`, file, undefined, undefined, `${group}.hosts`);
      for (const [pattern, vars] of Object.entries(data)) addHosts(file, b, group, pattern, vars);
    } else {
      throw new InputError(`unexpected key '${key}' in group '${group}': only 'hosts', 'vars' and 'children' are allowed`, file, undefined, undefined, group);
    }
  }
}

function addHosts(file: string, b: InventoryBuilder, group: string, pattern: string, vars: unknown): void {
  const loc = NO_LOCATION(file);
  let names: string[];
  let port: number | undefined;
  try {
    const hp = splitHostPort(pattern.trim());
    port = hp.port;
    names = expandHostRange(hp.name);
  } catch (e) {
    throw new InputError((e as Error).message, file, undefined, undefined, `${group}.hosts.${pattern}`);
  }
  if (vars !== undefined && !isTable(vars)) throw new InputError(`host '${pattern}' must map to a table of its variables`, file, undefined, undefined, `${group}.hosts.${pattern}`);
  for (const name of names) {
    b.addHost(name, group, loc);
    if (port !== undefined) b.setHostVar(name, 'ansible_port', { value: port, node: { loc, keyLoc: loc }, file });
    for (const [k, v] of Object.entries(vars ?? {})) b.setHostVar(name, k, { value: rawValue(v, file), node: { loc, keyLoc: loc }, file });
  }
}

function isTable(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date);
}
