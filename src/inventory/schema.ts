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

/** C0 controls (CR, LF, NUL, TAB, ESC…) and DEL: no line-oriented file (ACL, password, env) carries them, and the broker's C strings end at NUL. */
const CONTROL_CHAR = /[\u0000-\u001f\u007f]/;

export function hasControlChars(s: string): boolean {
  return CONTROL_CHAR.test(s);
}

/** The first control character as `U+000A (LF) at character 9`, for a message that shows where it is. */
export function describeControlChar(s: string): string {
  const i = s.search(CONTROL_CHAR);
  const code = s.charCodeAt(i);
  const names: Record<number, string> = { 0: 'NUL', 9: 'TAB', 10: 'LF', 13: 'CR', 27: 'ESC', 127: 'DEL' };
  return `U+${code.toString(16).toUpperCase().padStart(4, '0')}${names[code] ? ` (${names[code]})` : ''} at character ${i + 1}`;
}

/** At most 65535 bytes of UTF-8: the MQTT string limit. */
export function fitsMqttString(s: string): boolean {
  return Buffer.byteLength(s, 'utf8') <= 65535;
}

/**
 * An MQTT user, role, group or client name: non-empty, ≤ 65535 UTF-8 bytes, no control characters
 * (a LF in a name written to the ACL file would start a new `topic …` line: privilege escalation).
 */
export const zMqttName = z
  .string()
  .min(1)
  .superRefine((s, ctx) => {
    if (hasControlChars(s)) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected a name without control characters (found ${describeControlChar(s)})` });
    else if (!fitsMqttString(s)) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'expected a name of at most 65535 bytes (UTF-8)' });
  });

/** An MQTT password: mosquitto_passwd and mosquitto_ctrl read it as one line from stdin, the broker as a C string: no CR, LF or NUL. */
export const zMqttPassword = zSecret.superRefine((s, ctx) => {
  if (/[\r\n\u0000]/.test(s.reveal())) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'expected a password without CR, LF or NUL characters' });
});

/** Free text that ends up as one line of a file (an `address:port`, an environment value): no control characters. */
export const zOneLine = z.string().superRefine((s, ctx) => {
  if (hasControlChars(s)) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected one line of text without control characters (found ${describeControlChar(s)})` });
});
