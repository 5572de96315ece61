/**
 * When each play may start. Plays run in playbook order, with the one overlap the build phase allows: the build
 * phase is host-local (packages, users, binaries; it uses no other host's connection: ./play-loop.ts enforces it),
 * so a play whose first phase is build starts as soon as its hosts are free — once every earlier play that has one
 * of its hosts ended. Every later phase waits until every earlier play ended, so from the configure phase on the
 * plays run one after the other, as they always did. A host is therefore in at most one phase at a time, in play
 * order.
 */
import type { Phase } from './phase.js';
import type { Play } from './playbook.js';

/** Whether `play` begins with its build phase and may run it beside the earlier plays (it did not opt out). */
export function buildStartsEarly(play: Play, phases: readonly Phase[]): boolean {
  if (play.earlyBuild === false || phases[0] !== 'build') return false;
  return play.roles.some(({ role }) => role.phases.build !== undefined || role.absent?.build !== undefined);
}

/** What a play is told when it may start. */
export interface PlayTurn {
  /** Its place in the playbook (among the plays that have hosts). */
  index: number;
  /** Settles when every earlier play ended (also when one died of an internal error). */
  earlierEnded: Promise<void>;
}

export class PlayOrder {
  private readonly plays: { hosts: ReadonlySet<string>; ended: Promise<void> }[] = [];
  private everyPlayEnded: Promise<void> = Promise.resolve();
  /** The first play that stopped the run; plays after it start nothing more (-1: an internal error, every play). */
  private stoppedAfter = Number.POSITIVE_INFINITY;
  private readonly errors: unknown[] = [];

  /** Adds the next play: `run` is called when it may start (not at all when the run stopped before that). */
  schedule(hosts: readonly string[], startsWithBuild: boolean, run: (turn: PlayTurn) => Promise<void>): void {
    const index = this.plays.length;
    const earlierEnded = this.everyPlayEnded;
    const sharing = this.plays.filter((p) => hosts.some((h) => p.hosts.has(h))).map((p) => p.ended);
    const hostsFree = Promise.all(sharing).then(() => undefined);
    const ended = (startsWithBuild ? hostsFree : earlierEnded)
      .then(() => (this.stops(index) ? undefined : run({ index, earlierEnded })))
      .catch((err: unknown) => {
        // An internal error: what is running finishes its phase (its records are reported, its connections stay
        // open until then), nothing new starts, and runPlays rethrows it once every play settled.
        this.errors.push(err);
        this.stop(-1);
      });
    this.plays.push({ hosts: new Set(hosts), ended });
    this.everyPlayEnded = Promise.all([earlierEnded, ended]).then(() => undefined);
  }

  /**
   * Play `index` was ended by max_fail_percentage: like Ansible, the plays after it do not start (one whose build
   * already ran beside it starts no later phase). Earlier plays go on: run one after the other, they would have
   * ended before this one started.
   */
  stop(index: number): void {
    this.stoppedAfter = Math.min(this.stoppedAfter, index);
  }

  /** Whether play `index` must start nothing more. */
  stops(index: number): boolean {
    return index > this.stoppedAfter;
  }

  /** Resolves when every play ended; rejects with the first internal error one died of. */
  async finished(): Promise<void> {
    await this.everyPlayEnded;
    if (this.errors.length) throw this.errors[0];
  }
}
