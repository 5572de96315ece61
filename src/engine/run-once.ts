/**
 * Which host ran each run-once step, per play. Keyed by the step's typed id (role, phase, kind and the step's own
 * id or name: ./phase-units.ts), so two roles' steps of the same display name never share a slot.
 */
import type { StepId } from './phase-units.js';

export class RunOnce {
  private readonly owners = new Map<string, string>();

  /** Claims step `id` of `play` for `host`; returns the host that claimed it first when that is another host. */
  claim(play: string, id: StepId, host: string): string | undefined {
    const key = `${play}\u0000${id}`;
    const owner = this.owners.get(key);
    if (owner !== undefined && owner !== host) return owner;
    this.owners.set(key, host);
    return undefined;
  }
}
