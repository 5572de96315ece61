/** Which hosts each play runs on, and the run's targets: decided from the inventory alone, before any host is touched. */
import { InputError, OptionsError } from '../errors.js';
import type { Inventory } from '../inventory/types.js';
import type { Play, Playbook } from './playbook.js';

export function selectPlayHosts(inventory: Inventory, play: Play, limit: Set<string> | undefined): string[] {
  let hosts: string[];
  try {
    hosts = inventory.selectHosts(play.hosts);
  } catch (err) {
    if (err instanceof InputError) return []; // like Ansible: a play whose pattern matches nothing is skipped
    throw err;
  }
  return limit ? hosts.filter((h) => limit.has(h)) : hosts;
}

export interface RunHosts {
  /** Per play, its hosts after --limit, in inventory order (empty: the play is skipped). */
  playHosts: Map<Play, string[]>;
  /** Every host some play runs on, in inventory order. */
  targets: string[];
}

/** The hosts of a run; an error (exit 4) when --limit is no pattern or nothing is left to run on. */
export function selectRunHosts(inventory: Inventory, playbook: Playbook, limitPattern: string | undefined): RunHosts {
  let limit: Set<string> | undefined;
  if (limitPattern) {
    try {
      limit = new Set(inventory.selectHosts(limitPattern));
    } catch (err) {
      throw new OptionsError(`--limit ${limitPattern}: ${(err as Error).message}`);
    }
  }
  const playHosts = new Map(playbook.plays.map((p) => [p, selectPlayHosts(inventory, p, limit)]));
  const targets = inventory.hostOrder.filter((h) => [...playHosts.values()].some((hs) => hs.includes(h)));
  if (targets.length === 0) throw new OptionsError('no hosts to run on: the inventory, the plays and --limit leave nothing');
  return { playHosts, targets };
}
