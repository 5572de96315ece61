import { ProvisionError } from '../errors.js';
import type { RunReport } from '../engine/records.js';

/** ansible-playbook's convention, the one place errors become exit codes. 5 is also "the inventory is locked by another run". */
export const EXIT = { ok: 0, internal: 1, failed: 2, unreachable: 3, input: 4, options: 5, locked: 5 } as const;

export function exitCodeForReport(report: RunReport): number {
  if (report.hosts.some((h) => h.state === 'failed')) return EXIT.failed;
  if (report.hosts.some((h) => h.state === 'unreachable')) return EXIT.unreachable;
  return EXIT.ok;
}

export function exitCodeForError(err: unknown): number {
  if (err instanceof ProvisionError) return EXIT[err.exitKind];
  return EXIT.internal;
}
