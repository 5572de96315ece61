import { isIPv4, isIPv6 } from 'node:net';
import { z } from 'zod';
import { Secret, registerSecretValue } from '../secrets.js';

/**
 * A secret: a Secret already (from a lookup or a variable named like a password), or a string — or a number, as an
 * unquoted YAML `password: 123456` is — wrapped into a Secret and registered for redaction.
 */
export const zSecret = z
  .custom<string | number | Secret>(
    (v) => (typeof v === 'string' && v.length > 0) || (typeof v === 'number' && Number.isFinite(v)) || v instanceof Secret,
    { message: 'expected a non-empty secret string' },
  )
  .transform((v) => {
    if (v instanceof Secret) return v;
    const text = String(v);
    registerSecretValue(text);
    return new Secret(text);
  });

/** A TCP/UDP port, 1–65535; digit strings (INI text, `{{ }}` results) are accepted. */
export const zPort = z.preprocess(
  (v) => (typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v),
  z.number({ invalid_type_error: 'expected a port number' }).int('expected a whole port number').min(1, 'expected a port from 1 to 65535').max(65535, 'expected a port from 1 to 65535'),
);

/** An IPv4 or IPv6 network in CIDR form: `10.0.0.0/8`, `192.168.1.7/32`, `2001:db8::/32`. */
export const zCidr = z.string().refine(isCidr, { message: 'expected an IPv4/IPv6 CIDR such as 10.0.0.0/8 or 2001:db8::/32' });

export function isCidr(v: string): boolean {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(v.trim());
  if (!m) return false;
  const bits = Number(m[2]);
  if (isIPv4(m[1])) return bits <= 32;
  if (isIPv6(m[1])) return bits <= 128;
  return false;
}

/** A DNS host name (RFC 1123 labels) or an IPv4/IPv6 address. */
export const zHostName = z.string().refine(isHostName, { message: 'expected a host name or an IP address' });

export function isHostName(v: string): boolean {
  if (isIPv4(v) || isIPv6(v)) return true;
  if (v.length === 0 || v.length > 253) return false;
  return v
    .replace(/\.$/, '')
    .split('.')
    .every((label) => /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label));
}
