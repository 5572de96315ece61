import { ProvisionError } from '../errors.js';
import type { RunReport } from '../engine/records.js';
import { reportOutcome, type CommandResult } from '../commands/result.js';

/** ansible-playbook's convention, the one place errors become exit codes. 5 is also "the inventory is locked by another run". */
export const EXIT = { ok: 0, internal: 1, failed: 2, unreachable: 3, input: 4, options: 5, locked: 5 } as const;

/**
 * `provision sandbox`'s own codes, older than the convention above and kept as they are: a usage mistake is 2,
 * a sandbox that does not exist 1.
 */
export const SANDBOX_EXIT = { usage: 2, 'not-found': 1 } as const;

/** Every command's result becomes its exit code here. */
export function exitCodeFor(result: CommandResult): number {
  if (typeof result === 'object') return result.status;
  if (result === 'usage' || result === 'not-found') return SANDBOX_EXIT[result];
  return EXIT[result];
}

export function exitCodeForReport(report: RunReport): number {
  return exitCodeFor(reportOutcome(report));
}

export function exitCodeForError(err: unknown): number {
  if (err instanceof ProvisionError) return EXIT[err.exitKind];
  return EXIT.internal;
}
