import {
  Document, LineCounter, isAlias, isMap, isPair, isScalar, isSeq, parseDocument, visit,
  type Alias, type Node, type ParsedNode, type Scalar, type ScalarTag, type Tags,
} from 'yaml';
import { InputError } from '../errors.js';
import { UnsafeText, VaultRef, parseLookupMapping, parseLookupString } from './markers.js';
import { setKey } from './py-literal.js';
import type { SourceLocation } from './types.js';
import { isVaultText } from './vault.js';
import { pyFloat, pyTimestamp } from './yaml-11-scalars.js';
import type { LocNode } from './var-source.js';

/** A parsed YAML file and what is needed to point at its nodes. */
export interface YamlFile {
  file: string;
  baseDir: string;
  doc: Document.Parsed;
  lc: LineCounter;
  /** Length of the text when it does not end with a line break (else undefined): see blockScalarAtEof. */
  unterminatedLength?: number;
  /** What this file's aliases have cost so far (see YAML_LIMITS). */
  spent: { aliases: number; aliasedValues: number };
}

/**
 * Resource limits for one YAML file (inventory, group_vars/host_vars file, -e @file), so that hostile input fails
 * fast with a message instead of exhausting memory: an alias bomb ("billion laughs": ten aliases of ten aliases
 * of …) expands exponentially, a deep nesting overflows the stack, a huge file is parsed whole into memory.
 */
export const YAML_LIMITS = {
  /** Alias (`*name`) resolutions per file. */
  aliases: 10_000,
  /** Values (scalars, list items, mapping entries) reached through aliases per file. */
  aliasedValues: 100_000,
  /** Nesting levels of a value. */
  depth: 100,
  /** Bytes per file. */
  fileBytes: 4 * 1024 * 1024,
};

const aliasBomb = (what: string) =>
  `YAML aliases in this file expand to more than ${what} (an alias bomb?); the limit is per file, see docs/security.md "Hostile input"`;

/** A file larger than YAML_LIMITS.fileBytes: refused before it is parsed. */
export function checkFileSize(file: string, bytes: number, what: string): void {
  if (bytes > YAML_LIMITS.fileBytes)
    throw new InputError(`${what} is ${(bytes / 1048576).toFixed(1)} MiB; the limit is ${YAML_LIMITS.fileBytes / 1048576} MiB per file`, file);
}

/** PyYAML (YAML 1.1, as Ansible reads it) booleans: yes/no/on/off/true/false, but not y/n. */
const pyTrue: ScalarTag = {
  identify: (v) => v === true, default: true, tag: 'tag:yaml.org,2002:bool',
  test: /^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/, resolve: () => true,
};
const pyFalse: ScalarTag = {
  identify: (v) => v === false, default: true, tag: 'tag:yaml.org,2002:bool',
  test: /^(?:no|No|NO|false|False|FALSE|off|Off|OFF)$/, resolve: () => false,
};

const REPLACED = new Set(['tag:yaml.org,2002:timestamp', 'tag:yaml.org,2002:bool', 'tag:yaml.org,2002:float']);

/** The YAML 1.1 scalar types of PyYAML (with version '1.1'): every YAML file a user gives is read with these. */
export function ansibleTags(tags: Tags): Tags {
  return tags
    .filter((t) => typeof t === 'string' || !REPLACED.has(t.tag))
    .concat([pyTrue, pyFalse, pyFloat, pyTimestamp]);
}

/** Where warnings go by default: stderr, as Ansible prints them. */
export const stderrWarning = (message: string): void => void process.stderr.write(`[WARNING]: ${message}\n`);

/**
 * Parse YAML the way Ansible does (YAML 1.1); a syntax error → InputError at its position. A duplicate key is a
 * warning naming file:line and the last value wins (Ansible's default, DUPLICATE_YAML_DICT_KEY=warn).
 */
export function parseYamlFile(file: string, text: string, baseDir: string, warn: (message: string) => void = stderrWarning): YamlFile {
  if (isVaultText(text)) throw new InputError('this file is vault-encrypted: it must be decrypted before it is parsed', file, 1, 1);
  checkFileSize(file, Buffer.byteLength(text, 'utf8'), 'the file');
  const lc = new LineCounter();
  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, { lineCounter: lc, version: '1.1', customTags: ansibleTags, uniqueKeys: false, prettyErrors: true });
  } catch (e) {
    // The parser recurses per nesting level: thousands of `[[[[…` overflow the stack before we can count them.
    if (e instanceof RangeError) throw new InputError(`YAML nested too deeply to parse (values may nest at most ${YAML_LIMITS.depth} levels)`, file);
    throw e;
  }
  if (doc.errors.some((e) => /Maximum call stack/.test(e.message)))
    throw new InputError(`YAML nested too deeply to parse (values may nest at most ${YAML_LIMITS.depth} levels)`, file);
  const err = doc.errors[0];
  if (err) {
    const pos = err.linePos?.[0];
    const message = err.message.replace(/ at line \d+, column \d+:[\s\S]*$/, '');
    throw new InputError(`YAML syntax error: ${message}`, file, pos?.line, pos?.col);
  }
  warnDuplicateKeys(doc, lc, file, warn);
  return { file, baseDir, doc, lc, spent: { aliases: 0, aliasedValues: 0 }, unterminatedLength: /\n$/.test(text) ? undefined : text.length };
}

function warnDuplicateKeys(doc: Document.Parsed, lc: LineCounter, file: string, warn: (message: string) => void): void {
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const item of map.items) {
        const key = isScalar(item.key) ? item.key.value : undefined;
        if (key === undefined || isMergeKey(item.key)) continue;
        if (seen.has(key)) {
          const { line, col } = lc.linePos((item.key as Node).range?.[0] ?? 0);
          warn(`${file}:${line}:${col}: found a duplicate dict key (${String(key)}). Using last defined value only.`);
        }
        seen.add(key);
      }
    },
  });
}

export function posOf(y: YamlFile, node: Node | null | undefined, fallback?: SourceLocation): SourceLocation {
  const offset = node?.range?.[0];
  if (offset === undefined) return fallback ?? { file: y.file, line: 1, column: 1 };
  const { line, col } = y.lc.linePos(offset);
  return { file: y.file, line, column: col };
}

export function fail(problem: string, loc: SourceLocation, path?: string): never {
  throw new InputError(problem, loc.file, loc.line, loc.column, path);
}

/** Anchors of a document by name, in document order: built once, as Alias.resolve walks the whole document each time. */
const anchorIndex = new WeakMap<Document.Parsed, Map<string, { offset: number; node: ParsedNode }[]>>();

/** The node an alias names: the last anchor of that name before it (as Alias.resolve), without a walk per alias. */
function resolveAlias(y: YamlFile, alias: Alias): ParsedNode | undefined {
  let index = anchorIndex.get(y.doc);
  if (!index) {
    const built = new Map<string, { offset: number; node: ParsedNode }[]>();
    visit(y.doc, {
      Node: (_key, node) => {
        const anchor = (node as { anchor?: string }).anchor;
        if (isAlias(node) || !anchor) return;
        const list = built.get(anchor) ?? [];
        list.push({ offset: (node as ParsedNode).range?.[0] ?? 0, node: node as ParsedNode });
        built.set(anchor, list);
      },
    });
    anchorIndex.set(y.doc, built);
    index = built;
  }
  const at = alias.range?.[0] ?? Number.MAX_SAFE_INTEGER;
  let found: ParsedNode | undefined;
  for (const a of index.get(alias.source) ?? []) if (a.offset < at) found = a.node;
  return found;
}

/** Follow aliases (`*anchor`) to the node they name. */
export function deref(y: YamlFile, node: unknown): ParsedNode | null {
  let n = node as ParsedNode | null | undefined;
  for (let i = 0; n && isAlias(n); i++) {
    if (i > 50) return null;
    if (++y.spent.aliases > YAML_LIMITS.aliases) fail(aliasBomb(`${YAML_LIMITS.aliases} alias resolutions`), posOf(y, n));
    const target = resolveAlias(y, n);
    if (!target) fail(`alias *${n.source} refers to no anchor &${n.source} defined before it`, posOf(y, n));
    n = target;
  }
  return n ?? null;
}

export function isMergeKey(key: unknown): boolean {
  return isScalar(key) && typeof key.value === 'symbol' && key.value.description === '<<';
}

/** A readable name for a value's type, for error messages. */
export function describeNode(node: ParsedNode | null): string {
  if (!node) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) return describeScalar(node.value);
  return 'something else';
}

export function describeScalar(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return `string ${JSON.stringify(v)}`;
  if (typeof v === 'number') return `number ${v}`;
  if (typeof v === 'boolean') return `boolean ${v}`;
  return typeof v;
}

/** The string key of a mapping entry, or an InputError naming what it must be. */
export function stringKey(y: YamlFile, key: unknown, what: string): { name: string; loc: SourceLocation } {
  const node = deref(y, key);
  const loc = posOf(y, key as Node);
  if (!isScalar(node) || typeof node.value !== 'string') {
    const got = isScalar(node) ? describeScalar(node.value) : describeNode(node);
    fail(`${what} must be a string, got ${got}${isScalar(node) && node.value !== null ? ' (quote it)' : ''}`, loc);
  }
  return { name: node.value, loc };
}

/** Pairs of a mapping with merge keys (`<<: *base`) applied: explicit keys win, earlier merge sources win. */
export function mapEntries(y: YamlFile, map: ParsedNode, depth = 0): { key: ParsedNode | null; value: ParsedNode | null; keyNode: unknown }[] {
  if (!isMap(map)) return [];
  const explicit: { key: ParsedNode | null; value: ParsedNode | null; keyNode: unknown }[] = [];
  const merged: typeof explicit = [];
  const index = new Map<unknown, number>();
  for (const item of map.items) {
    if (!isPair(item)) continue;
    if (isMergeKey(item.key)) {
      if (depth > 20) fail('merge keys (<<) nested too deeply', posOf(y, item.key as Node));
      const src = deref(y, item.value);
      const sources = isSeq(src) ? src.items.map((s) => deref(y, s)) : [src];
      for (const s of sources) {
        if (!isMap(s)) fail('a merge key (<<) needs a mapping or a list of mappings', posOf(y, (s ?? item.key) as Node));
        merged.push(...mapEntries(y, s, depth + 1));
      }
      continue;
    }
    const entry = { key: deref(y, item.key), value: deref(y, item.value), keyNode: item.key };
    const k = isScalar(entry.key) ? entry.key.value : undefined;
    const earlier = k === undefined ? undefined : index.get(k);
    // A duplicate key (warned about at parse): first position, last value — as a Python dict assignment does.
    if (earlier !== undefined) explicit[earlier] = entry;
    else {
      if (k !== undefined) index.set(k, explicit.length);
      explicit.push(entry);
    }
  }
  const seen = new Set(explicit.map((e) => (isScalar(e.key) ? e.key.value : e.key)));
  for (const e of merged) {
    const k = isScalar(e.key) ? e.key.value : e.key;
    if (!seen.has(k)) {
      seen.add(k);
      explicit.push(e);
    }
  }
  return explicit;
}

/**
 * A YAML value as plain data plus the position of every nested node.
 * Strings `{{ lookup('env'|'file', …) }}` and `{ from_env | from_file: … }` become LookupRefs; `!unsafe` strings UnsafeText.
 */
export function locatedValue(y: YamlFile, raw: unknown, fallback: SourceLocation, depth = 0, alias?: Node): { value: unknown; node: LocNode } {
  // `alias`: the outermost alias this value is reached through (named in the error).
  const viaAlias = alias ?? (isAlias(raw) ? (raw as Node) : undefined);
  if (viaAlias && ++y.spent.aliasedValues > YAML_LIMITS.aliasedValues)
    fail(aliasBomb(`${YAML_LIMITS.aliasedValues} values`), posOf(y, viaAlias, fallback));
  const n = deref(y, raw);
  const loc = n ? posOf(y, n, fallback) : fallback;
  if (depth > YAML_LIMITS.depth) fail(`value nested too deeply (more than ${YAML_LIMITS.depth} levels; a recursive anchor?)`, loc);
  if (!n) return { value: null, node: { loc } };
  if (isScalar(n)) return { value: scalarValue(y, n, loc), node: { loc } };
  if (isSeq(n)) {
    const kids = new Map<string | number, LocNode>();
    const value = n.items.map((item, i) => {
      const r = locatedValue(y, item, loc, depth + 1, viaAlias);
      kids.set(i, r.node);
      return r.value;
    });
    return { value, node: { loc, kids } };
  }
  if (isMap(n)) {
    const kids = new Map<string | number, LocNode>();
    const value: Record<string, unknown> = {};
    for (const { key, value: v, keyNode } of mapEntries(y, n)) {
      const keyLoc = posOf(y, keyNode as Node, loc);
      if (!isScalar(key) || key.value === null || typeof key.value === 'object') fail('mapping keys must be plain values (strings or numbers)', keyLoc);
      const name = String(key.value);
      const r = locatedValue(y, v, keyLoc, depth + 1, viaAlias);
      r.node.keyLoc = keyLoc;
      setKey(value, name, r.value);
      kids.set(name, r.node);
    }
    const lookup = parseLookupMapping(value, y.baseDir, kids.get('from_env')?.loc ?? kids.get('from_file')?.loc ?? loc);
    if (lookup) return { value: lookup, node: { loc: lookup.loc } };
    return { value, node: { loc, kids } };
  }
  return { value: null, node: { loc } };
}

/**
 * A `|` or `>` block that ends the file without a final line break: PyYAML has no line break to keep, the yaml
 * library adds one (seen in `ansible-inventory --list` output of a trailing `!vault |` value).
 */
function blockScalarAtEof(y: YamlFile, n: Scalar): boolean {
  return (n.type === 'BLOCK_LITERAL' || n.type === 'BLOCK_FOLDED') && y.unterminatedLength !== undefined
    && n.range?.[1] === y.unterminatedLength && typeof n.value === 'string' && n.value.endsWith('\n');
}

function scalarValue(y: YamlFile, n: Scalar, loc: SourceLocation): unknown {
  const v = blockScalarAtEof(y, n) ? (n.value as string).slice(0, -1) : n.value;
  if (n.tag === '!vault') {
    if (typeof v !== 'string' || !isVaultText(v)) fail('a !vault value must be the text ansible-vault encrypt_string printed ($ANSIBLE_VAULT;…)', loc);
    return new VaultRef(v, loc);
  }
  if (n.tag === '!unsafe') return new UnsafeText(v === null ? '' : String(v));
  if (typeof v === 'string') return parseLookupString(v, y.baseDir, loc) ?? v;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Uint8Array || v instanceof Date) return n.source ?? String(v);
  return v;
}

