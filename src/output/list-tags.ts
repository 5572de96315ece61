import { ASSUMED_FACTS, offlinePlayContext, offlineRoleContext } from '../engine/offline-context.js';
import type { Playbook } from '../engine/playbook.js';
import { knownVarNames, phaseUnits, playSchema, selectPlayHosts } from '../engine/runner.js';
import type { Inventory } from '../inventory/types.js';
import { validateHostVars } from '../inventory/validate.js';
import type { ListingFilter } from './listings.js';

/** ansible-playbook --list-tags: per play, every tag a step of the requested phases carries (sorted), contacting no host. */
export async function listTags(inventory: Inventory, playbook: Playbook, o: Pick<ListingFilter, 'limit' | 'phases'>): Promise<string> {
  const lim = o.limit ? new Set(inventory.selectHosts(o.limit)) : undefined;
  const known = knownVarNames(playbook);
  const lines: string[] = [];
  for (const [i, play] of playbook.plays.entries()) {
    const hosts = selectPlayHosts(inventory, play, lim);
    const tags = new Set<string>();
    const first = hosts[0];
    if (first) {
      const vars = validateHostVars(inventory.hosts.get(first)!, playSchema(play), { inventoryFile: inventory.files[0]!, knownNames: known });
      const playCtx = offlinePlayContext({ name: play.name, hosts, inventory, listOnly: true, check: true, diff: false, tags: [], skipTags: [], projectDir: '' });
      for (const phase of o.phases) {
        const ctx = { ...offlineRoleContext({ host: first, facts: ASSUMED_FACTS, vars, play: playCtx, phase, refusal: () => '--list-tags contacts no host' }), run: async () => '' };
        for (const u of await phaseUnits(play, phase, ctx, { tags: [], skipTags: [] })) for (const t of u.tags ?? []) tags.add(t);
      }
    }
    lines.push(`play #${i + 1} (${play.hosts}): ${play.name}\tTAGS: [${[...tags].sort().join(', ')}]`);
  }
  return lines.join('\n');
}
