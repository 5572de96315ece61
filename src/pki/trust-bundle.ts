// The CAs hosts and clients must trust during a rollover (./rotation.ts), as files in the PKI directory.
import { join } from 'node:path';
import { readIfExists } from './fsio.js';
import { pemCertificates } from './x509.js';

export function rotationPaths(dir: string) {
  return {
    next: { cert: join(dir, 'ca-next.crt'), key: join(dir, 'ca-next.key') },
    previous: join(dir, 'ca-previous.crt'),
    bundle: join(dir, 'ca-bundle.crt'),
  };
}

export interface RotationState {
  /** A next CA exists: trust it, do not sign with it yet. */
  next: boolean;
  /** A retired-but-still-trusted CA exists. */
  previous: boolean;
}

export async function rotationState(dir: string): Promise<RotationState> {
  const p = rotationPaths(dir);
  return { next: (await readIfExists(p.next.cert)) !== undefined, previous: (await readIfExists(p.previous)) !== undefined };
}

/** Current CA first, then the next one, then the previous one: every certificate hosts and clients must trust. */
export async function trustBundle(dir: string, currentCert: string): Promise<string> {
  const p = rotationPaths(dir);
  const extra = [await readIfExists(p.next.cert), await readIfExists(p.previous)].filter((x): x is string => x !== undefined);
  if (extra.length === 0) return currentCert;
  const seen = new Set<string>();
  const all = [currentCert, ...extra].flatMap(pemCertificates).filter((c) => (seen.has(c) ? false : (seen.add(c), true)));
  return all.join('');
}
