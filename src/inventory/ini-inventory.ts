import { InputError } from '../errors.js';
import { expandHostRange, splitHostPort } from './host-range.js';
import { LookupRef, parseLookupMapping, parseLookupString } from './markers.js';
import type { InventoryBuilder } from './model.js';
import { parsePyLiteral } from './py-literal.js';
import { shlexSplit } from './shlex.js';
import type { SourceLocation } from './types.js';

/**
 * ansible-core runs `[group:vars]` values through literal_eval exactly like host-line values (`x=42` → 42,
 * `x=False` → false), although its documentation says they stay strings (ansible/ansible#86229). We follow the code.
 */
const TYPE_VARS_SECTION_VALUES = true;

const SECTION = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$/;
const GROUP_NAME = /^([^:\]\s]+)\s*(?:#.*)?$/;

interface Pending {
  state: 'vars' | 'children';
  loc: SourceLocation;
  parents: { name: string; loc: SourceLocation }[];
}

/** Ansible's `ini` inventory plugin, line by line, with the same rules and typing of values. */
export function parseIniInventory(file: string, text: string, baseDir: string, b: InventoryBuilder): void {
  const pending = new Map<string, Pending>();
  let group = 'ungrouped';
  let state = 'hosts';
  const lines = text.split(/\r\n|\r|\n/);
  lines.forEach((raw, index) => {
    const lineNo = index + 1;
    const indent = raw.length - raw.trimStart().length;
    const line = raw.trim();
    const at = (column = indent + 1): SourceLocation => ({ file, line: lineNo, column });
    const err = (problem: string, column?: number): never => {
      const l = at(column);
      throw new InputError(problem, l.file, l.line, l.column);
    };
    if (!line || line[0] === '#' || line[0] === ';') return;

    const m = SECTION.exec(line);
    if (m) {
      group = m[1];
      state = m[2] ?? 'hosts';
      if (!['hosts', 'children', 'vars'].includes(state)) err(`section [${m[1]}:${m[2]}] has unknown type '${m[2]}': use :vars or :children`);
      if (!b.groups.has(group)) {
        if (state === 'vars' && !pending.has(group)) pending.set(group, { state: 'vars', loc: at(), parents: [] });
        b.addGroup(group, state === 'vars' ? undefined : at(indent + 2));
      } else if (state !== 'vars') {
        b.addGroup(group, at(indent + 2));
      }
      const waiting = pending.get(group);
      if (waiting && state !== 'vars') {
        if (waiting.state === 'children') addPendingChildren(b, group, pending);
        else pending.delete(group);
      }
      return;
    }
    if (line.startsWith('[') && line.endsWith(']')) {
      err(`invalid section '${line}': a section is [group], [group:vars] or [group:children], without spaces`);
    }

    if (state === 'hosts') {
      parseHostLine(raw, at, b, group, baseDir, err);
    } else if (state === 'vars') {
      const eq = line.indexOf('=');
      if (eq < 0) err(`expected key=value in [${group}:vars], got '${line}'`);
      const key = line.slice(0, eq).trim();
      const valueText = line.slice(eq + 1).trim();
      const valueCol = raw.indexOf(valueText, raw.indexOf('=') + 1) + 1;
      if (!key) err(`missing variable name before '=' in [${group}:vars]`);
      const loc = at(valueText ? valueCol : raw.indexOf('=') + 2);
      const value = TYPE_VARS_SECTION_VALUES ? iniValue(valueText, baseDir, loc) : markLookups(valueText, baseDir, loc);
      b.setGroupVar(group, key, { value, node: { loc, keyLoc: at() }, file });
    } else {
      const g = GROUP_NAME.exec(line);
      if (!g) err(`expected a group name in [${group}:children], got '${line}'`);
      const child = g![1];
      if (!b.groups.has(child)) {
        const p = pending.get(child);
        if (p) p.parents.push({ name: group, loc: at() });
        else pending.set(child, { state: 'children', loc: at(), parents: [{ name: group, loc: at() }] });
      } else {
        b.addChild(group, child, at());
      }
    }
  });

  for (const [name, decl] of pending) {
    const problem = decl.state === 'vars'
      ? `section [${name}:vars] is for group '${name}', which is not declared anywhere (add a [${name}] section or list it under some [group:children])`
      : `section [${decl.parents[decl.parents.length - 1].name}:children] names group '${name}', which is not declared anywhere (add a [${name}] section)`;
    const loc = decl.state === 'vars' ? decl.loc : decl.parents[decl.parents.length - 1].loc;
    throw new InputError(problem, loc.file, loc.line, loc.column);
  }
}

function addPendingChildren(b: InventoryBuilder, group: string, pending: Map<string, Pending>): void {
  const decl = pending.get(group)!;
  for (const parent of decl.parents) {
    b.addChild(parent.name, group, parent.loc);
    if (pending.get(parent.name)?.state === 'children') addPendingChildren(b, parent.name, pending);
  }
  pending.delete(group);
}

function parseHostLine(
  raw: string, at: (col?: number) => SourceLocation, b: InventoryBuilder, group: string, baseDir: string,
  err: (problem: string, column?: number) => never,
): void {
  let words;
  try {
    words = shlexSplit(raw);
  } catch (e) {
    return err(`cannot parse host line: ${(e as Error).message}`);
  }
  if (words.length === 0) return;
  const first = words[0];
  const hostLoc = at(first.start + 1);
  if (first.text.trim() === '---') err(`'---' is not a host: this looks like a YAML file (name it .yml)`, first.start + 1);
  let names: string[];
  let port: number | undefined;
  try {
    const hp = splitHostPort(first.text);
    port = hp.port;
    names = expandHostRange(hp.name);
  } catch (e) {
    return err((e as Error).message, first.start + 1);
  }
  const vars: { key: string; value: unknown; loc: SourceLocation; keyLoc: SourceLocation }[] = [];
  for (const w of words.slice(1)) {
    const eq = w.text.indexOf('=');
    if (eq < 0) err(`expected key=value host variable assignment, got '${w.text}'`, w.start + 1);
    if (eq === 0) err(`missing variable name before '=' in '${w.text}'`, w.start + 1);
    const loc = at(w.start + eq + 2);
    vars.push({ key: w.text.slice(0, eq), value: iniValue(w.text.slice(eq + 1), baseDir, loc), loc, keyLoc: at(w.start + 1) });
  }
  for (const name of names) {
    b.addHost(name, group, hostLoc);
    if (port !== undefined) b.setHostVar(name, 'ansible_port', { value: port, node: { loc: hostLoc, keyLoc: hostLoc }, file: hostLoc.file });
    for (const v of vars) b.setHostVar(name, v.key, { value: v.value, node: { loc: v.loc, keyLoc: v.keyLoc }, file: v.loc.file });
  }
}

/** Ansible types INI values with Python's literal_eval (numbers, True/False/None, quoted strings, lists, dicts); the rest stays text. */
export function iniValue(text: string, baseDir: string, loc: SourceLocation): unknown {
  const lit = parsePyLiteral(text);
  const value = lit.ok ? lit.value : text;
  return markLookups(value, baseDir, loc);
}

function markLookups(value: unknown, baseDir: string, loc: SourceLocation): unknown {
  if (typeof value === 'string') return parseLookupString(value, baseDir, loc) ?? value;
  if (Array.isArray(value)) return value.map((v) => markLookups(v, baseDir, loc));
  if (value !== null && typeof value === 'object' && !(value instanceof LookupRef)) {
    const obj = value as Record<string, unknown>;
    const lookup = parseLookupMapping(obj, baseDir, loc);
    if (lookup) return lookup;
    for (const k of Object.keys(obj)) obj[k] = markLookups(obj[k], baseDir, loc);
  }
  return value;
}
