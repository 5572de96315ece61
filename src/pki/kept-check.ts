/**
 * "The stored certificate can be kept", remembered between runs: a no-op run answers it without parsing and
 * verifying the CA and host certificates again (issue 13). The answer is keyed by a digest of everything the check
 * reads — the bytes of the CA certificate and key, the trusted next/previous CAs, the host's certificate and key,
 * and what the inventory asks for (names, key type, validity, renewal margin) — and it holds only until the first
 * moment time alone could change it: the start of the renewal margin or the CA's expiry, whichever comes first.
 * So an expiring certificate is still noticed on the first run inside its margin.
 *
 * Where the answer is kept is the caller's (src/cluster/certificate.ts keeps it in `.provision-state/`, beside the
 * inventory). The digest holds nothing that helps rebuild a key: sha256 of files made of random key material.
 */
import { createHash } from 'node:crypto';
import { caPaths } from './ca.js';
import { readIfExists } from './fsio.js';
import type { Sans } from './names.js';
import { wantedKeyType, type Resolved } from './options.js';
import { rotationPaths } from './trust-bundle.js';

export interface KeptCheck {
  /** sha256 of the inputs (see checkInputs). */
  inputs: string;
  /** ms since the epoch: the answer holds from this moment (the check) … */
  since: number;
  /** … until this one (exclusive). */
  until: number;
  /** The kept certificate's notAfter, ISO. */
  notAfter: string;
  sans: Sans;
}

/** Where a caller keeps a host's answer. */
export interface KeptCheckStore {
  get(): KeptCheck | undefined;
  put(k: KeptCheck): void;
}

export interface CheckInputs {
  digest: string;
  /** The texts read for the digest (undefined: no such file), so the caller need not read them again. */
  caCert?: string;
  cert?: string;
  key?: string;
}

const sha = (t: string | undefined) => (t === undefined ? null : createHash('sha256').update(t).digest('hex'));

/** Reads what the check of `host`'s stored certificate depends on and digests it. */
export async function checkInputs(r: Resolved, host: string, want: Sans, paths: { cert: string; key: string }): Promise<CheckInputs> {
  const ca = r.caCert ? { cert: r.caCert, key: r.caKey } : caPaths(r.dir);
  const rot = rotationPaths(r.dir);
  const [caCert, caKey, next, previous, cert, key] = await Promise.all(
    [ca.cert, ca.key, rot.next.cert, rot.previous, paths.cert, paths.key].map((p) => (p ? readIfExists(p) : Promise.resolve(undefined))),
  );
  const parts = {
    v: 1,
    host,
    want,
    keyType: wantedKeyType(r),
    validityDays: r.validityDays,
    renewBeforeDays: r.renewBeforeDays,
    caPaths: [ca.cert, ca.key ?? null],
    files: [caCert, caKey, next, previous, cert, key].map(sha),
  };
  return { digest: createHash('sha256').update(JSON.stringify(parts)).digest('hex'), caCert, cert, key };
}

/** The remembered answer, when it is for these inputs and still holds at `now`. */
export function keptAnswer(store: KeptCheckStore | undefined, inputs: CheckInputs, now: Date): KeptCheck | undefined {
  const k = store?.get();
  const t = now.getTime();
  if (!k || k.inputs !== inputs.digest || !(k.since <= t && t < k.until)) return undefined;
  if (inputs.cert === undefined || inputs.key === undefined || inputs.caCert === undefined) return undefined;
  return k;
}

/** The parts of an answer besides its inputs, as text (a store keeps `inputs` and this). */
export function keptEvidence(k: KeptCheck): string {
  return JSON.stringify({ since: k.since, until: k.until, notAfter: k.notAfter, sans: k.sans });
}

/** An answer back from its inputs and `keptEvidence` text; anything malformed is no answer. */
export function parseKeptCheck(inputs: string, evidence: string): KeptCheck | undefined {
  try {
    const k = { ...(JSON.parse(evidence) as Partial<KeptCheck>), inputs };
    const ok =
      typeof k.since === 'number' &&
      typeof k.until === 'number' &&
      typeof k.notAfter === 'string' &&
      !Number.isNaN(new Date(k.notAfter).getTime()) &&
      Array.isArray(k.sans?.dns) &&
      Array.isArray(k.sans?.ip);
    return ok ? (k as KeptCheck) : undefined;
  } catch {
    return undefined;
  }
}
