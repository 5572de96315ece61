import { isIP } from 'node:net';
import { InputError } from '../errors.js';

export interface Sans {
  dns: string[];
  ip: string[];
}

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** Lower-cased, without a trailing dot; undefined when not a valid DNS name (a leading `*.` wildcard is allowed). */
export function canonicalDnsName(name: string): string | undefined {
  const n = name.trim().toLowerCase().replace(/\.$/, '');
  if (!n || n.length > 253) return undefined;
  const labels = n.split('.');
  return labels.every((l, i) => LABEL.test(l) || (i === 0 && l === '*' && labels.length > 2)) ? n : undefined;
}

/** `10.0.0.1`, `fd00::1` (RFC 5952 compressed, lower case, zone id dropped); undefined when not an IP address. */
export function canonicalIp(address: string): string | undefined {
  const a = address.trim().replace(/%[^%]*$/, ''); // a zone id (fe80::1%eth0) means nothing in a certificate
  const family = isIP(a);
  if (family === 4) return a;
  if (family !== 6) return undefined;
  try {
    return new URL(`http://[${a}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
}

/** An iPAddress SAN's octets as text. */
export function ipFromBytes(b: Uint8Array): string {
  if (b.length === 4) return Array.from(b).join('.');
  if (b.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
    return canonicalIp(groups.join(':')) ?? groups.join(':');
  }
  return `<${Buffer.from(b).toString('hex')}>`;
}

/** The SANs a host's certificate must carry: its name first, then the given names and addresses, deduplicated. */
export function wantedSans(host: string, dnsNames: readonly string[], ipAddresses: readonly string[]): Sans {
  const dns: string[] = [];
  const ip: string[] = [];
  const add = (value: string, what: string): void => {
    const addr = canonicalIp(value);
    if (addr) {
      if (!ip.includes(addr)) ip.push(addr);
      return;
    }
    if (what === 'IP address') throw new InputError(`invalid IP address "${value}" for the certificate of host ${host}`);
    const name = canonicalDnsName(value);
    if (!name) throw new InputError(`invalid ${what} "${value}" for the certificate of host ${host}: not a DNS name or IP address`);
    if (!dns.includes(name)) dns.push(name);
  };
  add(host, 'host name');
  for (const n of dnsNames) add(n, 'DNS name');
  for (const a of ipAddresses) add(a, 'IP address');
  return { dns, ip };
}

/** `['+10.77.0.14', '-old.example.com']`: what `want` has that `have` lacks (+) and the reverse (-), order-insensitive. */
export function sanChanges(want: Sans, have: Sans): string[] {
  const norm = (s: Sans): Set<string> =>
    new Set([...s.dns.map((d) => `dns:${d.toLowerCase()}`), ...s.ip.map((i) => `ip:${canonicalIp(i) ?? i}`)]);
  const w = norm(want);
  const h = norm(have);
  const strip = (k: string): string => k.slice(k.indexOf(':') + 1);
  return [...[...w].filter((k) => !h.has(k)).map((k) => `+${strip(k)}`), ...[...h].filter((k) => !w.has(k)).map((k) => `-${strip(k)}`)];
}
