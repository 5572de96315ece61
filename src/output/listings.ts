import type { RunCliOptions } from '../cli/options.js';
import type { HostFacts } from '../facts/host-facts.js';
import type { Playbook } from '../engine/playbook.js';
import { knownVarNames, playSchema, selectPlayHosts } from '../engine/runner.js';
import type { PlayContext, RoleContext } from '../engine/types.js';
import type { Inventory } from '../inventory/types.js';
import type { Transport } from '../transport/types.js';
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

/** Facts assumed when listing steps without connecting (like ansible-playbook --list-tasks, nothing is contacted). */
const ASSUMED_FACTS: HostFacts = {
  hostname: 'host',
  fqdn: 'host',
  os: { id: 'debian', version: '12', major: 12, family: 'debian', pretty: 'Debian GNU/Linux 12 (bookworm)' },
  arch: 'x86_64',
  multiarch: 'x86_64-linux-gnu',
  init: 'systemd',
  packageManager: 'apt',
  firewall: { firewalld: false, firewalldRunning: false, ufw: false, nft: true },
  selinux: 'absent',
  addresses: ['192.0.2.10'],
  primaryAddress: '192.0.2.10',
  user: 'root',
};

const refuse = (): never => {
  throw new Error('--list-tasks contacts no host');
};
/** Listing connects to nothing: any attempt to use the connection is a bug. */
const LISTING_TRANSPORT: Transport = { host: 'listing', sshPort: 22, roundTrips: 0, exec: refuse, script: refuse, forward: refuse, close: async () => {} };

export async function listTasks(inventory: Inventory, playbook: Playbook, o: RunCliOptions): Promise<string> {
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
    const playCtx: PlayContext = { name: play.name, hosts, inventory, facts: () => undefined, transport: () => undefined, isFailed: () => false, shared: new Map(), listOnly: true, options: { check: true, diff: false, forks: 1, tags: o.tags, skipTags: o.skipTags, verbose: false }, projectDir: '' };
    for (const phase of o.phases) {
      const ctx: RoleContext<Record<string, unknown>> = {
        name: first,
        host,
        facts: ASSUMED_FACTS,
        transport: LISTING_TRANSPORT,
        phase,
        play: playCtx,
        check: true,
        diff: false,
        vars,
        progress: () => {},
        run: async () => '',
      };
      const phaseLines: string[] = [];
      for (const { role, tags } of play.roles) {
        const build = role.phases[phase];
        if (!build) continue;
        for (const step of await build(ctx as never)) {
          const all = [...new Set([...(step.tags ?? []), ...tags, role.name, phase])];
          if (o.tags.length && !o.tags.some((t) => all.includes(t))) continue;
          if (o.skipTags.some((t) => all.includes(t))) continue;
          phaseLines.push(`    ${role.name} : ${step.name}\tTAGS: [${all.join(', ')}]`);
        }
      }
      if (phaseLines.length) lines.push(`  phase ${phase}:`, ...phaseLines);
    }
    lines.push(`  (steps as planned for ${first}, assuming a Debian 12 host; --check shows the exact plan)`);
  }
  return lines.join('\n');
}
