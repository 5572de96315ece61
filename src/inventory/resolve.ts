import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InputError } from '../errors.js';
import { Secret, registerSecretValue } from '../secrets.js';
import { LookupRef, UnsafeText, VaultRef } from './markers.js';
import { VaultKeyring } from './vault.js';
import type { VarEntry } from './model.js';
import type { SourceLocation } from './types.js';
import { formatVarPath, TreeVarSource } from './var-source.js';

/** Names whose values are secrets even when written literally. */
export const SENSITIVE_NAME = /password|passwd|secret|token/i;

/** Names Ansible defines only while a play runs (facts, magic variables): references to them are left as written. */
const RUNTIME_NAMES = new Set([
  'hostvars', 'play_hosts', 'playbook_dir', 'role_path', 'role_name', 'item', 'omit', 'vars', 'environment',
  'ansible_facts', 'ansible_play_hosts', 'ansible_play_hosts_all', 'ansible_play_batch', 'ansible_check_mode',
  'ansible_loop', 'ansible_loop_var', 'ansible_index_var', 'ansible_local', 'ansible_version', 'ansible_limit',
  'ansible_run_tags', 'ansible_skip_tags', 'ansible_role_names', 'ansible_config_file', 'ansible_search_path',
]);

const MAX_DEPTH = 20;

export interface HostResolveContext {
  host: string;
  /** Every group of the host (ansible `group_names` is derived from it). */
  groups: string[];
  /** Group name → host names, for `{{ groups['x'] }}`. */
  allGroups: Record<string, string[]>;
  /** The inventory file that first declared the host. */
  inventoryFile?: string;
  env: NodeJS.ProcessEnv;
  /** Shared between hosts: a lookup is read once. */
  lookupCache: Map<string, Secret>;
  /** Passwords for `!vault` values. */
  vault?: VaultKeyring;
}

type Sensitivity = 'wrap' | 'register' | 'none';
class LeaveAsIs {}
const LEAVE = new LeaveAsIs();

/**
 * Turns the winning raw values of one host into final values: lookups become Secrets (read once), values named like
 * secrets become Secrets, `{{ name }}` references are resolved against the host's own variables.
 */
export function resolveHostVars(entries: Map<string, VarEntry>, ctx: HostResolveContext) {
  const vars: Record<string, unknown> = {};
  const varSources: Record<string, TreeVarSource> = {};
  const done = new Map<string, unknown>();
  const active: string[] = [];

  const magic = (name: string): unknown => {
    switch (name) {
      case 'inventory_hostname': return ctx.host;
      case 'inventory_hostname_short': return ctx.host.split('.')[0];
      case 'group_names': return ctx.groups.filter((g) => g !== 'all').sort();
      case 'groups': return ctx.allGroups;
      case 'inventory_file': return ctx.inventoryFile ? path.resolve(ctx.inventoryFile) : undefined;
      case 'inventory_dir': return ctx.inventoryFile ? path.dirname(path.resolve(ctx.inventoryFile)) : undefined;
      default: return undefined;
    }
  };

  const resolveName = (name: string, refLoc: SourceLocation, refPath: string): unknown => {
    if (done.has(name)) return done.get(name);
    const entry = entries.get(name)!;
    if (active.includes(name)) {
      const cycle = [...active.slice(active.indexOf(name)), name].join(' → ');
      throw new InputError(`variable references form a cycle: ${cycle}`, refLoc.file, refLoc.line, refLoc.column, refPath);
    }
    if (active.length >= MAX_DEPTH) {
      throw new InputError(`variable references nested more than ${MAX_DEPTH} deep (${active.join(' → ')})`, refLoc.file, refLoc.line, refLoc.column, refPath);
    }
    active.push(name);
    const src = new TreeVarSource(entry.file, entry.node);
    const value = resolveValue(entry.value, src, [name], SENSITIVE_NAME.test(name) ? 'wrap' : 'none');
    active.pop();
    done.set(name, value);
    return value;
  };

  const resolveValue = (raw: unknown, src: TreeVarSource, at: (string | number)[], sens: Sensitivity): unknown => {
    if (raw instanceof LookupRef) return lookup(raw, ctx);
    if (raw instanceof VaultRef) {
      const { file, line, column } = raw.loc;
      return new Secret((ctx.vault ?? new VaultKeyring()).decrypt(raw.ciphertext, file, line, column, formatVarPath(at)), 'vault');
    }
    if (raw instanceof Secret) return raw;
    if (raw instanceof UnsafeText) return finish(raw.text, sens);
    if (typeof raw === 'string') {
      const out = raw.includes('{{') ? template(raw, src, at) : raw;
      return typeof out === 'string' ? finish(out, sens) : out;
    }
    if (Array.isArray(raw)) return raw.map((v, i) => resolveValue(v, src, [...at, i], sens));
    if (raw !== null && typeof raw === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(raw)) {
        const childSens: Sensitivity = SENSITIVE_NAME.test(k) ? 'wrap' : sens === 'none' ? 'none' : 'register';
        Object.defineProperty(out, k, { value: resolveValue(v, src, [...at, k], childSens), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    return raw;
  };

  const template = (text: string, src: TreeVarSource, at: (string | number)[]): unknown => {
    if (/\{%|\{#/.test(text)) return text;
    const parts = [...text.matchAll(/\{\{([\s\S]*?)\}\}/g)];
    const exprs = parts.map((m) => parseSimpleExpr(m[1].replace(/^-/, '').replace(/-$/, '').trim()));
    if (exprs.some((e) => e === undefined)) return text; // other Jinja: left for whoever renders it
    const loc = src.locate(at.slice(1));
    const where = formatVarPath(at);
    const values: unknown[] = [];
    for (const expr of exprs) {
      const v = evaluate(expr!, loc, where);
      if (v === LEAVE) return text;
      values.push(v);
    }
    if (parts.length === 1 && parts[0][0] === text) return values[0];
    let out = '';
    let last = 0;
    let tainted = false;
    parts.forEach((m, i) => {
      out += text.slice(last, m.index);
      const v = values[i];
      if (v instanceof Secret) tainted = true;
      out += pyStr(v);
      last = m.index! + m[0].length;
    });
    out += text.slice(last);
    return tainted ? new Secret(out) : out;
  };

  const evaluate = (expr: SimpleExpr, loc: SourceLocation, where: string): unknown => {
    let value: unknown;
    if (entries.has(expr.root)) value = resolveName(expr.root, loc, where);
    else {
      value = magic(expr.root);
      if (value === undefined) {
        if (RUNTIME_NAMES.has(expr.root) || expr.root.startsWith('ansible_')) return LEAVE;
        throw new InputError(`'{{ ${expr.text} }}' refers to undefined variable '${expr.root}'`, loc.file, loc.line, loc.column, where);
      }
    }
    let shown = expr.root;
    for (const step of expr.steps) {
      const next = access(value, step);
      if (next === undefined) {
        throw new InputError(`'{{ ${expr.text} }}': ${shown} has no ${typeof step === 'number' ? `item ${step}` : `key '${step}'`}`, loc.file, loc.line, loc.column, where);
      }
      shown += typeof step === 'number' ? `[${step}]` : `.${step}`;
      value = next;
    }
    return value;
  };

  for (const name of entries.keys()) {
    vars[name] = resolveName(name, entries.get(name)!.node.loc, name);
    const e = entries.get(name)!;
    varSources[name] = new TreeVarSource(e.file, e.node);
  }
  return { vars, varSources };
}

function finish(text: string, sens: Sensitivity): string | Secret {
  if (sens === 'wrap') return new Secret(text);
  if (sens === 'register') registerSecretValue(text);
  return text;
}

interface SimpleExpr {
  text: string;
  root: string;
  steps: (string | number)[];
}

/** `name`, `name.key`, `name[0]`, `name['key']` — anything else is not a simple reference. */
function parseSimpleExpr(text: string): SimpleExpr | undefined {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z_][A-Za-z0-9_]*|\[\s*\d+\s*\]|\[\s*'[^']*'\s*\]|\[\s*"[^"]*"\s*\])*)$/.exec(text);
  if (!m) return undefined;
  const steps: (string | number)[] = [];
  for (const s of m[2].matchAll(/\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*(\d+)\s*\]|\[\s*'([^']*)'\s*\]|\[\s*"([^"]*)"\s*\]/g)) {
    steps.push(s[1] ?? (s[2] !== undefined ? Number(s[2]) : (s[3] ?? s[4])));
  }
  return { text, root: m[1], steps };
}

function access(value: unknown, step: string | number): unknown {
  if (Array.isArray(value)) return typeof step === 'number' ? value[step] : undefined;
  if (value !== null && typeof value === 'object' && !(value instanceof Secret)) {
    const key = String(step);
    return Object.prototype.hasOwnProperty.call(value, key) ? (value as Record<string, unknown>)[key] : undefined;
  }
  return undefined;
}

/** How Jinja (Python) prints a value inside a string. */
function pyStr(v: unknown): string {
  if (v instanceof Secret) return v.reveal();
  if (typeof v === 'string') return v;
  return pyRepr(v);
}

function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (v instanceof Secret) return `'${v.reveal()}'`;
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`).join(', ')}}`;
  return String(v);
}

function lookup(ref: LookupRef, ctx: HostResolveContext): Secret {
  const key = `${ref.kind}\0${ref.arg}\0${ref.baseDir}`;
  const cached = ctx.lookupCache.get(key);
  if (cached) return cached;
  let value: string;
  if (ref.kind === 'env') {
    const v = ctx.env[ref.arg];
    if (v === undefined && ref.fallback === undefined) {
      throw new InputError(`environment variable ${ref.arg} is not set (needed by ${ref.describe()})`, ref.loc.file, ref.loc.line, ref.loc.column);
    }
    value = v ?? ref.fallback!;
  } else {
    const home = ctx.env.HOME ?? os.homedir();
    const p = ref.arg.startsWith('~/') || ref.arg === '~' ? path.join(home, ref.arg.slice(1)) : path.resolve(ref.baseDir, ref.arg);
    try {
      value = readFileSync(p, 'utf8').replace(/\s+$/, ''); // Ansible's file lookup strips trailing whitespace
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
      throw new InputError(`cannot read ${p} for ${ref.describe()}: ${why}`, ref.loc.file, ref.loc.line, ref.loc.column);
    }
  }
  const secret = new Secret(value, `${ref.kind}:${ref.arg}`);
  registerSecretValue(value);
  ctx.lookupCache.set(key, secret);
  return secret;
}
