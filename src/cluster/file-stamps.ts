/**
 * The stamp and digest of a file provision copies to a host (the exporter binary), remembered on the controller in
 * `.provision-state/<host>/` (./observed-state.ts) so that a no-op answers "unchanged" from a stat instead of
 * hashing 10 MB on every host (issue 13; see stampedFileFact in src/facts/files.ts). A cache: deleting it, or
 * anything malformed in it, only costs the next run one hash.
 */
import { createHash } from 'node:crypto';
import type { HostContext } from '../engine/types.js';
import { isStampedDigest } from '../facts/files.js';
import type { StampStore } from '../operations/file.js';
import { readObservation, recordObservation } from './observed-state.js';

/** One entry per host and path: `file-stamp-<sha256(path), 12 hex>.json`. */
export function fileStampStore(ctx: HostContext, path: string): StampStore {
  const baseDir = ctx.play.inventory.baseDir;
  const name = `file-stamp-${createHash('sha256').update(path).digest('hex').slice(0, 12)}`;
  return {
    get: () => {
      const o = readObservation(baseDir, ctx.name, name);
      if (!o || o.inputs !== path) return undefined;
      try {
        const d: unknown = JSON.parse(o.evidence);
        return isStampedDigest(d) ? { stamp: d.stamp, sha256: d.sha256 } : undefined;
      } catch {
        return undefined;
      }
    },
    put: (d) => recordObservation(baseDir, ctx.name, name, { inputs: path, evidence: JSON.stringify({ stamp: d.stamp, sha256: d.sha256 }) }),
  };
}
