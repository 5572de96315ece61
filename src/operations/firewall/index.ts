import type { HostContext, Step } from '../../engine/types.js';
import { firewalldFact, nftablesFact, ufwFact } from '../../facts/firewall.js';
import { planFirewalld } from './firewalld.js';
import { planNftables } from './nftables.js';
import { effectiveRules, normaliseSource } from './rules.js';
import { planUfw } from './ufw.js';

export type { AllowRule, FirewallBackend, Rule } from './rules.js';
import type { AllowRule, FirewallBackend } from './rules.js';


export interface FirewallOptions {
  backend: FirewallBackend;
  allow: AllowRule[];
  /** Always allowed from anywhere, as is the SSH port this run connects to (never lock ourselves out). */
  sshPort?: number;
  defaultInbound?: 'drop';
  /** firewalld: the zone we own (default `public`); it becomes the default zone. */
  zone?: string;
  /** firewalld: services left in the zone if present (default dhcpv6-client, for hosts that get IPv6 by DHCPv6). */
  keepServices?: string[];
  name?: string;
  tags?: string[];
}

/**
 * Inbound firewall: established/related, loopback and ICMP(v6) accepted, the listed ports allowed, everything
 * else dropped — persistent across reboots. The SSH port is always in the plan, whatever `allow` says.
 */
export function firewall(o: FirewallOptions): Step {
  if (o.defaultInbound !== undefined && o.defaultInbound !== 'drop') throw new Error(`firewall: unsupported defaultInbound ${String(o.defaultInbound)}`);
  for (const r of o.allow) checkRule(r);
  const zone = o.zone ?? 'public';
  if (!/^[A-Za-z0-9_-]+$/.test(zone)) throw new Error(`firewall: invalid zone ${JSON.stringify(zone)}`);
  const fact = o.backend === 'nftables' ? nftablesFact : o.backend === 'ufw' ? ufwFact : firewalldFact(zone);
  return {
    name: o.name ?? `firewall (${o.backend})`,
    factsOnly: true,
    tags: o.tags,
    facts: [fact],
    plan(ctx, facts) {
      const rules = effectiveRules(ctx, o);
      if (o.backend === 'nftables') return { changes: planNftables(ctx, facts.get(nftablesFact), rules) };
      if (o.backend === 'ufw') return { changes: planUfw(ctx, facts.get(ufwFact), rules) };
      return { changes: planFirewalld(ctx, facts.get(firewalldFact(zone)), rules, { zone, keepServices: o.keepServices ?? ['dhcpv6-client'] }) };
    },
  };
}

function checkRule(r: AllowRule): void {
  if (r.proto === 'vrrp') return;
  if (!Number.isInteger(r.port) || r.port < 1 || r.port > 65535) throw new Error(`firewall: invalid port ${r.port}`);
  if (r.proto !== undefined && r.proto !== 'tcp' && r.proto !== 'udp') throw new Error(`firewall: invalid protocol ${String(r.proto)}`);
  for (const s of r.sources ?? []) normaliseSource(s);
}

