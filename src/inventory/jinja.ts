import nunjucks from 'nunjucks';
import { ProvisionError } from '../errors.js';
import { Secret } from '../secrets.js';
import { parsePyLiteral } from './py-literal.js';
import { ansibleFilters, FilterError, pyRegex, splitArgs, type Filter } from './jinja-filters.js';
import { JinjaUndefined, LazyMapping, UndefinedUse, isUndefined, pyStr, pyTypeName, taint, unwrap } from './jinja-values.js';

/**
 * Jinja templates evaluated like Ansible 2.14 (jinja2_native off), on nunjucks — the most complete Jinja2
 * implementation for JavaScript (same syntax for `{{ }}`, `{% if/for/set/macro %}`, `is` tests, `~`, filters with
 * positional and keyword arguments, inline if; with its Jinja-compat mode: `True/False/None`, slices, dict.items()).
 * What differs from Jinja2 is patched here: values print as Python prints them, undefined names are Ansible's
 * StrictUndefined (fine to test or default, an error where used), negative indexes, Python string methods.
 *
 * Result types follow Ansible: a bare `{{ name }}` whose value is a number or boolean keeps it; any other template
 * renders to text, and text that looks like a list, dict, True or False is read back as a Python literal
 * (so `{{ port + 1 }}` is the string "8884", `{{ [a, b] }}` a list).
 */

/** What a template can see: the host's variables (resolved on demand), lookups. */
export interface TemplateScope {
  /** A variable's value, or undefined if there is none. */
  lookup(name: string): unknown;
  /** `lookup('env', …)` / `query(…)`: the plugin's list of results. */
  lookupPlugin(name: string, terms: unknown[], kw: Record<string, unknown>): unknown[];
}

/** Why a template cannot be evaluated: an undefined value used, a construct provision does not support, or an error. */
export class TemplateFailure extends Error {
  constructor(readonly kind: 'undefined' | 'unsupported' | 'error', message: string) {
    super(message);
  }
}

export interface Rendered {
  value: unknown;
  /** A Secret's value went into the result. */
  secret: boolean;
}

const SINGLE_VAR = /^\{\{\s*(\w*)\s*\}\}$/;

export function isTemplate(text: string): boolean {
  return text.includes('{{') || text.includes('{%') || text.includes('{#');
}

interface RenderState {
  scope: TemplateScope;
  pending?: unknown;
}
const stack: RenderState[] = [];

/** Run a callback of the engine; an error it throws is remembered (nunjucks re-wraps errors and loses their type). */
function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    const top = stack[stack.length - 1];
    if (top && top.pending === undefined) top.pending = e;
    throw e;
  }
}

const env = new nunjucks.Environment(null, { autoescape: false, throwOnUndefined: false });
const cache = new Map<string, nunjucks.Template>();

export function renderTemplate(text: string, scope: TemplateScope): Rendered {
  const single = SINGLE_VAR.exec(text);
  const saved = taint.secretSeen;
  taint.secretSeen = false;
  const state: RenderState = { scope };
  stack.push(state);
  try {
    if (single) {
      // Ansible's shortcut for a bare variable: a number, boolean or null keeps its type.
      const v = guard(() => scope.lookup(single[1]!));
      if (typeof v === 'number' || typeof v === 'boolean' || v === null) return { value: v, secret: false };
    }
    let tmpl = cache.get(text);
    if (!tmpl) {
      tmpl = new nunjucks.Template(text, env, undefined, true);
      cache.set(text, tmpl);
    }
    let out: string;
    try {
      out = tmpl.render({});
    } catch (e) {
      throw toFailure(state.pending ?? e);
    }
    let value: unknown = out;
    if (out.startsWith('{') || out.startsWith('[') || out === 'True' || out === 'False') {
      const lit = parsePyLiteral(out);
      if (lit.ok) value = lit.value;
    }
    return { value, secret: taint.secretSeen };
  } catch (e) {
    throw toFailure(state.pending ?? e);
  } finally {
    stack.pop();
    const seen = taint.secretSeen;
    taint.secretSeen = saved || seen;
  }
}

function toFailure(e: unknown): unknown {
  if (e instanceof TemplateFailure) return e;
  if (e instanceof UndefinedUse) return new TemplateFailure('undefined', e.message);
  if (e instanceof FilterError) return new TemplateFailure('error', e.message);
  if (!(e instanceof Error) || e instanceof ProvisionError) return e; // InputError from a nested variable, lookup errors: as they are
  if (e.name !== 'Template render error') return new TemplateFailure('error', e.message);
  const msg = e.message.replace(/^\(unknown path\)\s*/, '').replace(/\s+/g, ' ').trim();
  if (/Unable to call|unknown block tag|expected (variable|block) end|unexpected token|parse|unexpected|Template render error|unknown/i.test(msg)) {
    return new TemplateFailure('unsupported', msg.replace(/^\[Line \d+, Column \d+\]\s*/, '').replace(/^Error: /, ''));
  }
  return new TemplateFailure('error', msg);
}

// --- nunjucks patched to Jinja2/Ansible semantics -------------------------------------------------------------
nunjucks.installJinjaCompat();

type Tok = { type: string; value: string; lineno: number; colno: number } | null;
const nj = nunjucks as unknown as {
  lexer: { lex(src: string): object };
  compiler: { Compiler: { prototype: Record<string, (...a: unknown[]) => unknown> } };
};
const tokenizer = Object.getPrototypeOf(nj.lexer.lex('')) as {
  nextToken(this: TokState): Tok;
  _parseString(this: TokState, delimiter: string): string;
};
interface TokState { in_code: boolean; str: string; index: number; lineno: number; colno: number; pvDepth?: number; forward(): void; current(): string; isFinished(): boolean }
// Ansible keeps backslashes in string literals as written: '\d' is a regex digit class, '\1' a group reference.
tokenizer._parseString = function (this: TokState, delimiter: string) {
  this.forward();
  let out = '';
  while (!this.isFinished() && this.current() !== delimiter) {
    if (this.current() === '\\') {
      this.forward();
      out += this.current() === delimiter ? delimiter : `\\${this.current()}`;
    } else out += this.current();
    this.forward();
  }
  this.forward();
  return out;
};
// `{{ {'a': {'b': 1}} }}`: a `}}` that closes a dict literal is not the end of the expression (as in Jinja2).
const origNextToken = tokenizer.nextToken;
tokenizer.nextToken = function (this: TokState) {
  if (this.in_code && (this.pvDepth ?? 0) > 0 && this.str.startsWith('}', this.index)) {
    const t = { type: 'right-curly', value: '}', lineno: this.lineno, colno: this.colno };
    this.forward();
    this.pvDepth = (this.pvDepth ?? 1) - 1;
    return t;
  }
  const t = origNextToken.call(this);
  if (t?.type === 'left-curly') this.pvDepth = (this.pvDepth ?? 0) + 1;
  else if (t?.type === 'right-curly') this.pvDepth = Math.max(0, (this.pvDepth ?? 0) - 1);
  else if (t?.type === 'variable-end' || t?.type === 'block-end') this.pvDepth = 0;
  return t;
};
// `x is version('2.10', '>=')`: nunjucks compiles a test's arguments without commas between them.
nj.compiler.Compiler.prototype.compileIs = function (this: { _emit(s: string): void; compile(n: unknown, f: unknown): void; _compileAggregate(n: unknown, f: unknown, a: string, b: string): void }, node: unknown, frame: unknown) {
  const n = node as { left: unknown; right: { name?: { value: string }; value?: string; args?: unknown } };
  this._emit(`env.getTest("${n.right.name ? n.right.name.value : n.right.value}").call(context, `);
  this.compile(n.left, frame);
  if (n.right.args) {
    this._emit(',');
    this._compileAggregate(n.right.args, frame, '', '');
  }
  this._emit(') === true');
};
type Runtime = Record<string, (...a: unknown[]) => unknown>;
const runtime = (nunjucks as unknown as { runtime: Runtime }).runtime;
const compatFrameLookup = runtime.contextOrFrameLookup!;
const compatMember = runtime.memberLookup!;

runtime.contextOrFrameLookup = function (this: unknown, context: unknown, frame: { lookup(n: string): unknown }, name: unknown) {
  return guard(() => {
    const local = frame.lookup(name as string);
    if (local !== undefined) return local;
    if (name === 'True' || name === 'False') return name === 'True';
    if (name === 'None') return null;
    const top = stack[stack.length - 1];
    const v = top?.scope.lookup(name as string);
    if (v !== undefined) return v;
    const g = compatFrameLookup.call(this, context, frame, name);
    return g === undefined ? new JinjaUndefined(`'${String(name)}' is undefined`) : g;
  });
} as Runtime[string];

const OBJECT_METHODS = new Set(['items', 'keys', 'values', 'get', 'iteritems', 'iterkeys', 'itervalues', 'has_key']);
const ARRAY_METHODS = new Set(['index', 'count']);

runtime.memberLookup = function (this: unknown, ...args: unknown[]) {
  return guard(() => {
    let [obj, key] = args;
    if (obj instanceof JinjaUndefined) obj.fail();
    if (args.length === 4) return compatMember.apply(this, [unwrap(obj), ...args.slice(1)]); // a slice [a:b:c]
    if (obj instanceof LazyMapping) {
      const v = obj.get(String(key));
      return v === undefined ? new JinjaUndefined(`'${obj.what}' has no attribute '${String(key)}'`) : v;
    }
    obj = unwrap(obj);
    if (obj === null || obj === undefined) throw new UndefinedUse(`'None' has no attribute '${String(key)}'`);
    const missing = () => new JinjaUndefined(`'${pyTypeName(obj)} object' has no attribute '${String(key)}'`);
    if (typeof obj === 'string') {
      if (typeof key === 'number') return key < 0 ? obj.at(key) ?? missing() : obj[key] ?? missing();
      return stringMethod(obj, String(key)) ?? missing();
    }
    if (Array.isArray(obj)) {
      if (typeof key === 'number') return (key < 0 ? obj[obj.length + key] : obj[key]) ?? missing();
      return ARRAY_METHODS.has(String(key)) ? compatMember.call(this, obj, key) : missing();
    }
    if (typeof obj === 'object') {
      const k = String(key);
      if (Object.prototype.hasOwnProperty.call(obj, k)) return (obj as Record<string, unknown>)[k];
      if (k === 'get') return (name: unknown, dflt: unknown = null) => (Object.prototype.hasOwnProperty.call(obj, String(name)) ? (obj as Record<string, unknown>)[String(name)] : dflt);
      return OBJECT_METHODS.has(k) ? compatMember.call(this, obj, key) : missing();
    }
    return missing();
  });
} as Runtime[string];

runtime.suppressValue = function (val: unknown) {
  return guard(() => pyStr(val instanceof LazyMapping ? val.materialize() : val));
} as Runtime[string];

runtime.ensureDefined = function (val: unknown) {
  return guard(() => (val instanceof JinjaUndefined ? val.fail() : val));
} as Runtime[string];

const origCallWrap = runtime.callWrap!;
runtime.callWrap = function (this: unknown, obj: unknown, name: unknown, context: unknown, args: unknown) {
  return guard(() => {
    if (obj instanceof JinjaUndefined) throw new TemplateFailure('unsupported', `${String(name).replace(/\["(\w+)"\]/g, '.$1')}(): no such function or method in provision's Jinja (${obj.hint})`);
    return origCallWrap.call(this, obj, name, context, (args as unknown[]).map((a) => (a instanceof Secret ? unwrap(a) : a)));
  });
} as Runtime[string];

/** Python str methods people call in inventories. */
function stringMethod(s: string, name: string): ((...a: unknown[]) => unknown) | undefined {
  const chars = (c: unknown) => (c === undefined || c === null ? undefined : String(c));
  const strip = (t: string, c: string | undefined, left: boolean, right: boolean) => {
    if (c === undefined) return left && right ? t.trim() : left ? t.trimStart() : t.trimEnd();
    let a = 0;
    let b = t.length;
    while (left && a < b && c.includes(t[a]!)) a++;
    while (right && b > a && c.includes(t[b - 1]!)) b--;
    return t.slice(a, b);
  };
  const m: Record<string, (...a: unknown[]) => unknown> = {
    lower: () => s.toLowerCase(),
    upper: () => s.toUpperCase(),
    strip: (c) => strip(s, chars(c), true, true),
    lstrip: (c) => strip(s, chars(c), true, false),
    rstrip: (c) => strip(s, chars(c), false, true),
    split: (sep, max) => {
      const parts = sep === undefined || sep === null ? s.trim().split(/\s+/).filter(Boolean) : s.split(String(sep));
      if (max === undefined || Number(max) < 0) return parts;
      return [...parts.slice(0, Number(max)), ...(parts.length > Number(max) ? [parts.slice(Number(max)).join(sep === undefined || sep === null ? ' ' : String(sep))] : [])];
    },
    startswith: (p) => (Array.isArray(p) ? p.some((x) => s.startsWith(String(x))) : s.startsWith(String(p))),
    endswith: (p) => (Array.isArray(p) ? p.some((x) => s.endsWith(String(x))) : s.endsWith(String(p))),
    replace: (a, b) => s.split(String(a)).join(String(b)),
    join: (list) => (list as unknown[]).map((x) => pyStr(x)).join(s),
    find: (t) => s.indexOf(String(t)),
    isdigit: () => /^\d+$/.test(s),
    capitalize: () => s.charAt(0).toUpperCase() + s.slice(1).toLowerCase(),
    title: () => s.replace(/\w\S*/g, (w) => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase()),
    format: (...a) => { let i = 0; return s.replace(/\{(\d*)\}/g, (_, n: string) => pyStr(a[n === '' ? i++ : Number(n)])); },
  };
  return m[name];
}

// --- filters and tests ------------------------------------------------------------------------------------------
const UNDEFINED_OK = new Set(['default', 'd', 'mandatory']);
const builtinFilters = (env as unknown as { filters: Record<string, Filter> }).filters;
const builtinTests = (env as unknown as { tests: Record<string, (v: unknown, ...a: unknown[]) => boolean> }).tests;

function wrapFilter(name: string, fn: Filter, ours: boolean): Filter {
  return function (this: unknown, value: unknown, ...args: unknown[]) {
    return guard(() => {
      if (!UNDEFINED_OK.has(name) && value instanceof JinjaUndefined) value.fail();
      for (const a of args) if (a instanceof JinjaUndefined) a.fail();
      const v = value instanceof LazyMapping ? value.materialize() : value;
      return ours ? fn.call(this, v, ...args) : fn.call(this, unwrap(v), ...args.map(unwrap));
    });
  };
}

const getFilter = (name: string): Filter | undefined => {
  const f = (env as unknown as { filters: Record<string, Filter> }).filters[name];
  return f ? (v: unknown, ...a: unknown[]) => f.call({ env }, v, ...a) : undefined;
};
const getTest = (name: string) => builtinTests[name];
const ours = ansibleFilters(getTest, getFilter);
for (const [name, fn] of Object.entries(builtinFilters)) if (!(name in ours)) env.addFilter(name, wrapFilter(name, fn, false));
for (const [name, fn] of Object.entries(ours)) {
  const w = wrapFilter(name, fn, true);
  env.addFilter(name, w);
  env.addFilter(`ansible.builtin.${name}`, w);
  if (['ipaddr', 'ipv4', 'ipv6'].includes(name)) {
    env.addFilter(`ansible.utils.${name}`, w);
    env.addFilter(`ansible.netcommon.${name}`, w);
  }
}

const tests: Record<string, (v: unknown, ...a: unknown[]) => boolean> = {
  defined: (v) => !isUndefined(v),
  undefined: (v) => isUndefined(v),
  none: (v) => v === null,
  string: (v) => typeof unwrap(v) === 'string',
  number: (v) => typeof v === 'number',
  integer: (v) => typeof v === 'number' && Number.isInteger(v),
  float: (v) => typeof v === 'number' && !Number.isInteger(v),
  boolean: (v) => typeof v === 'boolean',
  true: (v) => v === true,
  false: (v) => v === false,
  mapping: (v) => v instanceof LazyMapping || (v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Secret) && !(v instanceof JinjaUndefined)),
  sequence: (v) => Array.isArray(v) || typeof unwrap(v) === 'string' || (v !== null && typeof v === 'object' && !(v instanceof JinjaUndefined)),
  iterable: (v) => tests.sequence!(v),
  truthy: (v) => !isUndefined(v) && Boolean(unwrap(v)) && !(Array.isArray(v) && v.length === 0),
  falsy: (v) => !tests.truthy!(v),
  in: (v, seq) => { const s = unwrap(seq); return Array.isArray(s) ? s.includes(unwrap(v)) : typeof s === 'string' ? s.includes(String(unwrap(v))) : s !== null && typeof s === 'object' ? Object.prototype.hasOwnProperty.call(s, String(v)) : false; },
  contains: (seq, v) => tests.in!(v, seq),
  match: (v, p, ...a) => new RegExp(`^(?:${pyRegex(String(p)).source})`, regexTestFlags(a)).test(String(unwrap(v))),
  search: (v, p, ...a) => new RegExp(pyRegex(String(p)).source, regexTestFlags(a)).test(String(unwrap(v))),
  regex: (v, p, ...a) => tests.search!(v, p, ...a),
  subset: (a, b) => (a as unknown[]).every((x) => (b as unknown[]).includes(x)),
  superset: (a, b) => (b as unknown[]).every((x) => (a as unknown[]).includes(x)),
  version: (v, other, op = '==') => compareVersions(String(unwrap(v)), String(unwrap(other)), String(op)),
  version_compare: (v, other, op = '==') => compareVersions(String(unwrap(v)), String(unwrap(other)), String(op)),
  eq: (a, b) => unwrap(a) === unwrap(b),
  equalto: (a, b) => unwrap(a) === unwrap(b),
  ne: (a, b) => unwrap(a) !== unwrap(b),
};
for (const [name, fn] of Object.entries(tests)) {
  const wrapped = (v: unknown, ...a: unknown[]) => guard(() => fn(v, ...a));
  builtinTests[name] = wrapped;
  builtinTests[`ansible.builtin.${name}`] = wrapped;
}

function regexTestFlags(args: unknown[]): string {
  const { kw } = splitArgs(args);
  return (kw.ignorecase ? 'i' : '') + (kw.multiline ? 'm' : '');
}

function compareVersions(a: string, b: string, op: string): boolean {
  const pa = a.split(/[.-]/).map((x) => (/^\d+$/.test(x) ? Number(x) : x));
  const pb = b.split(/[.-]/).map((x) => (/^\d+$/.test(x) ? Number(x) : x));
  let c = 0;
  for (let i = 0; i < Math.max(pa.length, pb.length) && c === 0; i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    c = x === y ? 0 : x < y ? -1 : 1;
  }
  const ops: Record<string, boolean> = { '==': c === 0, eq: c === 0, '!=': c !== 0, ne: c !== 0, '<': c < 0, lt: c < 0, '<=': c <= 0, le: c <= 0, '>': c > 0, gt: c > 0, '>=': c >= 0, ge: c >= 0 };
  if (!(op in ops)) throw new FilterError(`version: unknown operator '${op}'`);
  return ops[op]!;
}

// --- lookups -----------------------------------------------------------------------------------------------------
function callLookup(wantList: boolean) {
  return (name: unknown, ...args: unknown[]) => guard(() => {
    const top = stack[stack.length - 1]!;
    const { pos, kw } = splitArgs(args);
    for (const a of pos) if (a instanceof JinjaUndefined) a.fail();
    const terms = pos.flatMap((t) => (Array.isArray(t) ? t : [t])).map(unwrap);
    const results = top.scope.lookupPlugin(String(name).replace(/^ansible\.builtin\./, ''), terms, kw);
    if (wantList || kw.wantlist) return results;
    return results.every((r) => typeof r === 'string' || r instanceof Secret) ? results.map((r) => pyStr(r)).join(',') : results.length === 1 ? results[0] : results;
  });
}
env.addGlobal('lookup', callLookup(false));
env.addGlobal('query', callLookup(true));
env.addGlobal('q', callLookup(true));
