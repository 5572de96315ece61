/**
 * Password drift detection. The dynamic-security API never returns passwords, so provision keeps a
 * fingerprint of the password it set in the client's `textdescription`:
 *
 *   provision:pw=<salt>:<base64url(scrypt(password, salt, 16 bytes))>
 *
 * scrypt (N=16384, r=8, p=1) makes the fingerprint at least as hard to brute-force as the
 * plugin's own PBKDF2 hash (101 iterations in 2.0.x).
 */
import { createHash, scryptSync, timingSafeEqual } from 'node:crypto';
import type { Secret } from '../secrets.js';

export const FINGERPRINT_PREFIX = 'provision:pw=';
const FINGERPRINT_RE = /provision:pw=([A-Za-z0-9_-]{4,64}):([A-Za-z0-9_-]{22})/;
const SCRYPT = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

const cache = new Map<string, string>();

function derive(password: string, salt: string): string {
  const key = createHash('sha256').update(salt).update('\0').update(password).digest('base64url');
  let v = cache.get(key);
  if (!v) {
    v = scryptSync(password, salt, 16, SCRYPT).toString('base64url');
    if (cache.size > 1000) cache.clear();
    cache.set(key, v);
  }
  return v;
}

export function passwordFingerprint(password: Secret, salt: string): string {
  if (!/^[A-Za-z0-9_-]{4,64}$/.test(salt)) throw new Error('fingerprint salt must be 4-64 base64url characters');
  return `${FINGERPRINT_PREFIX}${salt}:${derive(password.reveal(), salt)}`;
}

export function parseFingerprint(text: string | undefined): { salt: string; hash: string } | undefined {
  const m = text ? FINGERPRINT_RE.exec(text) : null;
  return m ? { salt: m[1], hash: m[2] } : undefined;
}

/** True when `text` holds a provision fingerprint of exactly this password. */
export function fingerprintMatches(text: string | undefined, password: Secret): boolean {
  const fp = parseFingerprint(text);
  if (!fp) return false;
  const a = Buffer.from(derive(password.reveal(), fp.salt));
  const b = Buffer.from(fp.hash);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Deterministic per-user salt (keeps `planDynsec` pure); an existing fingerprint's salt is reused instead. */
export function defaultSalt(username: string): string {
  return createHash('sha256').update(`provision-dynsec-salt:${username}`).digest('base64url').slice(0, 16);
}
