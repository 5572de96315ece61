import { z } from 'zod';
import { zPort } from '../inventory/schema.js';

export const DEFAULT_CEDALO_HA_PLUGIN = '/usr/lib/cedalo_mosquitto_ha.so';

/**
 * Variables the broker configuration (roles/mosquitto_config) reads too: one definition so both roles
 * agree. `cedalo_ha_plugin_path: null` is SIMULATOR MODE: stock Mosquitto without Cedalo's plugin
 * (tests) — the Cedalo-only options (`global_plugin`, `enable_control_api`, `admin_listener`) are left
 * out of mosquitto.conf and the admin port is a plain loopback listener where a simulator of the HA
 * control API answers.
 */
export const cedaloBrokerVars = {
  /** `cedalo`: Cedalo's HA plugin forms the cluster (Raft, port 7000); `open-source`: this role does nothing. */
  cluster_backend: z.enum(['open-source', 'cedalo']).default('open-source'),
  cedalo_ha_plugin_path: z.string().min(1).startsWith('/', 'expected an absolute path on the broker').nullable().default(DEFAULT_CEDALO_HA_PLUGIN),
  /** The admin listener (`admin_listener true`), open on every node, also on followers. */
  cedalo_admin_port: zPort.default(1885),
};

/** `$CONTROL`, or another prefix for a simulator (stock Mosquitto drops client publishes to `$CONTROL/…`). */
const zControlPrefix = z
  .string()
  .min(1)
  .refine((s) => !/[#+]/.test(s) && !s.endsWith('/') && !s.startsWith('/'), { message: 'expected a topic prefix without wildcards or leading/trailing "/" (e.g. $CONTROL)' });

export const cedaloVars = {
  ...cedaloBrokerVars,
  /** Licence file on the CONTROLLER (relative: to the inventory's folder); uploaded to the brokers. */
  cedalo_license_file: z.string().min(1).optional(),
  /** The cluster (Raft) port: unencrypted, keep it on a private network (the firewall admits other brokers only). */
  cedalo_ha_port: zPort.default(7000),
  /** This node's id (1–1023); default: the id the cluster already knows it by, else derived from the host name. */
  cedalo_node_id: z.number().int().min(1).max(1023).optional(),
  cedalo_control_prefix: zControlPrefix.default('$CONTROL'),
  cluster_name: z.string().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/, 'expected letters, digits, ".", "_" or "-"').default('mosquitto'),
  /** active-passive → Cedalo syncmode "full" (whole broker state); active-active → "dynsec" (users/roles only). */
  cluster_mode: z.enum(['active-active', 'active-passive']).default('active-passive'),
  /** `absent`: remove this broker from the Cedalo HA cluster (never below 3 nodes). */
  state: z.enum(['present', 'absent']).default('present'),
};

export const CEDALO_PATHS = {
  license: '/etc/mosquitto/cedalo-license.lic',
  dataDir: '/var/lib/mosquitto/ha',
  dropInDir: '/etc/systemd/system/mosquitto.service.d',
  dropIn: '/etc/systemd/system/mosquitto.service.d/cedalo.conf',
};

export function syncModeFor(mode: 'active-active' | 'active-passive'): 'full' | 'dynsec' {
  return mode === 'active-passive' ? 'full' : 'dynsec';
}

/** The ACL entries the admin role needs on `<prefix>/cedalo/ha/#` to use the HA control API. */
export function haControlAcls(prefix: string): { acltype: string; topic: string; allow: true }[] {
  const topic = `${prefix}/cedalo/ha/#`;
  return [
    { acltype: 'publishClientSend', topic, allow: true },
    { acltype: 'publishClientReceive', topic, allow: true },
    { acltype: 'subscribePattern', topic, allow: true },
  ];
}
