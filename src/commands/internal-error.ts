/**
 * While a command is under way: what to write out if it dies of an error nothing caught (a run's recap and --json
 * report of what was done). The running command registers it here; src/cli/last-resort.ts, which catches such errors
 * for the whole process, calls it before its one line and exit 1.
 */
let write: ((err: unknown) => void) | undefined;

/** Registers what to write out; returns the undo. */
export function onInternalError(w: (err: unknown) => void): () => void {
  write = w;
  return () => {
    if (write === w) write = undefined;
  };
}

/** Writes out what the running command registered, if anything. */
export function writeOutOnInternalError(err: unknown): void {
  write?.(err);
}
