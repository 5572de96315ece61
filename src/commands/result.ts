import type { ExitKind } from '../errors.js';
import type { RunReport } from '../engine/records.js';

/**
 * How a command ended. Commands return this and never an exit code: src/cli/exit-codes.ts maps it, the one place
 * for every command.
 * - `'ok'`, or an ExitKind: what went wrong, as an error of that kind would have said;
 * - `'usage'` and `'not-found'`: `provision sandbox`'s own (a usage mistake, no such sandbox);
 * - `{ status }`: a command's own exit status, passed through (`sandbox exec`).
 */
export type CommandResult = 'ok' | ExitKind | 'usage' | 'not-found' | { status: number };

/** The outcome of hosts, worst first: a failed host outweighs an unreachable one (ansible-playbook's order). */
export type HostsOutcome = 'ok' | 'failed' | 'unreachable';

export function worstOutcome(outcomes: Iterable<HostsOutcome>): HostsOutcome {
  let worst: HostsOutcome = 'ok';
  for (const o of outcomes) if (o === 'failed' || (o === 'unreachable' && worst === 'ok')) worst = o;
  return worst;
}

/** A run ends failed when a host failed, unreachable when one was unreachable, else ok. */
export function reportOutcome(report: RunReport): HostsOutcome {
  return worstOutcome(report.hosts.map((h) => h.state));
}
