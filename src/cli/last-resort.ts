import { writeOutOnInternalError } from '../commands/internal-error.js';
import { errorMessage } from '../engine/step-runner.js';
import { exitCodeFor } from './exit-codes.js';

/**
 * The last line of defence: an exception or rejection nothing caught (a bug, a library emitting an error
 * nobody listens for) must not end a run with a stack trace and nothing else. The running command's
 * registered write-out (src/commands/internal-error.ts) prints the recap of what was done and writes the --json
 * report; then one line, and exit 1.
 */
let verbose = false;
let installed = false;
let handling = false;

export function installLastResort(opts: { verbose: boolean }): void {
  verbose = opts.verbose;
  if (installed) return;
  installed = true;
  process.on('uncaughtException', (err) => fatal(err));
  process.on('unhandledRejection', (reason) => fatal(reason));
}

/** `provision: internal error: …` — one line; the stack only with --verbose (or PROVISION_DEBUG). */
export function internalErrorLine(err: unknown, withStack = verbose): string {
  const first = errorMessage(err).split('\n')[0];
  const stack = withStack && err instanceof Error && err.stack ? `\n${err.stack}` : '';
  return `provision: internal error: ${first}${stack || ' (run with --verbose for details)'}\n`;
}

function fatal(err: unknown): void {
  if (handling) return; // a second error while writing out the first: the first one's exit stands
  handling = true;
  try {
    writeOutOnInternalError(err);
  } catch (e) {
    process.stderr.write(`provision: could not write the report: ${errorMessage(e)}\n`);
  }
  process.stderr.write(internalErrorLine(err));
  process.exit(exitCodeFor('internal'));
}
