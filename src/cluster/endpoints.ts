import { isIP } from 'node:net';
import { z } from 'zod';
import type { HostContext } from '../engine/types.js';
import { StepError } from '../errors.js';
import { brokerVars, VARIABLES } from './variables.js';

/** The variables of another host that decide where its metrics are served (same definitions as the roles that serve them). */
const endpointVars = z.object({
  exporter_port: brokerVars.exporter_port,
  exporter_bind_address: VARIABLES.exporter_bind_address,
  haproxy_metrics_port: brokerVars.haproxy_metrics_port,
});
export type EndpointVars = z.output<typeof endpointVars>;

/** Another host's endpoint variables, read from the inventory (its own role run may not be part of this play). */
export function endpointVarsOf(ctx: HostContext, host: string): EndpointVars {
  const raw = ctx.play.inventory.hosts.get(host)?.vars ?? {};
  const input: Record<string, unknown> = {};
  for (const k of Object.keys(endpointVars.shape)) if (Object.prototype.hasOwnProperty.call(raw, k)) input[k] = raw[k];
  const r = endpointVars.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new StepError(`host ${host}: ${issue.path.join('.') || 'variables'}: ${issue.message} (needed for its Prometheus scrape target)`);
  }
  return r.data;
}

/** `host:port`, with IPv6 addresses in brackets as Prometheus expects. */
export function hostPort(address: string, port: number): string {
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

const WILDCARDS = new Set(['', '0.0.0.0', '::', '[::]', '*']);

/** The address and port the exporter answers on, as reachable from outside (a wildcard bind → the host's address). */
export function exporterEndpoint(address: string, v: Pick<EndpointVars, 'exporter_port' | 'exporter_bind_address'>): { address: string; port: number } {
  const bind = v.exporter_bind_address;
  if (!bind) return { address, port: v.exporter_port };
  const m = /^(?:\[([^\]]*)\]|(.*)):(\d+)$/.exec(bind);
  if (!m) return { address: WILDCARDS.has(bind) ? address : bind, port: v.exporter_port };
  const bindHost = m[1] ?? m[2] ?? '';
  return { address: WILDCARDS.has(bindHost) ? address : bindHost, port: Number(m[3]) };
}
