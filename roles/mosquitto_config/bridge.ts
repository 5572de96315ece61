import type { RoleContext } from '../../src/engine/types.js';
import { InputError } from '../../src/errors.js';
import { renderBridgeConf, type BrokerRef } from '../../src/mosquitto/bridge.js';
import { bridgeCredentials, bridgedConflict, isBridged, type BridgeVars } from '../../src/cluster/bridge.js';
import { BROKER_PATHS } from '../../src/cluster/broker.js';

/** The bridged cluster's part of mosquitto.conf, or nothing when brokers are isolated. */
export function bridgeConfFor(ctx: RoleContext<BridgeVars & { mqtt_auth_backend: string }>, order: BrokerRef[]): { bridge?: string[] } {
  const v = ctx.vars;
  const conflict = bridgedConflict(v);
  if (conflict) {
    const loc = ctx.host.varSources.cluster_routing?.locate([]);
    throw new InputError(`${conflict} (host ${ctx.name})`, loc?.file, loc?.line, loc?.column, 'cluster_routing');
  }
  if (!isBridged(v)) return {};
  const login = bridgeCredentials(ctx, v);
  return {
    bridge: renderBridgeConf({
      self: ctx.name,
      order,
      address: ctx.facts.primaryAddress,
      port: v.mqtt_bridge_port,
      certDir: BROKER_PATHS.certDir,
      username: login.username,
      password: login.password.reveal(),
      topics: v.cluster_bridge_topics,
      failback: v.cluster_bridge_failback,
    }),
  };
}
