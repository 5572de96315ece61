import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InputError } from '../errors.js';
import { Secret, redact, registerSecretValue } from '../secrets.js';
import { renderTemplate, isTemplate, TemplateFailure, type TemplateScope } from './jinja.js';
import { JinjaUndefined, LazyMapping, UndefinedUse } from './jinja-values.js';
import { LookupRef, UnresolvedVar, UnsafeText, VaultRef } from './markers.js';
import { VaultKeyring } from './vault.js';
import type { VarEntry } from './model.js';
import type { SourceLocation } from './types.js';
import { formatVarPath, TreeVarSource } from './var-source.js';

/** Names whose values are secrets even when written literally. */
export const SENSITIVE_NAME = /password|passwd|secret|token/i;

/** Names Ansible defines only while a play runs (facts, play and loop variables): undefined when provision reads the inventory. */
const RUNTIME_NAMES = new Set([
  'play_hosts', 'playbook_dir', 'role_path', 'role_name', 'item', 'omit', 'environment',
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
  /** `hostvars`: every host's variables, resolved on demand. */
  hostvars?: LazyMapping;
  /** `lookup('pipe', …)` runs a command on the controller: off unless enabled. */
  allowPipe?: boolean;
}

type Sensitivity = 'wrap' | 'register' | 'none';

/**
 * Errors reported where the variable is used, as in Ansible: templates (undefined names used, unsupported constructs)
 * and inline `!vault` values. Lookup, vault-file and cycle errors are reported at load.
 */
const LAZY = new WeakSet<InputError>();

/**
 * One host's variables, resolved on demand like Ansible's lazy templating: a value is computed when it is first read
 * (by another template, by `hostvars`, or by `all()`); lookups become Secrets (read once), values named like secrets
 * become Secrets, and strings with Jinja are rendered. A value that cannot be computed (an undefined name used, an
 * unsupported construct) becomes an UnresolvedVar: an error only where the variable is used.
 */
export class HostVarsResolver {
  readonly #done = new Map<string, unknown>();
  readonly #active: string[] = [];

  constructor(readonly entries: Map<string, VarEntry>, readonly ctx: HostResolveContext) {}

  /** Every variable: values, with failures kept as UnresolvedVar markers. */
  all(): { vars: Record<string, unknown>; varSources: Record<string, TreeVarSource> } {
    const vars: Record<string, unknown> = {};
    const varSources: Record<string, TreeVarSource> = {};
    for (const [name, e] of this.entries) {
      try {
        vars[name] = this.get(name);
      } catch (err) {
        if (!(err instanceof InputError) || !LAZY.has(err)) throw err;
        vars[name] = new UnresolvedVar(err);
      }
      varSources[name] = new TreeVarSource(e.file, e.node);
    }
    return { vars, varSources };
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  /** The value of a variable of this host (undefined if it has none); throws the InputError of one that fails. */
  get(name: string, refLoc?: SourceLocation, refPath?: string): unknown {
    if (this.#done.has(name)) {
      const v = this.#done.get(name);
      if (v instanceof UnresolvedVar) throw v.error;
      return v;
    }
    const entry = this.entries.get(name);
    if (!entry) return undefined;
    const loc = refLoc ?? entry.node.loc;
    if (this.#active.includes(name)) {
      const cycle = [...this.#active.slice(this.#active.indexOf(name)), name].join(' → ');
      throw new InputError(`variable references form a cycle: ${cycle}`, loc.file, loc.line, loc.column, refPath ?? name);
    }
    if (this.#active.length >= MAX_DEPTH) {
      throw new InputError(`variable references nested more than ${MAX_DEPTH} deep (${this.#active.join(' → ')})`, loc.file, loc.line, loc.column, refPath ?? name);
    }
    this.#active.push(name);
    try {
      const src = new TreeVarSource(entry.file, entry.node);
      const value = this.#value(entry.value, src, [name], SENSITIVE_NAME.test(name) ? 'wrap' : 'none', entry);
      this.#done.set(name, value);
      return value;
    } catch (e) {
      if (e instanceof InputError) this.#done.set(name, new UnresolvedVar(e));
      throw e;
    } finally {
      this.#active.pop();
    }
  }

  #value(raw: unknown, src: TreeVarSource, at: (string | number)[], sens: Sensitivity, entry: VarEntry): unknown {
    if (raw instanceof LookupRef) return lookup(raw, this.ctx);
    if (raw instanceof VaultRef) {
      const { file, line, column } = raw.loc;
      try {
        return new Secret((this.ctx.vault ?? new VaultKeyring()).decrypt(raw.ciphertext, file, line, column, formatVarPath(at)), 'vault');
      } catch (e) {
        // Like Ansible, an inline vault value is decrypted when used: without (the right) password, only its users fail.
        if (e instanceof InputError) LAZY.add(e);
        throw e;
      }
    }
    if (raw instanceof Secret) return raw;
    if (raw instanceof UnsafeText) return finish(raw.text, sens);
    if (typeof raw === 'string') {
      if (!isTemplate(raw)) return finish(raw, sens);
      const out = this.#render(raw, src, at, entry);
      return typeof out === 'string' ? finish(out, sens) : out;
    }
    if (Array.isArray(raw)) return raw.map((v, i) => this.#value(v, src, [...at, i], sens, entry));
    if (raw !== null && typeof raw === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(raw)) {
        const childSens: Sensitivity = SENSITIVE_NAME.test(k) ? 'wrap' : sens === 'none' ? 'none' : 'register';
        Object.defineProperty(out, k, { value: this.#value(v, src, [...at, k], childSens, entry), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    return raw;
  }

  #render(text: string, src: TreeVarSource, at: (string | number)[], entry: VarEntry): unknown {
    const loc = src.locate(at.slice(1));
    const where = formatVarPath(at);
    const baseDir = path.dirname(path.resolve(entry.file));
    let r;
    try {
      r = renderTemplate(text, this.#scope(loc, where, baseDir));
    } catch (e) {
      if (!(e instanceof TemplateFailure)) throw e;
      const shown = text.length > 80 ? `${text.slice(0, 77)}...` : text;
      const problem = e.kind === 'unsupported' ? `unsupported Jinja construct in '${shown}': ${e.message}` : `'${shown}': ${e.message}`;
      const err = new InputError(redact(problem), loc.file, loc.line, loc.column, where);
      LAZY.add(err);
      throw err;
    }
    if (r.secret) {
      if (typeof r.value === 'string') return new Secret(r.value, 'template');
      registerStrings(r.value);
    }
    return r.value;
  }

  #scope(loc: SourceLocation, where: string, baseDir: string): TemplateScope {
    return {
      lookup: (name) => {
        if (this.entries.has(name)) return this.get(name, loc, where);
        const m = this.#magic(name);
        if (m !== undefined) return m;
        if (RUNTIME_NAMES.has(name) || (name.startsWith('ansible_') && !name.startsWith('ansible_ssh') && name !== 'ansible_host')) {
          return new JinjaUndefined(`'${name}' is undefined (facts and play variables do not exist yet when provision reads the inventory)`);
        }
        return undefined;
      },
      lookupPlugin: (plugin, terms, kw) => lookupPlugin(plugin, terms, kw, this.ctx, baseDir, loc),
    };
  }

  #magic(name: string): unknown {
    const ctx = this.ctx;
    switch (name) {
      case 'inventory_hostname': return ctx.host;
      case 'inventory_hostname_short': return ctx.host.split('.')[0];
      case 'group_names': return ctx.groups.filter((g) => g !== 'all' && g !== 'ungrouped').sort();
      case 'groups': return ctx.allGroups;
      case 'hostvars': return ctx.hostvars;
      case 'vars': return new LazyMapping('vars', () => this.names(), (k) => this.get(k));
      case 'inventory_file': return ctx.inventoryFile ? path.resolve(ctx.inventoryFile) : undefined;
      case 'inventory_dir': return ctx.inventoryFile ? path.dirname(path.resolve(ctx.inventoryFile)) : undefined;
      default: return undefined;
    }
  }
}

/** Kept for callers that resolve one host alone. */
export function resolveHostVars(entries: Map<string, VarEntry>, ctx: HostResolveContext) {
  return new HostVarsResolver(entries, ctx).all();
}

function finish(text: string, sens: Sensitivity): string | Secret {
  if (sens === 'wrap') return new Secret(text);
  if (sens === 'register') registerSecretValue(text);
  return text;
}

function registerStrings(v: unknown): void {
  if (typeof v === 'string') registerSecretValue(v);
  else if (Array.isArray(v)) v.forEach(registerStrings);
  else if (v !== null && typeof v === 'object') Object.values(v).forEach(registerStrings);
}

/** `lookup(...)` inside a template: env, file, vars, pipe (only when enabled). Results are Secrets. */
function lookupPlugin(plugin: string, terms: unknown[], kw: Record<string, unknown>, ctx: HostResolveContext, baseDir: string, loc: SourceLocation): unknown[] {
  const str = (t: unknown) => (t instanceof Secret ? t.reveal() : String(t));
  switch (plugin) {
    case 'env':
      return terms.map((t) => lookup(new LookupRef('env', str(t), baseDir, loc, kw.default === undefined ? undefined : String(kw.default)), ctx));
    case 'file':
      return terms.map((t) => lookup(new LookupRef('file', str(t), baseDir, loc), ctx));
    case 'vars':
      return terms.map((t) => {
        const v = ctx.hostvars?.get(ctx.host) instanceof LazyMapping ? (ctx.hostvars.get(ctx.host) as LazyMapping).get(str(t)) : undefined;
        if (v === undefined) {
          if ('default' in kw) return kw.default;
          throw new UndefinedUse(`No variable found with this name: ${str(t)}`);
        }
        return v;
      });
    case 'pipe':
      if (!ctx.allowPipe) throw new TemplateFailure('unsupported', "lookup('pipe') runs commands on the controller and is off (set PROVISION_ALLOW_PIPE_LOOKUP=1 to allow it)");
      return terms.map((t) => {
        const r = spawnSync('sh', ['-c', str(t)], { encoding: 'utf8', cwd: baseDir, env: ctx.env });
        if (r.status !== 0) throw new TemplateFailure('error', `lookup('pipe', '${str(t)}') exited with ${r.status ?? r.signal}`);
        const out = r.stdout.replace(/\n$/, '');
        registerSecretValue(out);
        return new Secret(out, 'pipe');
      });
    default:
      throw new TemplateFailure('unsupported', `lookup('${plugin}') (supported: env, file, vars, pipe when enabled)`);
  }
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
