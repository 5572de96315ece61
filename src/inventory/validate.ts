import { z } from 'zod';
import { InputError } from '../errors.js';
import { Secret, redact } from '../secrets.js';
import type { InventoryHost, SourceLocation, VarSource } from './types.js';
import { closestName } from './typos.js';
import { UnresolvedVar } from './markers.js';
import { formatVarPath } from './var-source.js';

export interface ValidateOptions {
  /** Named in errors about variables that are not set anywhere. */
  inventoryFile: string;
  /** Every variable some role reads: names close to one of these are reported as typos. */
  knownNames: ReadonlySet<string>;
}

/**
 * Validate a host's variables against a role/play schema. Only variables named in the schema's shape are passed in
 * (the schema supplies defaults). Typos of known names and schema violations → InputError at the offending value.
 */
export function validateHostVars<S extends z.ZodTypeAny>(host: InventoryHost, schema: S, opts: ValidateOptions): z.output<S> {
  const shape = objectShape(schema);
  const typos = findTypos(host, opts, shape);
  if (typos.length) throw combine(typos);

  const input: Record<string, unknown> = {};
  if (shape) {
    for (const k of Object.keys(shape)) if (Object.prototype.hasOwnProperty.call(host.vars, k)) input[k] = host.vars[k];
  } else Object.assign(input, host.vars);
  // A variable whose template failed is an error only now that a role reads it (as in Ansible).
  for (const v of Object.values(input)) if (v instanceof UnresolvedVar) throw v.error;

  const result = schema.safeParse(input);
  if (result.success) return result.data;
  // An unknown key is usually a misspelt one, which also makes a required key look missing: report it first.
  const issues = [...result.error.issues].sort((a, b) => Number(b.code === 'unrecognized_keys') - Number(a.code === 'unrecognized_keys'));
  throw combine(issues.map((issue) => issueError(issue, host, input, schema, opts)));
}

function combine(errors: InputError[]): InputError {
  const [first, ...rest] = errors;
  if (rest.length === 0) return first;
  const more = rest.slice(0, 5).map((e) => `\n  also: ${e.message}`).join('');
  const tail = rest.length > 5 ? `\n  … and ${rest.length - 5} more` : '';
  return new InputError(first.problem + more + tail, first.file, first.line, first.column, first.path);
}

function at(problem: string, loc: SourceLocation | undefined, file: string, path: string): InputError {
  return new InputError(redact(problem), loc?.file ?? file, loc?.line || undefined, loc?.column || undefined, path);
}

function keyLocation(src: VarSource, path: (string | number)[]): SourceLocation {
  const withKey = src as VarSource & { locateKey?: (p: (string | number)[]) => SourceLocation };
  return withKey.locateKey ? withKey.locateKey(path) : src.locate(path);
}

function findTypos(host: InventoryHost, opts: ValidateOptions, shape: z.ZodRawShape | undefined): InputError[] {
  const known = new Set(opts.knownNames);
  for (const k of Object.keys(shape ?? {})) known.add(k);
  const out: InputError[] = [];
  for (const name of Object.keys(host.vars)) {
    if (known.has(name) || name.startsWith('ansible_') || name.startsWith('provision_')) continue;
    const guess = closestName(name, known);
    if (!guess) continue;
    const src = host.varSources[name];
    const loc = src ? keyLocation(src, []) : undefined;
    out.push(at(`unknown variable '${name}' — did you mean '${guess}'? (host ${host.name})`, loc, src?.file ?? opts.inventoryFile, name));
  }
  return out;
}

function issueError(issue: z.ZodIssue, host: InventoryHost, input: unknown, schema: z.ZodTypeAny, opts: ValidateOptions): InputError {
  const path = issue.path;
  const name = path[0];
  const src = typeof name === 'string' ? host.varSources[name] : undefined;
  const suffix = ` (host ${host.name})`;

  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0];
    const full = [...path, key];
    const allowed = objectShape(schemaAt(schema, path));
    const guess = allowed ? closestName(key, new Set(Object.keys(allowed))) : undefined;
    const others = issue.keys.length > 1 ? ` (also ${issue.keys.slice(1).map((k) => `'${k}'`).join(', ')})` : '';
    const hint = guess ? ` — did you mean '${guess}'?` : allowed ? `; allowed: ${Object.keys(allowed).join(', ')}` : '';
    return at(`unknown key '${key}'${hint}${others}${suffix}`, src ? keyLocation(src, full.slice(1)) : undefined, opts.inventoryFile, formatVarPath(full));
  }

  const value = valueAt(input, path);
  if (value === undefined && path.length > 0) {
    if (path.length <= 1) {
      return at(`required variable '${String(name)}' is not set${suffix}`, undefined, opts.inventoryFile, formatVarPath(path));
    }
    const parentLoc = src?.locate(path.slice(1, -1));
    return at(`required key '${String(path[path.length - 1])}' is missing${suffix}`, parentLoc, src?.file ?? opts.inventoryFile, formatVarPath(path));
  }
  // A custom check about a whole mapping or list (a duplicate entry) says what is wrong itself: "got a mapping" adds nothing.
  const got = issue.code === 'custom' && /\bduplicate\b/.test(issue.message) ? '' : `, got ${describeValue(value)}`;
  const problem = `${expectation(issue, value)}${got}${secretHint(issue, value)}${suffix}`;
  return at(problem, src?.locate(path.slice(1)), src?.file ?? opts.inventoryFile, formatVarPath(path));
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string', number: 'a number', integer: 'an integer', float: 'a number', boolean: 'a boolean (true/false)',
  array: 'a list', object: 'a mapping', null: 'null', date: 'a date', bigint: 'an integer',
};

/** What the schema wanted, in words: `expected a number`, `expected one of 'a', 'b'`. */
function expectation(issue: z.ZodIssue, value: unknown): string {
  const custom = issue.message && /^expected\b/.test(issue.message) ? issue.message : undefined;
  if (custom) return custom;
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${TYPE_NAMES[issue.expected] ?? issue.expected}`;
    case 'invalid_literal':
      return `expected ${JSON.stringify(issue.expected)}`;
    case 'invalid_enum_value':
      return `expected one of ${issue.options.map((o) => `'${String(o)}'`).join(', ')}`;
    case 'too_small':
    case 'too_big': {
      const small = issue.code === 'too_small';
      const bound = small ? (issue as z.ZodTooSmallIssue).minimum : (issue as z.ZodTooBigIssue).maximum;
      const incl = issue.inclusive;
      if (issue.type === 'string') return `expected ${small ? 'at least' : 'at most'} ${bound} character${bound === 1 ? '' : 's'}`;
      if (issue.type === 'array' || issue.type === 'set') return `expected ${small ? 'at least' : 'at most'} ${bound} item${bound === 1 ? '' : 's'}`;
      return `expected a number ${small ? (incl ? '>=' : '>') : incl ? '<=' : '<'} ${bound}`;
    }
    case 'not_multiple_of':
      return `expected a multiple of ${issue.multipleOf}`;
    case 'invalid_string':
      return typeof issue.validation === 'string' && issue.validation !== 'regex' ? `expected a valid ${issue.validation}` : `expected ${lower(issue.message)}`;
    case 'invalid_union': {
      const deepest = bestUnionIssue(issue);
      if (deepest) return expectation(deepest, value);
      const types = issue.unionErrors.flatMap((e) => e.issues.filter((i) => i.code === 'invalid_type').map((i) => TYPE_NAMES[(i as z.ZodInvalidTypeIssue).expected] ?? ''));
      return types.length ? `expected ${[...new Set(types)].join(' or ')}` : 'expected a different value';
    }
    case 'invalid_union_discriminator':
      return `expected one of ${issue.options.map((o) => `'${String(o)}'`).join(', ')}`;
    default:
      return `expected ${lower(issue.message)}`;
  }
}

/** The union branch that got furthest (an issue deeper than the union itself), if any. */
function bestUnionIssue(issue: z.ZodInvalidUnionIssue): z.ZodIssue | undefined {
  let best: z.ZodIssue | undefined;
  for (const err of issue.unionErrors) {
    for (const i of err.issues) if (i.path.length > issue.path.length && (!best || i.path.length > best.path.length)) best = i;
  }
  return best;
}

function lower(s: string): string {
  return s ? s[0].toLowerCase() + s.slice(1) : 'a valid value';
}

function secretHint(issue: z.ZodIssue, value: unknown): string {
  if (!(value instanceof Secret) || issue.code !== 'invalid_type') return '';
  return ' (variables named like password/secret/token, and lookups, are secrets: the role must read it with zSecret)';
}

/** A value for an error message; secrets never shown. */
export function describeValue(v: unknown): string {
  if (v instanceof Secret) return 'a secret value';
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v)}`;
  if (typeof v === 'number') return `number ${v}`;
  if (typeof v === 'boolean') return `boolean ${v}`;
  if (Array.isArray(v)) return `a list of ${v.length} item${v.length === 1 ? '' : 's'}`;
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}

function valueAt(input: unknown, path: (string | number)[]): unknown {
  let v = input;
  for (const step of path) {
    if (v === null || typeof v !== 'object' || v instanceof Secret) return undefined;
    v = (v as Record<string | number, unknown>)[step];
  }
  return v;
}

/** Unwrap defaults, optionals, effects… down to the schema that does the work. */
function unwrap(s: z.ZodTypeAny | undefined): z.ZodTypeAny | undefined {
  for (let i = 0; s && i < 20; i++) {
    if (s instanceof z.ZodEffects) s = s.innerType();
    else if (s instanceof z.ZodDefault || s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s._def.innerType;
    else if (s instanceof z.ZodCatch || s instanceof z.ZodReadonly) s = s._def.innerType;
    else if (s instanceof z.ZodBranded) s = s.unwrap();
    else if (s instanceof z.ZodPipeline) s = s._def.in;
    else if (s instanceof z.ZodLazy) s = s.schema;
    else return s;
  }
  return s;
}

function objectShape(s: z.ZodTypeAny | undefined): z.ZodRawShape | undefined {
  const u = unwrap(s);
  if (u instanceof z.ZodObject) return u.shape as z.ZodRawShape;
  if (u instanceof z.ZodIntersection) {
    const l = objectShape(u._def.left);
    const r = objectShape(u._def.right);
    return l || r ? { ...l, ...r } : undefined;
  }
  return undefined;
}

/** The schema that validates the value at `path` (best effort: first matching union branch). */
function schemaAt(s: z.ZodTypeAny, path: (string | number)[]): z.ZodTypeAny | undefined {
  let cur: z.ZodTypeAny | undefined = s;
  for (const step of path) {
    const u = unwrap(cur);
    if (!u) return undefined;
    if (typeof step === 'number' && u instanceof z.ZodArray) cur = u.element;
    else if (typeof step === 'number' && u instanceof z.ZodTuple) cur = u.items[step];
    else if (u instanceof z.ZodRecord) cur = u.valueSchema;
    else if (objectShape(u)) cur = objectShape(u)![String(step)];
    else if (u instanceof z.ZodUnion || u instanceof z.ZodDiscriminatedUnion) {
      const options = [...(u.options as z.ZodTypeAny[])];
      cur = options.map((o) => schemaAt(o, [step])).find(Boolean);
    } else return undefined;
  }
  return cur;
}
