import { dirname, join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import type { KeyType } from './sign.js';

export interface PkiOptions {
  /** Where the CA and the issued certificates are kept on the controller: `pki/` beside the inventory (see `defaultPkiDir`). */
  dir: string;
  /** Server key type; default `ec` (ECDSA P-256). A CA created by this module uses the key type asked when it is created. */
  keyType?: KeyType;
  /** RSA modulus size, at least 2048 (default 2048). */
  rsaBits?: number;
  /** Server certificate validity, 1 to 825 days (default 397). */
  validityDays?: number;
  /** Re-issue when fewer days than this remain (default 30); must be less than `validityDays`. */
  renewBeforeDays?: number;
  /** The user's own CA certificate (PEM path): it signs our certificates when `caKey` is given too. */
  caCert?: string;
  /** The key of `caCert`: without it nothing can be issued and every host needs its own `userCert`. */
  caKey?: string;
  /** Name in the subject of a CA created here: `CN=provision MQTT CA <caName>` (default: a random suffix). */
  caName?: string;
  /** Compute everything, write nothing: new material exists only in what is returned. */
  check: boolean;
  /** The current time (tests). */
  now?: Date;
}

export const DEFAULT_VALIDITY_DAYS = 397;
export const MAX_VALIDITY_DAYS = 825;
export const DEFAULT_RENEW_BEFORE_DAYS = 30;
export const CA_VALIDITY_DAYS = 3650;
export const MIN_RSA_BITS = 2048;
export const MAX_RSA_BITS = 16384;
export const DAY_MS = 86_400_000;

export interface Resolved {
  dir: string;
  keyType: KeyType;
  rsaBits: number;
  validityDays: number;
  renewBeforeDays: number;
  caCert?: string;
  caKey?: string;
  caName?: string;
  check: boolean;
  now: Date;
}

/** `pki/` in the directory of the (first) inventory file. */
export function defaultPkiDir(inventoryFile: string): string {
  return join(dirname(resolve(inventoryFile)), 'pki');
}

function integer(value: number | undefined, fallback: number, name: string, min: number, max: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new InputError(`${name} must be an integer from ${min} to ${max} (got ${String(value)})`, undefined, undefined, undefined, name);
  }
  return v;
}

export function resolveOptions(o: PkiOptions): Resolved {
  if (!o.dir) throw new InputError('no PKI directory given', undefined, undefined, undefined, 'dir');
  const keyType = o.keyType ?? 'ec';
  if (keyType !== 'ec' && keyType !== 'rsa') {
    throw new InputError(`keyType must be "ec" or "rsa" (got ${JSON.stringify(keyType)})`, undefined, undefined, undefined, 'keyType');
  }
  const rsaBits = integer(o.rsaBits, MIN_RSA_BITS, 'rsaBits', MIN_RSA_BITS, MAX_RSA_BITS);
  const validityDays = integer(o.validityDays, DEFAULT_VALIDITY_DAYS, 'validityDays', 1, MAX_VALIDITY_DAYS);
  const renewBeforeDays = integer(o.renewBeforeDays, Math.min(DEFAULT_RENEW_BEFORE_DAYS, validityDays - 1), 'renewBeforeDays', 0, validityDays - 1);
  if (o.caKey && !o.caCert) throw new InputError('caKey is given without caCert', o.caKey);
  const now = o.now ?? new Date();
  if (Number.isNaN(now.getTime())) throw new InputError('invalid "now" date');
  return {
    dir: resolve(o.dir),
    keyType,
    rsaBits,
    validityDays,
    renewBeforeDays,
    caCert: o.caCert ? resolve(o.caCert) : undefined,
    caKey: o.caKey ? resolve(o.caKey) : undefined,
    caName: o.caName,
    check: o.check,
    now,
  };
}

/** What `describeCert().keyType` says of a key made with these options. */
export function wantedKeyType(r: Resolved): string {
  return r.keyType === 'rsa' ? `rsa ${r.rsaBits}` : 'ec P-256';
}
