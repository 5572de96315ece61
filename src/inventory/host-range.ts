import { isIPv6 } from 'node:net';

/** A host pattern `name`, `name:port`, `[v6]:port`, `bare:v6::addr`, ranges kept in `name`. Throws Error on a bad port. */
export function splitHostPort(pattern: string): { name: string; port?: number } {
  // A host name reaches files (the exporter's client id, its environment file): a LF there would add lines.
  const ctl = pattern.search(/[\u0000-\u001f\u007f]/);
  if (ctl >= 0) throw new Error(`invalid host ${JSON.stringify(pattern)}: a host name must not contain control characters (U+${pattern.charCodeAt(ctl).toString(16).toUpperCase().padStart(4, '0')} at character ${ctl + 1})`);
  const bracketed = /^\[([0-9A-Fa-f:.%\w]+)\](?::(\d+))?$/.exec(pattern);
  if (bracketed && isIPv6(bracketed[1])) {
    return bracketed[2] === undefined ? { name: bracketed[1] } : { name: bracketed[1], port: toPort(bracketed[2], pattern) };
  }
  const colons: number[] = [];
  let depth = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '[') depth++;
    else if (c === ']') depth = Math.max(0, depth - 1);
    else if (c === ':' && depth === 0) colons.push(i);
  }
  if (colons.length === 0) return { name: pattern };
  if (colons.length > 1) return { name: pattern }; // a bare IPv6 address: no port possible
  const name = pattern.slice(0, colons[0]);
  const port = pattern.slice(colons[0] + 1);
  if (port === '') throw new Error(`invalid host '${pattern}': a trailing ':' must be followed by a port`);
  if (!/^\d+$/.test(port)) throw new Error(`invalid port '${port}' in host '${pattern}'`);
  return { name, port: toPort(port, pattern) };
}

function toPort(text: string, pattern: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid port ${text} in host '${pattern}' (1-65535)`);
  return port;
}

/** Hosts one range pattern may expand to. */
export const MAX_RANGE_HOSTS = 100_000;

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * Ansible's host ranges: `mq[1:3]`, `mq[01:10]` (zero-padded), `mq[1:10:2]` (step), `[a:c]`, several per name.
 * Throws Error with Ansible's wording on a malformed range.
 */
export function expandHostRange(name: string, budget = { left: MAX_RANGE_HOSTS, whole: name }): string[] {
  const open = name.indexOf('[');
  if (open < 0) {
    // Several ranges in one name multiply (`h[1:99999][1:99999]`): bound the product, not each range.
    if (--budget.left < 0) throw new Error(`host range '${budget.whole}' expands to more than ${MAX_RANGE_HOSTS} hosts`);
    return [name];
  }
  const close = name.indexOf(']', open);
  if (close < 0) throw new Error(`unclosed '[' in host range '${name}'`);
  const head = name.slice(0, open);
  const tail = name.slice(close + 1);
  const bounds = name.slice(open + 1, close).split(':');
  if (bounds.length !== 2 && bounds.length !== 3) throw new Error(`host range '${name}' must be [begin:end] or [begin:end:step]`);
  const beg = bounds[0] || '0';
  const end = bounds[1];
  const stepText = bounds[2] ?? '1';
  if (!end) throw new Error(`host range '${name}' must specify an end value`);
  if (!/^\d+$/.test(stepText) || Number(stepText) < 1) throw new Error(`host range '${name}' has an invalid step '${stepText}'`);
  const step = Number(stepText);

  let seq: string[];
  const ib = LETTERS.indexOf(beg);
  const ie = LETTERS.indexOf(end);
  if (beg.length === 1 && end.length === 1 && ib >= 0 && ie >= 0) {
    if (ib > ie) throw new Error(`host range '${name}' must have begin <= end`);
    seq = [];
    for (let i = ib; i <= ie; i += step) seq.push(LETTERS[i]);
  } else {
    if (!/^\d+$/.test(beg) || !/^\d+$/.test(end)) throw new Error(`host range '${name}' must be numeric ([1:5]) or alphabetic ([a:e])`);
    const padded = beg.length > 1 && beg.startsWith('0');
    if (padded && beg.length !== end.length) throw new Error(`host range '${name}' must use equal-length begin and end when zero-padded`);
    const b = Number(beg);
    const e = Number(end);
    if (b > e) throw new Error(`host range '${name}' must have begin <= end`);
    if ((e - b) / step > MAX_RANGE_HOSTS) throw new Error(`host range '${name}' is too large`);
    seq = [];
    for (let i = b; i <= e; i += step) seq.push(padded ? String(i).padStart(beg.length, '0') : String(i));
  }
  return seq.flatMap((part) => expandHostRange(head + part + tail, budget));
}
