import { Secret } from '../secrets.js';

/**
 * Jinja's (Python's) view of values, shared by the template engine and its filters: how a value prints, and the
 * Undefined that fails only where it is used (Ansible's StrictUndefined).
 */

/** Raised when an undefined value is printed, computed with or filtered; the engine adds file, line and template. */
export class UndefinedUse extends Error {}

/** A name or attribute that does not exist. It is fine to test (`is defined`) or default (`| default(x)`) it. */
export class JinjaUndefined {
  constructor(readonly hint: string) {}
  fail(): never {
    throw new UndefinedUse(this.hint);
  }
  toString(): string {
    return this.fail();
  }
  valueOf(): never {
    return this.fail();
  }
  toJSON(): never {
    return this.fail();
  }
}

/** A mapping whose values are computed on demand (`hostvars`, `hostvars[h]`, `vars`): resolving one key resolves no other. */
export class LazyMapping {
  constructor(readonly what: string, readonly keys: () => string[], readonly get: (key: string) => unknown) {}
  materialize(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const k of this.keys()) out[k] = this.get(k);
    return out;
  }
}

export const isUndefined = (v: unknown): v is JinjaUndefined | undefined => v === undefined || v instanceof JinjaUndefined;

/** Per render: set when a Secret's value went into the output (the result is then a Secret too). */
export const taint = { secretSeen: false };

/** A Secret's text for computing with; remembers that the result must stay secret. */
export function unwrap(v: unknown): unknown {
  if (v instanceof LazyMapping) return v.materialize();
  if (v instanceof Secret) {
    taint.secretSeen = true;
    return v.reveal();
  }
  return v;
}

/** Python's str(): how `{{ x }}` prints inside a string. None prints as '' (Ansible's finalize). */
export function pyStr(v: unknown): string {
  if (v instanceof JinjaUndefined) v.fail();
  if (v === null || v === undefined) return '';
  if (v instanceof Secret) return String(unwrap(v));
  if (typeof v === 'string') return v;
  return pyRepr(v);
}

/** Python's repr(), as lists and dicts print. */
export function pyRepr(v: unknown): string {
  if (v instanceof JinjaUndefined) v.fail();
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') return pyNumber(v);
  if (v instanceof Secret || v instanceof LazyMapping) return pyRepr(unwrap(v));
  if (typeof v === 'string') return pyQuote(v);
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`).join(', ')}}`;
  return String(v);
}

function pyNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e16) return String(n);
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  const s = String(n);
  return s.includes('e') ? s.replace(/e([+-])(\d)$/, 'e$10$2') : s;
}

/** repr() of a str: single quotes unless the text holds a single quote and no double quote. */
function pyQuote(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  const body = s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');
  return q + (q === "'" ? body.replace(/'/g, "\\'") : body) + q;
}

/** Python truthiness. */
export function pyTruthy(v: unknown): boolean {
  if (v instanceof JinjaUndefined) return v.fail();
  v = unwrap(v);
  if (Array.isArray(v)) return v.length > 0;
  if (v !== null && typeof v === 'object') return Object.keys(v).length > 0;
  return Boolean(v);
}

/** Python's type name, for messages like Jinja's "'dict object' has no attribute 'x'". */
export function pyTypeName(v: unknown): string {
  if (v === null) return 'NoneType';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'string' || v instanceof Secret) return 'str';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'object') return 'dict';
  return typeof v;
}
