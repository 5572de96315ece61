import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { StepError } from '../errors.js';
import { caPaths } from './ca.js';
import { readIfExists, writeAtomic } from './fsio.js';
import { rotationPaths, rotationState, trustBundle } from './trust-bundle.js';
import { withLock } from './lock.js';
import { CA_VALIDITY_DAYS, DAY_MS } from './options.js';
import { generateCa, type KeyType } from './sign.js';
import { parseCert } from './x509.js';

/**
 * CA rollover without a disconnect, in the PKI directory:
 *   start   → `ca-next.crt/.key`: a new CA. Hosts and clients trust current + next; servers keep current's certificates.
 *   promote → next becomes `ca.crt/.key` (it signs from now on: every server certificate is re-issued), the old one
 *             is kept as `ca-previous.crt` (its key is deleted) and still trusted, so nobody drops mid-rollout.
 *   retire  → `ca-previous.crt` removed: only the new CA is trusted.
 * What hosts get as `ca.crt` and clients should use is the bundle of all that are trusted: `ca-bundle.crt`.
 */
export type RotationStage = 'start' | 'promote' | 'retire';

function describe(certText: string): string {
  const c = parseCert(certText);
  return `${c.subject} (until ${c.notAfter.toISOString().slice(0, 10)})`;
}

/** One stage of the rollover; returns what happened and what to do next, for the operator. */
export async function rotateCa(dir: string, stage: RotationStage, o: { keyType?: KeyType; now?: Date } = {}): Promise<string[]> {
  const cur = caPaths(dir);
  const p = rotationPaths(dir);
  return withLock(`ca:${dir}`, async () => {
    const current = await readIfExists(cur.cert);
    if (current === undefined || (await readIfExists(cur.key)) === undefined) throw new StepError(`${cur.cert}: no CA of provision's own here to rotate (a CA given with tls_ca_cert is rotated by changing that file)`);
    const state = await rotationState(dir);
    const lines: string[] = [];
    if (stage === 'start') {
      if (state.next) throw new StepError(`${p.next.cert} exists: a rotation is under way; next stage: provision pki rotate-ca promote`);
      if (state.previous) throw new StepError(`${p.previous} exists: the last rotation is not finished; next stage: provision pki rotate-ca retire`);
      const now = o.now ?? new Date();
      const notBefore = new Date(now.getTime() - 3_600_000);
      const made = await generateCa({
        keyType: o.keyType ?? 'ec',
        rsaBits: 2048,
        commonName: `provision MQTT CA ${now.toISOString().slice(0, 10)}-${randomBytes(3).toString('hex')}`,
        notBefore,
        notAfter: new Date(notBefore.getTime() + CA_VALIDITY_DAYS * DAY_MS),
      });
      await writeAtomic(p.next.key, made.key, 0o600);
      await writeAtomic(p.next.cert, made.cert, 0o644);
      lines.push(`new CA ${describe(made.cert)} in ${p.next.cert}; ${describe(current)} still signs`);
      lines.push(`1. give every client ${p.bundle} (both CAs) as its CA file`);
      lines.push('2. run provision: every host trusts both CAs (certificates reloaded, no disconnect)');
      lines.push('3. then: provision pki rotate-ca promote');
    } else if (stage === 'promote') {
      if (!state.next) throw new StepError(`${p.next.cert} not found: start a rotation first (provision pki rotate-ca start)`);
      const next = (await readIfExists(p.next.cert))!;
      const nextKey = await readIfExists(p.next.key);
      if (nextKey === undefined) throw new StepError(`${p.next.key} is missing: restore it or remove ${p.next.cert} and start again`);
      // Previous first: a crash after it leaves the old CA both current and previous, which is still consistent.
      await writeAtomic(p.previous, current, 0o644);
      await rename(p.next.key, cur.key);
      await rename(p.next.cert, cur.cert);
      lines.push(`${describe(next)} signs now; ${describe(current)} is kept as ${p.previous} (trusted, its key deleted)`);
      lines.push('1. run provision: every server certificate is re-issued by the new CA and reloaded (no disconnect)');
      lines.push('2. once every client has the bundle: provision pki rotate-ca retire');
    } else {
      if (state.next) throw new StepError(`${p.next.cert} exists: promote it first (provision pki rotate-ca promote)`);
      if (!state.previous) throw new StepError(`${p.previous} not found: nothing to retire`);
      const prev = (await readIfExists(p.previous))!;
      await rm(p.previous);
      lines.push(`${describe(prev)} retired: only ${describe(current)} is trusted`);
      lines.push('1. run provision: hosts trust the new CA alone');
      lines.push(`2. clients may replace ${p.bundle} by ${cur.cert}`);
    }
    // The bundle clients use reflects the stage just reached.
    const nowCurrent = (await readIfExists(cur.cert))!;
    await writeAtomic(p.bundle, await trustBundle(dir, nowCurrent), 0o644);
    return lines;
  });
}

export { rotationPaths, rotationState, trustBundle, type RotationState } from './trust-bundle.js';
