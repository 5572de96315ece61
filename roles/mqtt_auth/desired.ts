import type { HostContext } from '../../src/engine/types.js';
import { desiredAuthFromInventory, type DesiredAuth } from '../../src/dynsec/index.js';
import { systemCredentials } from '../../src/cluster/credentials.js';
import { bridgeAcls } from '../../src/mosquitto/bridge.js';
import { bridgeCredentials, isBridged, type BridgeVars } from '../../src/cluster/bridge.js';

export const EXPORTER_ROLE = 'provision-exporter';
export const VERIFY_ROLE = 'provision-verify';
export const VERIFY_TOPIC = 'provision/verify';
export const BRIDGE_ROLE = 'provision-bridge';

type CredVars = Parameters<typeof systemCredentials>[1];

/** What the inventory declares, plus provision's own accounts (`own`, as `kind:name`): the exporter (reads $SYS only) and the health checker (no ACLs). */
export function desiredAuth(ctx: HostContext, vars: CredVars & BridgeVars & { mqtt_auth_backend: string } & Record<string, unknown>): { desired: DesiredAuth; own: Set<string> } {
  const creds = systemCredentials(ctx, vars);
  const d = desiredAuthFromInventory(vars, [creds.admin.username, 'admin']);
  // Everything added below is provision's own (as `kind:name`): summaries keep it apart from the inventory's users.
  const [inventoryClients, inventoryRoles] = [d.clients.length, d.roles.length];
  d.roles.push({ rolename: EXPORTER_ROLE, textname: 'provision: exporter reads $SYS', acls: [
    { acltype: 'subscribePattern', topic: '$SYS/#', allow: true },
    { acltype: 'publishClientReceive', topic: '$SYS/#', allow: true },
  ] });
  d.roles.push({ rolename: VERIFY_ROLE, textname: 'provision verify: end-to-end probes', acls: [
    { acltype: 'publishClientSend', topic: `${VERIFY_TOPIC}/#`, allow: true },
    { acltype: 'publishClientReceive', topic: `${VERIFY_TOPIC}/#`, allow: true },
    { acltype: 'subscribePattern', topic: `${VERIFY_TOPIC}/#`, allow: true },
  ] });
  d.clients.push(
    { username: creds.verify.username, password: creds.verify.password, textname: 'provision: verify probes', roles: [{ rolename: VERIFY_ROLE }] },
    { username: creds.exporter.username, password: creds.exporter.password, textname: 'provision: Prometheus exporter', roles: [{ rolename: EXPORTER_ROLE }] },
    { username: creds.health.username, password: creds.health.password, textname: 'provision: health checks', roles: [] },
  );
  if (isBridged(vars)) {
    // The other brokers' bridges: exactly the bridged topics, nothing under $SYS or $CONTROL.
    const bridge = bridgeCredentials(ctx, vars);
    d.roles.push({ rolename: BRIDGE_ROLE, textname: 'provision: cluster bridges between brokers', acls: bridgeAcls(vars.cluster_bridge_topics) });
    d.clients.push({ username: bridge.username, password: bridge.password, textname: 'provision: cluster bridge', roles: [{ rolename: BRIDGE_ROLE }] });
  }
  const own = new Set([...d.clients.slice(inventoryClients).map((c) => `client:${c.username}`), ...d.roles.slice(inventoryRoles).map((r) => `role:${r.rolename}`)]);
  return { desired: d, own };
}
