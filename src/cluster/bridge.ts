import { z } from 'zod';
import type { HostContext } from '../engine/types.js';
import { generatedSecret } from '../generated-secrets.js';
import { zPort, zSecret } from '../inventory/schema.js';
import type { Secret } from '../secrets.js';
import { checkBridgeTopics } from '../mosquitto/bridge.js';

/**
 * Variables of the bridged cluster (docs/ha.md#bridged-active-active), read by mosquitto_config (the bridge),
 * mqtt_auth (its account) and firewall (its port); part of the catalogue (./variables.ts). Whether a cluster is
 * bridged also depends on `cluster_mode` and `cluster_backend` (./cedalo.ts).
 */
export const bridgeVars = {
  /** Unset: `bridged` for active-active on the open-source backend with dynamic security, `isolated` otherwise. */
  cluster_routing: z.enum(['bridged', 'isolated']).optional(),
  /** MQTT topic filters every broker shares with the others (QoS 1, both directions). Never a `$` topic. */
  cluster_bridge_topics: z
    .array(z.string())
    .min(1, 'expected at least 1 topic filter')
    .superRefine((topics, ctx) => {
      const problem = checkBridgeTopics(topics);
      if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [problem.index], message: `expected ${problem.message}` });
    })
    .default(['#']),
  /**
   * true: `round_robin false`, a bridge returns to its first broker when that answers again. false: `round_robin
   * true`, it stays where it is (no probing: avoids mosquitto's probe flaw while the first broker is powered off).
   */
  cluster_bridge_failback: z.boolean().default(true),
  /** TLS listener for the other brokers' bridges, on the broker's primary address (the firewall admits brokers only). */
  mqtt_bridge_port: zPort.default(8884),
  mqtt_bridge_user: z.string().min(1).default('provision-bridge'),
  /** In mosquitto.conf as `remote_password` (one word): no whitespace. */
  mqtt_bridge_password: zSecret.refine((s) => /^\S+$/.test(s.reveal()), 'expected a password without spaces (mosquitto.conf takes one word)').optional(),
};

export type BridgeVars = z.output<z.ZodObject<typeof bridgeVars>> & { cluster_mode: 'active-active' | 'active-passive'; cluster_backend: 'open-source' | 'cedalo' };

/** Whether this cluster routes messages between brokers over bridges. */
export function isBridged(v: Pick<BridgeVars, 'cluster_mode' | 'cluster_backend' | 'cluster_routing'> & { mqtt_auth_backend: string }): boolean {
  const byDefault = v.cluster_mode === 'active-active' && v.cluster_backend === 'open-source' && v.mqtt_auth_backend === 'dynsec';
  return (v.cluster_routing ?? (byDefault ? 'bridged' : 'isolated')) === 'bridged';
}

/** Why an explicit `cluster_routing: bridged` cannot work here, if it cannot. */
export function bridgedConflict(v: Pick<BridgeVars, 'cluster_backend' | 'cluster_routing'> & { mqtt_auth_backend: string }): string | undefined {
  if (v.cluster_routing !== 'bridged') return undefined;
  if (v.cluster_backend === 'cedalo') return "cluster_routing: bridged works with cluster_backend: open-source only (Cedalo's plugin closes listeners on followers)";
  if (v.mqtt_auth_backend !== 'dynsec') return 'cluster_routing: bridged needs mqtt_auth_backend: dynsec (the bridge account lives in dynamic security)';
  return undefined;
}

/** The bridge account every broker logs in to its parent with: given, or generated once like the other system accounts. */
export function bridgeCredentials(ctx: HostContext, v: Pick<BridgeVars, 'mqtt_bridge_user' | 'mqtt_bridge_password'>): { username: string; password: Secret } {
  return { username: v.mqtt_bridge_user, password: v.mqtt_bridge_password ?? generatedSecret(ctx.play.inventory.baseDir, 'mqtt_bridge_password', ctx.check) };
}
