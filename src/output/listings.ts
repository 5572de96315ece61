import type { Phase } from '../engine/phase.js';
import type { Playbook } from '../engine/playbook.js';
import { knownVarNames, phaseUnits, playSchema, selectPlayHosts } from '../engine/runner.js';
import { ASSUMED_FACTS, offlinePlayContext, offlineRoleContext } from '../engine/offline-context.js';
import type { Inventory } from '../inventory/types.js';
import { validateHostVars } from '../inventory/validate.js';

function limitSet(inventory: Inventory, limit?: string): Set<string> | undefined {
  return limit ? new Set(inventory.selectHosts(limit)) : undefined;
}

export function listHosts(inventory: Inventory, playbook: Playbook, limit?: string): string {
  const lim = limitSet(inventory, limit);
  return playbook.plays
    .map((p) => {
      const hosts = selectPlayHosts(inventory, p, lim);
      return `play #${playbook.plays.indexOf(p) + 1} (${p.hosts}): ${p.name}\n  hosts (${hosts.length}):\n${hosts.map((h) => `    ${h}`).join('\n')}`;
    })
    .join('\n\n');
}

/** Listing connects to nothing: any attempt to use the connection is a bug. */
const refusal = (): string => '--list-tasks contacts no host';

/** What a listing is narrowed by: the --limit, the phases asked for, and (for steps) --tags/--skip-tags. */
export interface ListingFilter {
  limit?: string;
  phases: Phase[];
  tags: string[];
  skipTags: string[];
}

export async function listTasks(inventory: Inventory, playbook: Playbook, o: ListingFilter): Promise<string> {
  const lim = limitSet(inventory, o.limit);
  const known = knownVarNames(playbook);
  const lines: string[] = [];
  for (const play of playbook.plays) {
    const hosts = selectPlayHosts(inventory, play, lim);
    lines.push(`play #${playbook.plays.indexOf(play) + 1} (${play.hosts}): ${play.name}`);
    const first = hosts[0];
    if (!first) {
      lines.push('  (no hosts)');
      continue;
    }
    const host = inventory.hosts.get(first)!;
    const vars = validateHostVars(host, playSchema(play), { inventoryFile: inventory.files[0]!, knownNames: known });
    const playCtx = offlinePlayContext({ name: play.name, hosts, inventory, listOnly: true, check: true, diff: false, tags: o.tags, skipTags: o.skipTags, projectDir: '' });
    for (const phase of o.phases) {
      // Facts assumed as for a Debian 12 host (nothing is contacted); ctx.run answers '' as it always has here.
      const ctx = { ...offlineRoleContext({ host: first, facts: ASSUMED_FACTS, vars, play: playCtx, phase, refusal }), run: async () => '' };
      const units = await phaseUnits(play, phase, ctx, o);
      const phaseLines = units.map((u) => `    ${u.role} : ${u.step.name}\tTAGS: [${(u.tags ?? []).join(', ')}]`);
      if (phaseLines.length) lines.push(`  phase ${phase}:`, ...phaseLines);
    }
    lines.push(`  (steps as planned for ${first}, assuming a Debian 12 host; --check shows the exact plan)`);
  }
  return lines.join('\n');
}
