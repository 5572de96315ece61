import { isIPv6 } from 'node:net';
import { InputError } from '../errors.js';
import { pyRegex } from './jinja-filters.js';
import type { InventoryGroup } from './types.js';

interface PatternScope {
  groups: Map<string, InventoryGroup>;
  hostOrder: string[];
  /** Hosts in the order first declared (Ansible's inventory.hosts): what name/glob/regex matching of hosts walks. */
  declared?: string[];
  /** Told about a pattern part that matches nothing (default: a warning on stderr, like Ansible's). */
  warn?: (message: string) => void;
}

/** Thrown by matchOne for a part that matches nothing: Ansible warns and goes on with the other parts. */
class NoMatch extends Error {}

/**
 * Ansible host patterns: `all`, `*`, groups, hosts, unions with `,` or `:`, `!x` exclusions, `&x` intersections,
 * globs (`mq*`, `web?`, `[ab]*`), regexes (`~mq\d+`), subscripts (`web[0]`, `web[1:3]`).
 * Regular patterns are applied first, then `&`, then `!` (as Ansible does); the result is in Ansible's order (each
 * part in turn, a group's hosts in the group's order). A part that matches nothing is a warning, as in Ansible; a
 * pattern that matches no host at all → InputError.
 */
export function selectHosts(pattern: string, inv: PatternScope): string[] {
  const parts = splitHostPattern(pattern);
  if (parts.length === 0) throw new InputError(`empty host pattern '${pattern}'`);
  const regular = parts.filter((p) => p[0] !== '!' && p[0] !== '&');
  const intersect = parts.filter((p) => p[0] === '&');
  const exclude = parts.filter((p) => p[0] === '!');
  const ordered = [...(regular.length ? regular : ['all']), ...intersect, ...exclude];
  const known = new Set(inv.hostOrder);
  const warn = inv.warn ?? ((m: string) => process.stderr.write(`[WARNING]: ${m}\n`));
  const unmatched: string[] = [];

  let hosts: string[] = [];
  for (const p of ordered) {
    if (p[0] !== '!' && p[0] !== '&' && known.has(p)) {
      if (!hosts.includes(p)) hosts.push(p);
      continue;
    }
    let that: string[];
    try {
      that = matchOne(p[0] === '!' || p[0] === '&' ? p.slice(1) : p, inv);
    } catch (e) {
      if (!(e instanceof NoMatch)) throw e;
      unmatched.push(p);
      warn(`Could not match supplied host pattern, ignoring: ${p.replace(/^[!&]/, '')}`);
      that = [];
    }
    if (p[0] === '!') hosts = hosts.filter((h) => !that.includes(h));
    else if (p[0] === '&') hosts = hosts.filter((h) => that.includes(h));
    else for (const h of that) if (!hosts.includes(h)) hosts.push(h);
  }
  if (hosts.length === 0 && unmatched.length > 0 && unmatched.length === ordered.filter((p) => p[0] !== '!' && p[0] !== '&').length) {
    throw new InputError(`no host or group matches '${unmatched.length === 1 ? unmatched[0] : pattern}'`);
  }
  return hosts;
}

/** Ansible's split_host_pattern: commas; otherwise colons outside [...] (unless the whole thing is an IPv6 address). */
export function splitHostPattern(pattern: string): string[] {
  let parts: string[];
  if (pattern.includes(',')) parts = pattern.split(',');
  else if (isIPv6(pattern.replace(/^\[|\]$/g, ''))) parts = [pattern];
  else parts = pattern.match(/(?:[^\s:[\]]|\[[^\]]*\])+/g) ?? [];
  return parts.map((p) => p.trim()).filter(Boolean);
}

function matchOne(pattern: string, inv: PatternScope): string[] {
  if (!pattern) throw new InputError(`empty pattern after '!' or '&'`);
  const { expr, subscript } = splitSubscript(pattern);
  const re = toRegExp(expr);
  const found = new Set<string>();
  const add = (h: string) => found.add(h);
  let matchedGroup = false;
  for (const [name, g] of inv.groups) {
    if (re.test(name)) {
      matchedGroup = true;
      g.hosts.forEach(add);
    }
  }
  if (!matchedGroup || expr[0] === '~' || /[.?*[]/.test(expr)) {
    for (const h of inv.declared ?? inv.hostOrder) if (re.test(h)) add(h);
  }
  const results = [...found];
  if (!matchedGroup && results.length === 0) throw new NoMatch('');
  if (!subscript) return results;
  const [start, end] = subscript;
  const idx = start < 0 ? results.length + start : start;
  // Ansible 2.14 stops here too ("No hosts matched the subscripted pattern"), unlike a name that matches nothing.
  if (idx < 0 || idx >= results.length) throw new InputError(`no hosts matched the subscripted pattern '${pattern}': index ${start} is out of range (${results.length} host${results.length === 1 ? '' : 's'})`);
  if (end === undefined) return [results[idx]];
  const last = end === -1 ? results.length - 1 : end;
  return results.slice(idx, last + 1);
}

/** `web[0]`, `web[-1]`, `web[1:3]`, `web[2:]` (not for regexes). */
function splitSubscript(pattern: string): { expr: string; subscript?: [number, number?] } {
  if (pattern[0] === '~') return { expr: pattern };
  const m = /^(.+)\[(?:(-?\d+)|(\d+)([:-])(\d*))\]$/.exec(pattern);
  if (!m) return { expr: pattern };
  if (m[2] !== undefined) return { expr: m[1], subscript: [Number(m[2])] };
  return { expr: m[1], subscript: [Number(m[3]), m[5] ? Number(m[5]) : -1] };
}

/** `~regex` (matched from the start, like Python's re.match) or an fnmatch glob (whole name, case-sensitive). */
function toRegExp(expr: string): RegExp {
  if (expr[0] === '~') {
    try {
      const re = pyRegex(expr.slice(1)); // Python syntax: `~(?i)web`, `(?P<n>…)`
      return new RegExp(`^(?:${re.source})`, re.flags);
    } catch (e) {
      throw new InputError(`invalid regular expression in host pattern '${expr}': ${(e as Error).message}`);
    }
  }
  let src = '';
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i];
    if (c === '*') src += '.*';
    else if (c === '?') src += '.';
    else if (c === '[') {
      const close = expr.indexOf(']', i + 2);
      if (close < 0) src += '\\[';
      else {
        let body = expr.slice(i + 1, close);
        if (body[0] === '!') body = `^${body.slice(1)}`;
        src += `[${body.replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else src += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^(?:${src})$`, 's');
}
