import { createHash, createHmac } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface KnownKey {
  type: string;
  blob: Buffer;
}

/** known_hosts names a host as `addr` on port 22 and `[addr]:port` otherwise. */
export function knownHostsName(address: string, port: number): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export function keyTypeOf(blob: Buffer): string {
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString('ascii');
}

function patternMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    if (!salt || !hash) return false;
    const h = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return h === hash;
  }
  return pattern.split(',').some((p) => {
    if (p.startsWith('!')) return false;
    const re = new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
    return re.test(name);
  });
}

/** Keys recorded for `name` in a known_hosts file (markers like @revoked are ignored except @cert-authority, unsupported). */
export function knownKeysFor(file: string, name: string): KnownKey[] {
  if (!existsSync(file)) return [];
  const keys: KnownKey[] = [];
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('@')) continue;
    const [pattern, type, b64] = line.split(/\s+/);
    if (!pattern || !type || !b64) continue;
    if (patternMatches(pattern, name)) keys.push({ type, blob: Buffer.from(b64, 'base64') });
  }
  return keys;
}

export function appendKnownHost(file: string, name: string, blob: Buffer): void {
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, `${name} ${keyTypeOf(blob)} ${blob.toString('base64')}\n`, { mode: 0o600 });
}

export type HostKeyVerdict = 'known' | 'unknown' | 'changed';

export function judgeHostKey(file: string, name: string, blob: Buffer): HostKeyVerdict {
  const keys = knownKeysFor(file, name);
  if (keys.some((k) => k.blob.equals(blob))) return 'known';
  return keys.some((k) => k.type === keyTypeOf(blob)) ? 'changed' : 'unknown';
}
