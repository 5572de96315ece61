import type { HostContext } from '../../src/engine/types.js';
import { desiredAuthFromInventory, type DesiredAuth } from '../../src/dynsec/index.js';
import { systemCredentials } from '../../src/cluster/credentials.js';

export const EXPORTER_ROLE = 'provision-exporter';
export const VERIFY_ROLE = 'provision-verify';
export const VERIFY_TOPIC = 'provision/verify';

type CredVars = Parameters<typeof systemCredentials>[1];

/** What the inventory declares, plus provision's own accounts: the exporter (reads $SYS only) and the health checker (no ACLs). */
export function desiredAuth(ctx: HostContext, vars: CredVars & Record<string, unknown>): DesiredAuth {
  const creds = systemCredentials(ctx, vars);
  const d = desiredAuthFromInventory(vars, [creds.admin.username, 'admin']);
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
  return d;
}
