/**
 * What provision last saw on a host when it matched the inventory, kept on the controller beside the inventory
 * (`.provision-state/<host>/<name>.json`, a cache: deleting it only costs a slower next run). A no-op run uses it
 * to skip a costly read — the dynamic-security API through an SSH forward, the scrypt password fingerprints —
 * when a fact the batch returned anyway (a file's digest) shows the host exactly as it was then, and the inputs
 * are the same.
 *
 * The inputs are recorded as an HMAC keyed with a secret of the run, so the file holds nothing that helps guess a
 * password.
 */
import { createHmac } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isSecret, type Secret } from '../secrets.js';

export interface Observation {
  /** HMAC of the inputs (what the inventory asked for). */
  inputs: string;
  /** The host-side evidence that nothing changed since: e.g. a file's sha256. */
  evidence: string;
}

/** Canonical JSON (sorted keys) with secrets revealed, so a changed password changes the digest. */
function canonical(v: unknown): string {
  if (isSecret(v)) return JSON.stringify(['secret', v.reveal()]);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    return `{${entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export function inputsDigest(key: Secret, inputs: unknown): string {
  return createHmac('sha256', key.reveal()).update(canonical(inputs)).digest('hex');
}

function fileOf(baseDir: string, host: string, name: string): string {
  return join(baseDir, '.provision-state', host, `${name}.json`);
}

export function readObservation(baseDir: string, host: string, name: string): Observation | undefined {
  try {
    const o = JSON.parse(readFileSync(fileOf(baseDir, host, name), 'utf8')) as Partial<Observation>;
    return typeof o.inputs === 'string' && typeof o.evidence === 'string' ? { inputs: o.inputs, evidence: o.evidence } : undefined;
  } catch {
    return undefined;
  }
}

/** Written atomically (a crash leaves the old entry or none, never half of one). */
export function recordObservation(baseDir: string, host: string, name: string, o: Observation): void {
  const file = fileOf(baseDir, host, name);
  mkdirSync(join(baseDir, '.provision-state', host), { recursive: true, mode: 0o700 });
  writeFileSync(`${file}.tmp`, `${JSON.stringify(o)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}
