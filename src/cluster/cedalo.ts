/**
 * Cedalo HA: paths on the broker, the sync mode for a cluster_mode, the control-API ACLs. Its variables are in
 * ./variables.ts. `cedalo_ha_plugin_path: null` is SIMULATOR MODE: stock Mosquitto without Cedalo's plugin
 * (tests) — the Cedalo-only options (`global_plugin`, `enable_control_api`, `admin_listener`) are left out of
 * mosquitto.conf and the admin port is a plain loopback listener where a simulator of the HA control API answers.
 */
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
