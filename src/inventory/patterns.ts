import { isIPv6 } from 'node:net';
import { InputError } from '../errors.js';
import type { InventoryGroup } from './types.js';

interface PatternScope {
  groups: Map<string, InventoryGroup>;
  hostOrder: string[];
}

/**
 * Ansible host patterns: `all`, `*`, groups, hosts, unions with `,` or `:`, `!x` exclusions, `&x` intersections,
 * globs (`mq*`, `web?`, `[ab]*`), regexes (`~mq\d+`), subscripts (`web[0]`, `web[1:3]`).
 * Regular patterns are applied first, then `&`, then `!` (as Ansible does); the result is in inventory order.
 * A pattern that matches no host or group → InputError.
 */
export function selectHosts(pattern: string, inv: PatternScope): string[] {
  const parts = splitHostPattern(pattern);
  if (parts.length === 0) throw new InputError(`empty host pattern '${pattern}'`);
  const regular = parts.filter((p) => p[0] !== '!' && p[0] !== '&');
  const intersect = parts.filter((p) => p[0] === '&');
  const exclude = parts.filter((p) => p[0] === '!');
  const ordered = [...(regular.length ? regular : ['all']), ...intersect, ...exclude];
  const known = new Set(inv.hostOrder);

  let hosts = new Set<string>();
  for (const p of ordered) {
    if (p[0] !== '!' && p[0] !== '&' && known.has(p)) {
      hosts.add(p);
      continue;
    }
    const that = matchOne(p[0] === '!' || p[0] === '&' ? p.slice(1) : p, inv);
    if (p[0] === '!') hosts = new Set([...hosts].filter((h) => !that.has(h)));
    else if (p[0] === '&') hosts = new Set([...hosts].filter((h) => that.has(h)));
    else for (const h of that) hosts.add(h);
  }
  return inv.hostOrder.filter((h) => hosts.has(h));
}

/** Ansible's split_host_pattern: commas; otherwise colons outside [...] (unless the whole thing is an IPv6 address). */
export function splitHostPattern(pattern: string): string[] {
  let parts: string[];
  if (pattern.includes(',')) parts = pattern.split(',');
  else if (isIPv6(pattern.replace(/^\[|\]$/g, ''))) parts = [pattern];
  else parts = pattern.match(/(?:[^\s:[\]]|\[[^\]]*\])+/g) ?? [];
  return parts.map((p) => p.trim()).filter(Boolean);
}

function matchOne(pattern: string, inv: PatternScope): Set<string> {
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
    for (const h of inv.hostOrder) if (re.test(h)) add(h);
  }
  const results = [...found];
  if (!matchedGroup && results.length === 0) {
    throw new InputError(`no host or group matches '${pattern}'`);
  }
  if (!subscript) return new Set(results);
  const [start, end] = subscript;
  const idx = start < 0 ? results.length + start : start;
  if (idx < 0 || idx >= results.length) {
    throw new InputError(`'${pattern}': index ${start} is out of range (${results.length} host${results.length === 1 ? '' : 's'})`);
  }
  if (end === undefined) return new Set([results[idx]]);
  const last = end === -1 ? results.length - 1 : end;
  return new Set(results.slice(idx, last + 1));
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
      return new RegExp(`^(?:${expr.slice(1)})`);
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
