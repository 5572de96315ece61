import { isIP } from 'node:net';
import { isAbsent } from '../engine/absent.js';
import type { HostContext } from '../engine/types.js';

/** Brokers the load balancers send traffic to: the `brokers` group minus hosts marked `state: absent`. */
export function activeBrokers(ctx: HostContext): { name: string; address: string }[] {
  const inv = ctx.play.inventory;
  return (inv.groups.get('brokers')?.hosts ?? [])
    .filter((h) => !isAbsent(inv.hosts.get(h)!))
    .map((h) => ({ name: h, address: addressOf(ctx, h) }));
}

/** The hosts of the `loadbalancers` group (separate hosts, or the brokers themselves). */
export function loadBalancerHosts(ctx: HostContext): string[] {
  return ctx.play.inventory.groups.get('loadbalancers')?.hosts ?? [];
}

export function isLoadBalancer(ctx: HostContext, host = ctx.name): boolean {
  return loadBalancerHosts(ctx).includes(host);
}

export function addressOf(ctx: HostContext, host: string): string {
  const vars = ctx.play.inventory.hosts.get(host)?.vars ?? {};
  return ctx.play.facts(host)?.primaryAddress ?? (typeof vars.ansible_host === 'string' ? vars.ansible_host : host);
}

/** Single-address CIDRs of each host whose address is known as an IP (firewall sources). */
export function hostCidrs(ctx: HostContext, hosts: string[]): string[] {
  return hosts.map((h) => addressOf(ctx, h)).flatMap((a) => (isIP(a) === 4 ? [`${a}/32`] : isIP(a) === 6 ? [`${a}/128`] : []));
}
