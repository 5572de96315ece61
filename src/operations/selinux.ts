import type { Step } from '../engine/types.js';
import { selinuxPortsFact } from '../facts/selinux.js';
import { shq } from '../transport/shell-quote.js';

/**
 * The SELinux type of a port (`semanage port -a`, or `-m` when the port already has a record of another
 * type). Skipped on hosts without SELinux or with it disabled. Needs policycoreutils-python-utils.
 */
export function selinuxPort(o: { port: number; proto?: 'tcp' | 'udp'; type: string; tags?: string[] }): Step {
  const proto = o.proto ?? 'tcp';
  if (!/^[a-z0-9_]+_t$/.test(o.type)) throw new Error(`invalid SELinux type ${JSON.stringify(o.type)}`);
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw new Error(`invalid port ${o.port}`);
  return {
    name: `SELinux port ${o.port}/${proto} as ${o.type}`,
    factsOnly: true,
    tags: o.tags,
    facts: [selinuxPortsFact],
    plan(ctx, facts) {
      const f = facts.get(selinuxPortsFact);
      if (ctx.facts.selinux === 'absent' || ctx.facts.selinux === 'disabled' || f.mode === 'absent' || f.mode === 'disabled')
        return { skip: 'SELinux is not enabled on this host' };
      const mine = f.records.filter((r) => r.proto === proto && r.from <= o.port && o.port <= r.to);
      const exact = mine.find((r) => r.from === o.port && r.to === o.port);
      if (exact?.type === o.type || (!exact && mine.some((r) => r.type === o.type))) return { changes: [] };
      // Without semanage we cannot see the records: -a is the likely case and fails loudly if wrong.
      const flag = exact ? '-m' : '-a';
      const why = exact ? ` (was ${exact.type})` : f.semanage ? '' : ' (semanage missing when facts were gathered)';
      return {
        changes: [{ summary: `label port ${o.port}/${proto} ${o.type}${why}`, actions: [{ script: `semanage port ${flag} -t ${shq(o.type)} -p ${proto} ${o.port}`, timeoutMs: 120_000 }] }],
      };
    },
  };
}
