import { createHash } from 'node:crypto';
import path from 'node:path';
import ipaddr from 'ipaddr.js';
import { Document, isCollection, isScalar, visit, stringify as yamlStringify, parse as yamlParse } from 'yaml';
import { Secret } from '../secrets.js';
import { JinjaUndefined, UndefinedUse, isUndefined, pyRepr, pyStr, pyTruthy, unwrap } from './jinja-values.js';

/**
 * The Ansible filters people put in inventories, on top of the Jinja built-ins nunjucks has (lower, upper, trim,
 * replace, join, first, last, length, sort, unique, …). Names are also registered as `ansible.builtin.<name>`
 * (and the address filters as `ansible.utils.<name>` / `ansible.netcommon.<name>`).
 */

type Kw = Record<string, unknown>;
export type Filter = (value: unknown, ...args: unknown[]) => unknown;

/** Splits nunjucks' trailing keyword-argument object from positional arguments. */
export function splitArgs(args: unknown[]): { pos: unknown[]; kw: Kw } {
  const last = args[args.length - 1] as Kw | undefined;
  if (last && typeof last === 'object' && (last as { __keywords?: boolean }).__keywords) {
    const { __keywords: _, ...kw } = last;
    return { pos: args.slice(0, -1), kw };
  }
  return { pos: args, kw: {} };
}

/** `name(a, b=…)`: positional or keyword, with a default. */
function arg(args: unknown[], index: number, name: string, dflt: unknown): unknown {
  const { pos, kw } = splitArgs(args);
  if (index < pos.length) return pos[index];
  return name in kw ? kw[name] : dflt;
}

class FilterError extends Error {}

function str(v: unknown): string {
  return pyStr(unwrap(v));
}

/** Python int(): of an int, a float (truncated), a numeric string; otherwise the default (Ansible's int filter). */
function toInt(v: unknown, dflt: unknown = 0, base: unknown = 10): unknown {
  v = unwrap(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') return Number.isFinite(v) ? Math.trunc(v) : dflt;
  if (typeof v === 'string') {
    const s = v.trim().replace(/_/g, '');
    const b = Number(base);
    if (b === 10 && /^[+-]?\d+$/.test(s)) return Number(s);
    if (b !== 10 && s && !Number.isNaN(parseInt(s, b))) return parseInt(s.replace(/^0[xob]/i, ''), b);
    if (b === 10 && /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s)) return Math.trunc(Number(s)); // Ansible: int(float(s))
  }
  return dflt;
}

function toFloat(v: unknown, dflt: unknown = 0): unknown {
  v = unwrap(v);
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(v)) return Number(v);
  return dflt;
}

/** Ansible's bool filter. */
function toBool(v: unknown): boolean {
  v = unwrap(v);
  if (typeof v === 'boolean') return v;
  if (v === null || v === undefined) return false;
  const s = String(v).trim().toLowerCase();
  return ['yes', 'on', '1', 'true', 't', 'y', '1.0'].includes(s);
}

/** Python regex → JavaScript: named groups, `(?i)`-style leading flags, `\Z`. */
export function pyRegex(pattern: string, flags = ''): RegExp {
  let p = pattern;
  const inline = /^\(\?([aiLmsux]+)\)/.exec(p);
  if (inline) {
    p = p.slice(inline[0].length);
    for (const f of inline[1]) if ('ims'.includes(f) && !flags.includes(f)) flags += f;
  }
  p = p.replace(/\(\?P<([A-Za-z_]\w*)>/g, '(?<$1>').replace(/\(\?P=([A-Za-z_]\w*)\)/g, '\\k<$1>').replace(/\\Z/g, '$(?![\\s\\S])');
  try {
    return new RegExp(p, flags);
  } catch (e) {
    throw new FilterError(`invalid regular expression '${pattern}': ${(e as Error).message}`);
  }
}

/** Python re.sub replacement → JavaScript: `\1`, `\g<1>`, `\g<name>`. */
function pyReplacement(r: string): string {
  return r.replace(/\$/g, '$$$$').replace(/\\g<(\d+)>/g, '$$$1').replace(/\\g<([A-Za-z_]\w*)>/g, '$$<$1>').replace(/\\(\d+)/g, '$$$1').replace(/\\\\/g, '\\');
}

function reFlags(args: unknown[], from: number): string {
  const ignore = arg(args, from, 'ignorecase', false);
  const multi = arg(args, from + 1, 'multiline', false);
  return (pyTruthy(ignore) ? 'i' : '') + (pyTruthy(multi) ? 'm' : '');
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof JinjaUndefined) && !(v instanceof Secret);
}

/** Python's json.dumps with its default separators (`, ` and `: `). */
export function pyJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(pyJson).join(', ')}]`;
  if (v !== null && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${pyJson(x)}`).join(', ')}}`;
  if (typeof v === 'string') return JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (typeof v === 'number' && !Number.isInteger(v)) return pyRepr(v);
  return JSON.stringify(v ?? null);
}

/** PyYAML's dump with default_flow_style=None (Ansible's to_yaml): collections of only scalars in flow style. */
function pyYamlDump(v: unknown): string {
  const doc = new Document(v);
  visit(doc, {
    Collection(_, node) {
      if (node.items.every((i) => (isScalar(i) ? true : 'value' in (i as object) ? !isCollection((i as { value: unknown }).value) : !isCollection(i)))) node.flow = true;
    },
  });
  return doc.toString({ flowCollectionPadding: false });
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  return v;
}

function combineTwo(a: Record<string, unknown>, b: Record<string, unknown>, recursive: boolean, listMerge: string): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    if (recursive && isMapping(cur) && isMapping(v)) out[k] = combineTwo(cur, v, recursive, listMerge);
    else if (Array.isArray(cur) && Array.isArray(v) && listMerge !== 'replace') {
      if (listMerge === 'keep') out[k] = cur;
      else if (listMerge === 'append') out[k] = [...cur, ...v];
      else if (listMerge === 'prepend') out[k] = [...v, ...cur];
      else if (listMerge === 'append_rp') out[k] = [...cur.filter((x) => !v.includes(x)), ...v];
      else if (listMerge === 'prepend_rp') out[k] = [...v, ...cur.filter((x) => !v.includes(x))];
      else throw new FilterError(`combine: unknown list_merge '${listMerge}'`);
    } else out[k] = v;
  }
  return out;
}

/** ipaddr-style filters (ansible.utils.ipaddr and friends) on ipaddr.js: the common queries. */
function ipFilter(version: 4 | 6 | undefined): (value: unknown, query?: unknown) => unknown {
  return (value: unknown, query: unknown = ''): unknown => {
    const v = unwrap(value);
    if (Array.isArray(v)) return v.map((x) => ipFilter(version)(x, query)).filter((x) => x !== false);
    if (typeof v !== 'string' && typeof v !== 'number') return false;
    const text = String(v).trim();
    let addr: ipaddr.IPv4 | ipaddr.IPv6;
    let prefix: number;
    try {
      if (text.includes('/')) [addr, prefix] = ipaddr.parseCIDR(text);
      else {
        addr = ipaddr.parse(text);
        prefix = addr.kind() === 'ipv4' ? 32 : 128;
      }
      if (addr.kind() === 'ipv4' && !ipaddr.IPv4.isValidFourPartDecimal(addr.toString()) && !text.includes('/')) {
        if (!ipaddr.IPv4.isValidFourPartDecimal(text)) return false;
      }
    } catch {
      return false;
    }
    if (version && (addr.kind() === 'ipv4' ? 4 : 6) !== version) return false;
    const bits = addr.kind() === 'ipv4' ? 32 : 128;
    const network = ipaddr.parse(addr.kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(`${addr}/${prefix}`).toString() : ipaddr.IPv6.networkAddressFromCIDR(`${addr}/${prefix}`).toString());
    const q = String(unwrap(query));
    switch (q) {
      case '': return text;
      case 'address': return addr.toString();
      case 'network': return network.toString();
      case 'prefix': return prefix;
      case 'netmask': return addr.kind() === 'ipv4' ? ipaddr.IPv4.subnetMaskFromPrefixLength(prefix).toString() : ipaddr.IPv6.subnetMaskFromPrefixLength(prefix).toString();
      case 'broadcast': return addr.kind() === 'ipv4' ? ipaddr.IPv4.broadcastAddressFromCIDR(`${addr}/${prefix}`).toString() : false;
      case 'host': return prefix === bits || addr.toString() !== network.toString() ? `${addr}/${prefix}` : false;
      case 'net': return addr.toString() === network.toString() || prefix === bits ? `${network}/${prefix}` : false;
      case 'subnet': case 'cidr': return `${network}/${prefix}`;
      case 'private': return ['private', 'uniqueLocal', 'linkLocal', 'loopback'].includes(addr.range()) ? text : false;
      case 'public': return addr.range() === 'unicast' ? text : false;
      case 'ipv4': return addr.kind() === 'ipv4' ? text : false;
      case 'ipv6': return addr.kind() === 'ipv6' ? text : false;
      case 'version': return addr.kind() === 'ipv4' ? 4 : 6;
      case 'size': return 2 ** (bits - prefix);
      default:
        if (/^-?\d+$/.test(q)) {
          const n = Number(q);
          const size = 2 ** (bits - prefix);
          const idx = n < 0 ? size + n : n;
          if (idx < 0 || idx >= size || addr.kind() !== 'ipv4') return false;
          const base = (network as ipaddr.IPv4).octets.reduce((a, o) => a * 256 + o, 0) + idx;
          return `${[24, 16, 8, 0].map((s) => Math.floor(base / 2 ** s) % 256).join('.')}/${prefix}`;
        }
        throw new FilterError(`ipaddr: query '${q}' is not supported (supported: address, network, prefix, netmask, broadcast, host, net, subnet, private, public, ipv4, ipv6, version, size, an index)`);
    }
  };
}

function attrOf(v: unknown, dotted: string): unknown {
  let cur = unwrap(v);
  for (const part of dotted.split('.')) {
    if (cur === null || typeof cur !== 'object') return new JinjaUndefined(`'${pyRepr(cur).slice(0, 40)}' has no attribute '${part}'`);
    cur = Array.isArray(cur) && /^\d+$/.test(part) ? cur[Number(part)] : (cur as Record<string, unknown>)[part];
    if (cur === undefined) return new JinjaUndefined(`object has no attribute '${part}'`);
  }
  return cur;
}

/** Jinja tests by name, for select/reject/selectattr/rejectattr. */
export type TestLookup = (name: string) => ((v: unknown, ...a: unknown[]) => boolean) | undefined;

export function ansibleFilters(test: TestLookup, filter: (name: string) => Filter | undefined): Record<string, Filter> {
  const selectBy = (keep: boolean, attr: boolean) => (value: unknown, ...args: unknown[]) => {
    const list = toList(value);
    const { pos } = splitArgs(args);
    const [first, testName, ...rest] = attr ? pos : [undefined, ...pos];
    return list.filter((item) => {
      const subject = attr ? attrOf(item, String(first)) : item;
      if (testName === undefined) return (isUndefined(subject) ? false : pyTruthy(subject)) === keep;
      const t = test(String(testName));
      if (!t) throw new FilterError(`unknown test '${String(testName)}'`);
      return t(subject, ...rest) === keep;
    });
  };
  const f: Record<string, Filter> = {
    default: (v, ...args) => {
      const dflt = arg(args, 0, 'default_value', '');
      const boolean = pyTruthy(arg(args, 1, 'boolean', false));
      return isUndefined(v) || (boolean && !pyTruthy(v)) ? dflt : v;
    },
    mandatory: (v, msg) => (isUndefined(v) ? (() => { throw new UndefinedUse(msg ? String(msg) : (v instanceof JinjaUndefined ? v.hint : 'mandatory variable not defined')); })() : v),
    int: (v, ...a) => toInt(v, arg(a, 0, 'default', 0), arg(a, 1, 'base', 10)),
    float: (v, ...a) => toFloat(v, arg(a, 0, 'default', 0)),
    bool: (v) => toBool(v),
    string: (v) => str(v),
    lower: (v) => str(v).toLowerCase(),
    upper: (v) => str(v).toUpperCase(),
    capitalize: (v) => { const s = str(v); return s.charAt(0).toUpperCase() + s.slice(1).toLowerCase(); },
    trim: (v) => str(v).trim(),
    replace: (v, old, nu, count) => {
      const s = str(v);
      const o = str(old);
      const n = str(nu);
      if (count === undefined || splitArgs([count]).pos.length === 0) return s.split(o).join(n);
      let out = s;
      let done = 0;
      let at = 0;
      while (done < Number(count)) {
        const i = out.indexOf(o, at);
        if (i < 0) break;
        out = out.slice(0, i) + n + out.slice(i + o.length);
        at = i + n.length;
        done++;
      }
      return out;
    },
    join: (v, sep = '') => toList(v).map(str).join(str(sep)),
    split: (v, sep) => (sep === undefined || sep === null ? str(v).trim().split(/\s+/).filter(Boolean) : str(v).split(str(sep))),
    regex_replace: (v, pattern = '', replacement = '', ...a) => str(v).replace(pyRegex(str(pattern), `g${reFlags(a, 0)}`), pyReplacement(str(replacement))),
    regex_search: (v, pattern, ...a) => {
      const { pos, kw } = splitArgs(a);
      const m = pyRegex(str(pattern), (pyTruthy(kw.ignorecase ?? false) ? 'i' : '') + (pyTruthy(kw.multiline ?? false) ? 'm' : '')).exec(str(v));
      if (!m) return null;
      if (pos.length === 0) return m[0];
      return pos.map((g) => {
        const s = String(g);
        const num = /^\\(\d+)$/.exec(s);
        const named = /^\\g<(\w+)>$/.exec(s);
        return num ? m[Number(num[1])] ?? null : named ? m.groups?.[named[1]] ?? null : null;
      });
    },
    regex_findall: (v, pattern, ...a) => {
      const re = pyRegex(str(pattern), `g${reFlags(a, 0)}`);
      return [...str(v).matchAll(re)].map((m) => (m.length === 1 ? m[0] : m.length === 2 ? m[1] : m.slice(1)));
    },
    first: (v) => { const l = toList(v); return l.length ? l[0] : new JinjaUndefined('No first item, sequence was empty.'); },
    last: (v) => { const l = toList(v); return l.length ? l[l.length - 1] : new JinjaUndefined('No last item, sequence was empty.'); },
    length: (v) => { const u = unwrap(v); return typeof u === 'string' ? [...u].length : Array.isArray(u) ? u.length : isMapping(u) ? Object.keys(u).length : 0; },
    ternary: (v, t, fl, none) => (v === null && none !== undefined ? none : pyTruthy(v) ? t : fl),
    to_json: (v) => pyJson(plainData(v)),
    to_nice_json: (v, ...a) => JSON.stringify(sortKeys(plainData(v)), null, Number(arg(a, 0, 'indent', 4))),
    from_json: (v) => { try { return JSON.parse(str(v)); } catch (e) { throw new FilterError(`from_json: ${(e as Error).message}`); } },
    to_yaml: (v) => pyYamlDump(plainData(v)),
    to_nice_yaml: (v, ...a) => yamlStringify(plainData(v), { indent: Number(arg(a, 0, 'indent', 4)) }),
    from_yaml: (v) => yamlParse(str(v)),
    combine: (v, ...args) => {
      const { pos, kw } = splitArgs(args);
      const dicts = [v, ...pos.flatMap((p) => (Array.isArray(p) ? p : [p]))];
      for (const d of dicts) if (!isMapping(d)) throw new FilterError(`combine expects dictionaries, got ${pyRepr(d)}`);
      return dicts.reduce((a: Record<string, unknown>, b) => combineTwo(a, b as Record<string, unknown>, pyTruthy(kw.recursive ?? false), String(kw.list_merge ?? 'replace')), {});
    },
    dict2items: (v, ...a) => {
      if (!isMapping(v)) throw new FilterError(`dict2items requires a dictionary, got ${pyRepr(v)}`);
      const k = String(arg(a, 0, 'key_name', 'key'));
      const val = String(arg(a, 1, 'value_name', 'value'));
      return Object.entries(v).map(([kk, vv]) => ({ [k]: kk, [val]: vv }));
    },
    items2dict: (v, ...a) => {
      const k = String(arg(a, 0, 'key_name', 'key'));
      const val = String(arg(a, 1, 'value_name', 'value'));
      return Object.fromEntries(toList(v).map((item) => [str((item as Record<string, unknown>)[k]), (item as Record<string, unknown>)[val]]));
    },
    list: (v) => toList(v),
    unique: (v) => { const out: unknown[] = []; for (const x of toList(v)) if (!out.some((y) => pyRepr(y) === pyRepr(x))) out.push(x); return out; },
    flatten: (v, levels) => toList(v).flat(levels === undefined ? Infinity : Number(levels)),
    min: (v) => toList(v).reduce((a: unknown, b) => ((a as number) <= (b as number) ? a : b)),
    max: (v) => toList(v).reduce((a: unknown, b) => ((a as number) >= (b as number) ? a : b)),
    sum: (v, ...a) => toList(v).reduce((s: number, x) => s + Number(x), Number(arg(a, 1, 'start', 0))),
    map: (v, ...args) => {
      const { pos, kw } = splitArgs(args);
      const list = toList(v);
      if ('attribute' in kw) return list.map((x) => { const r = attrOf(x, String(kw.attribute)); return isUndefined(r) && 'default' in kw ? kw.default : r; });
      const [name, ...rest] = pos;
      const fn = filter(String(name));
      if (!fn) throw new FilterError(`map: unknown filter '${String(name)}'`);
      return list.map((x) => fn(x, ...rest));
    },
    select: selectBy(true, false),
    reject: selectBy(false, false),
    selectattr: selectBy(true, true),
    rejectattr: selectBy(false, true),
    dictsort: (v) => (isMapping(v) ? Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) : toList(v)),
    zip: (v, ...others) => { const lists = [toList(v), ...others.map(toList)]; const n = Math.min(...lists.map((l) => l.length)); return Array.from({ length: n }, (_, i) => lists.map((l) => l[i])); },
    b64encode: (v) => Buffer.from(str(v), 'utf8').toString('base64'),
    b64decode: (v) => Buffer.from(str(v), 'base64').toString('utf8'),
    hash: (v, algo = 'sha1') => createHash(String(algo)).update(str(v)).digest('hex'),
    md5: (v) => createHash('md5').update(str(v)).digest('hex'),
    sha1: (v) => createHash('sha1').update(str(v)).digest('hex'),
    basename: (v) => path.posix.basename(str(v)),
    dirname: (v) => path.posix.dirname(str(v)),
    quote: (v) => { const s = str(v); return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'"'"'`)}'`; },
    type_debug: (v) => (v === null ? 'NoneType' : Array.isArray(v) ? 'list' : typeof v === 'string' ? 'str' : typeof v === 'number' ? (Number.isInteger(v) ? 'int' : 'float') : typeof v === 'boolean' ? 'bool' : 'dict'),
    ipaddr: ipFilter(undefined),
    ipv4: ipFilter(4),
    ipv6: ipFilter(6),
  };
  f.d = f.default;
  f.count = f.length;
  return f;
}

function toList(v: unknown): unknown[] {
  if (v instanceof JinjaUndefined) v.fail();
  const u = unwrap(v);
  if (Array.isArray(u)) return u;
  if (typeof u === 'string') return [...u];
  if (u !== null && typeof u === 'object') return Object.keys(u);
  throw new FilterError(`expected a list, got ${pyRepr(u)}`);
}

/** Plain JSON-able data: Secrets revealed (and the result tainted), Undefined fails. */
function plainData(v: unknown): unknown {
  if (v instanceof JinjaUndefined) v.fail();
  const u = unwrap(v);
  if (Array.isArray(u)) return u.map(plainData);
  if (u !== null && typeof u === 'object') return Object.fromEntries(Object.entries(u).map(([k, x]) => [k, plainData(x)]));
  return u;
}

export { FilterError };
