import { mosquittoTlsLines } from '../../src/tls/policy.js';

export interface MosquittoConfInput {
  pluginPath?: string;
  passwordFile?: string;
  aclFile?: string;
  dynsecFile: string;
  dataDir: string;
  certDir: string;
  localPort: number;
  tlsPort: number;
  /** Co-located with HAProxy, which owns the public 8883: the broker's TLS listener stays on loopback. */
  tlsBind?: string;
  lb?: { address: string; port: number };
  maxKeepalive: number;
  maxPacketSize: number;
  setTcpNodelay: boolean;
  sysInterval: number;
  persistence: boolean;
  autosaveInterval: number;
  maxQueuedMessages: number;
  extra: string[];
  /** Cedalo HA (cluster_backend: cedalo). `pluginPath: null` = simulator mode: stock Mosquitto, no Cedalo-only options. */
  cedalo?: { pluginPath: string | null; adminPort: number };
}

/** Cedalo HA: global lines (plugin, control API). Stock Mosquitto 2.0 rejects all three Cedalo options. */
function cedaloGlobal(c: MosquittoConfInput['cedalo']): string[] {
  if (!c) return [];
  if (c.pluginPath === null)
    return ['', '# Cedalo HA SIMULATOR MODE (cedalo_ha_plugin_path: null): no HA plugin; global_plugin and', '# enable_control_api are Cedalo-only options that stock Mosquitto refuses.'];
  return ['', '# Cedalo HA plugin and its control API ($CONTROL/cedalo/ha/v1).', `global_plugin ${c.pluginPath}`, 'enable_control_api true'];
}

/** Cedalo HA: the admin listener, open on every node (the plugin closes the client listeners on followers). */
function cedaloAdminListener(c: MosquittoConfInput['cedalo']): string[] {
  if (!c) return [];
  if (c.pluginPath === null)
    return ['', '# Cedalo HA SIMULATOR MODE: a plain loopback listener stands in for the admin listener (admin_listener is Cedalo-only).', `listener ${c.adminPort} 127.0.0.1`];
  return ['', '# Cedalo HA admin listener (control API, open on followers too; the firewall keeps it closed from outside).', `listener ${c.adminPort}`, 'admin_listener true'];
}

/** /etc/mosquitto/mosquitto.conf, whole: what runs is what this renders, nothing inherited. */
export function renderMosquittoConf(i: MosquittoConfInput): string {
  const auth = i.pluginPath
    ? [`plugin ${i.pluginPath}`, `plugin_opt_config_file ${i.dynsecFile}`]
    : [`password_file ${i.passwordFile}`, `acl_file ${i.aclFile}`];
  const lines = [
    '# Managed by provision: local changes are overwritten on the next run.',
    'per_listener_settings false',
    'allow_anonymous false',
    ...auth,
    ...cedaloGlobal(i.cedalo),
    '',
    `persistence ${i.persistence}`,
    `persistence_location ${i.dataDir}/`,
    `autosave_interval ${i.autosaveInterval}`,
    `sys_interval ${i.sysInterval}`,
    `max_keepalive ${i.maxKeepalive}`,
    `max_packet_size ${i.maxPacketSize}`,
    `max_queued_messages ${i.maxQueuedMessages}`,
    `set_tcp_nodelay ${i.setTcpNodelay}`,
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'connection_messages true',
    '',
    '# Local plain listener: the exporter and provision itself (through SSH) connect here.',
    `listener ${i.localPort} 127.0.0.1`,
    '',
    '# Clients: TLS only.',
    `listener ${i.tlsPort}${i.tlsBind ? ` ${i.tlsBind}` : ''}`,
    `cafile ${i.certDir}/ca.crt`,
    `certfile ${i.certDir}/server.crt`,
    `keyfile ${i.certDir}/server.key`,
    // The one TLS policy (src/tls/policy.ts), the same as HAProxy's: TLS 1.2+, AEAD ciphers only.
    ...mosquittoTlsLines(),
  ];
  if (i.lb) lines.push('', '# Load balancers only (TLS ends at HAProxy; the firewall admits the load balancers alone).', `listener ${i.lb.port} ${i.lb.address}`);
  lines.push(...cedaloAdminListener(i.cedalo));
  if (i.extra.length) lines.push('', '# mosquitto_extra_config', ...i.extra);
  return `${lines.join('\n')}\n`;
}
