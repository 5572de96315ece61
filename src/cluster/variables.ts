/**
 * The variable catalogue: every inventory variable a role reads, declared once with its type, its default and a
 * doc line (zod `.describe`). Roles pick their variables from here by name (`pick`), `provision verify` reads the
 * same defaults, and a unit test checks docs/variables.md against it — so two roles can never disagree on a
 * variable's type or default.
 */
import { z } from 'zod';
import { mqttDefaultAclAccessSchema, mqttGroupsSchema, mqttRolesSchema, mqttUsersSchema } from '../dynsec/schema.js';
import { zCidr, zPort, zSecret } from '../inventory/schema.js';

export const DEFAULT_CEDALO_HA_PLUGIN = '/usr/lib/cedalo_mosquitto_ha.so';

/** `$CONTROL`, or another prefix for a simulator (stock Mosquitto drops client publishes to `$CONTROL/…`). */
const zControlPrefix = z
  .string()
  .min(1)
  .refine((s) => !/[#+]/.test(s) && !s.endsWith('/') && !s.startsWith('/'), { message: 'expected a topic prefix without wildcards or leading/trailing "/" (e.g. $CONTROL)' });

const zClusterMode = z.enum(['active-active', 'active-passive']);

export const VARIABLES = {
  // Per-host state
  state: z.enum(['present', 'absent']).default('present').describe('absent: drained from the load balancers, then stopped (and removed from a Cedalo HA cluster, never below 3 nodes)'),

  // Base system (role base)
  base_packages: z.array(z.string()).default([]).describe('packages installed in addition to the base tools'),
  base_upgrade: z.boolean().default(false).describe('full system upgrade, only when something is upgradable'),
  package_cache_valid_seconds: z.number().int().positive().default(3600).describe('package lists are refreshed only when older than this'),

  // Mosquitto package (role mosquitto)
  mosquitto_version: z.string().min(1).optional().describe('exact mosquitto package version; unset: any'),

  // Broker listeners and system accounts (several roles)
  mqtt_tls_port: zPort.default(8883).describe('TLS listener for clients (on HAProxy too)'),
  mqtt_local_port: zPort.default(1883).describe('plain listener on 127.0.0.1 for the exporter and provision'),
  /** Plain listener on the broker's private address for load-balancer traffic (TLS ends at HAProxy). */
  mqtt_lb_port: zPort.default(1884).describe("plain listener on the broker's primary address for HAProxy"),
  mqtt_auth_backend: z.enum(['dynsec', 'password_file']).default('dynsec').describe('dynamic-security plugin, or a password file with ACL file'),
  mqtt_admin_user: z.string().min(1).default('provision-admin').describe("dynamic-security admin: provision's own API client"),
  mqtt_admin_password: zSecret.optional().describe('unset: generated once into secrets/'),
  mqtt_health_user: z.string().min(1).default('provision-health').describe("login of HAProxy's health check"),
  mqtt_health_password: zSecret.optional().describe('unset: generated once into secrets/'),
  exporter_user: z.string().min(1).default('provision-exporter').describe('MQTT login of the exporter'),
  exporter_password: zSecret.optional().describe('unset: generated once into secrets/'),
  exporter_port: zPort.default(9234).describe('exporter metrics port'),
  haproxy_metrics_port: zPort.default(8404).describe('HAProxy /metrics and /stats'),
  haproxy_peers_port: zPort.default(10000).describe('stick-table replication between load balancers'),
  verify_user: z.string().min(1).default('provision-verify').describe('MQTT login of provision verify'),
  verify_password: zSecret.optional().describe('unset: generated once into secrets/'),

  // Broker configuration (role mosquitto_config)
  max_keepalive: z.number().int().min(5).max(65535).default(60).describe("largest MQTT keep-alive; HAProxy's idle timeouts follow it"),
  max_packet_size: z.number().int().min(1024).max(268435455).default(1048576).describe('bytes'),
  max_queued_messages: z.number().int().min(0).default(1000).describe('per client, QoS 1/2'),
  set_tcp_nodelay: z.boolean().default(true).describe('TCP_NODELAY on client sockets'),
  sys_interval: z.number().int().min(1).max(3600).default(10).describe('seconds between $SYS updates'),
  persistence: z.boolean().default(true).describe('store in /var/lib/mosquitto/'),
  autosave_interval: z.number().int().min(1).default(60).describe('seconds'),
  mosquitto_extra_config: z.array(z.string()).default([]).describe('lines appended to mosquitto.conf as they are'),

  // Users, roles, groups, ACLs (roles mqtt_auth, mosquitto_config)
  mqtt_users: mqttUsersSchema.default([]).describe('MQTT users'),
  mqtt_roles: mqttRolesSchema.default([]).describe('dynamic-security roles and their ACLs'),
  mqtt_groups: mqttGroupsSchema.default([]).describe('dynamic-security groups'),
  mqtt_default_acl_access: mqttDefaultAclAccessSchema.optional().describe("default ACL access; unset: the broker's defaults are kept"),

  // TLS (role pki)
  pki_dir: z.string().min(1).optional().describe('controller folder for the CA and certificates; unset: pki (relative to the inventory directory)'),
  tls_key_type: z.enum(['ec', 'rsa']).default('ec').describe('server keys: ECDSA P-256 or RSA 2048'),
  tls_extra_sans: z.array(z.string().min(1)).default([]).describe("more DNS names / IPs in the host's certificate"),
  tls_renew_before_days: z.number().int().min(1).default(30).describe('re-issue when fewer days remain'),
  tls_ca_cert: z.string().min(1).optional().describe("your own CA certificate instead of provision's"),
  tls_ca_key: z.string().min(1).optional().describe('the key of tls_ca_cert'),
  cluster_vip: z.string().min(1).optional().describe('virtual IP (CIDR) held by keepalived on the load balancers'),

  // Firewall (role firewall)
  firewall_backend: z.enum(['auto', 'nftables', 'ufw', 'firewalld']).default('auto').describe('auto: firewalld on Rocky, nftables on Debian'),
  prometheus_cidr: z.array(zCidr).default([]).describe('sources allowed to the metrics ports; empty: anywhere'),
  firewall_extra_ports: z
    .array(z.object({ port: zPort, proto: z.enum(['tcp', 'udp']).default('tcp'), sources: z.array(zCidr).default([]) }).strict())
    .default([])
    .describe('more inbound ports'),

  // Load balancers (role haproxy)
  cluster_mode: zClusterMode.default('active-passive').describe('active-passive: one broker takes the traffic; active-active: all of them'),
  keepalived_router_id: z.number().int().min(1).max(255).default(51).describe('VRRP virtual_router_id'),
  keepalived_interface: z.string().min(1).default('eth0').describe('interface carrying the VIP and VRRP'),
  keepalived_password: zSecret
    .refine((p) => p.reveal().length <= 8, 'VRRP passwords are at most 8 characters')
    .optional()
    .describe('VRRP PASS authentication'),

  // Exporter (role exporter)
  exporter_source: z.enum(['controller-build', 'binary', 'host-build']).default('controller-build').describe('where the exporter binary comes from'),
  exporter_repo_url: z.string().min(1).default('https://github.com/sapcc/mosquitto-exporter.git').describe('exporter source repository'),
  exporter_ref: z.string().min(1).default('v0.8.0').describe('pinned tag or commit'),
  exporter_version: z.string().min(1).default('0.8.0').describe('embedded version string'),
  exporter_binary: z.string().min(1).optional().describe('controller path of a prebuilt binary (exporter_source: binary)'),
  exporter_build_cache: z.string().min(1).optional().describe('controller build cache; unset: $XDG_CACHE_HOME/provision/exporter'),
  exporter_bind_address: z.string().min(1).optional().describe('address:port the exporter listens on; unset: primary address and exporter_port'),
  exporter_system_user: z.string().min(1).default('exporter').describe('system user running the exporter'),

  // Observability (role observability)
  prometheus_scrape_config_dir: z.string().min(1).optional().describe('where provision.yml is written; unset: prometheus (relative to the inventory directory)'),

  // Cedalo HA (roles cedalo_ha, mosquitto_config, firewall)
  /** `cedalo`: Cedalo's HA plugin forms the cluster (Raft, port 7000); `open-source`: the cedalo_ha role does nothing. */
  cluster_backend: z.enum(['open-source', 'cedalo']).default('open-source').describe("cedalo: Cedalo's HA plugin forms the cluster"),
  /** `null` is SIMULATOR MODE: stock Mosquitto without Cedalo's plugin (tests); see src/cluster/cedalo.ts. */
  cedalo_ha_plugin_path: z
    .string()
    .min(1)
    .startsWith('/', 'expected an absolute path on the broker')
    .nullable()
    .default(DEFAULT_CEDALO_HA_PLUGIN)
    .describe('the HA plugin on the broker; null: simulator mode'),
  /** The admin listener (`admin_listener true`), open on every node, also on followers. */
  cedalo_admin_port: zPort.default(1885).describe('admin listener (control API) on every node'),
  /** Licence file on the CONTROLLER (relative: to the inventory's folder); uploaded to the brokers. */
  cedalo_license_file: z.string().min(1).optional().describe('controller path of the Cedalo licence'),
  /** The cluster (Raft) port: unencrypted, keep it on a private network (the firewall admits other brokers only). */
  cedalo_ha_port: zPort.default(7000).describe('cluster (Raft) port, unencrypted'),
  /** This node's id (1–1023); default: the id the cluster already knows it by, else derived from the host name. */
  cedalo_node_id: z.number().int().min(1).max(1023).optional().describe('node id; unset: the known one, else derived from the host name'),
  cedalo_control_prefix: zControlPrefix.default('$CONTROL').describe('control API topic prefix'),
  cluster_name: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9._-]+$/, 'expected letters, digits, ".", "_" or "-"')
    .default('mosquitto')
    .describe('Cedalo HA cluster name, fixed at creation'),
} satisfies z.ZodRawShape;

export type VariableName = keyof typeof VARIABLES;

/** The parsed values of a group of catalogue entries: `VarsOf<typeof tlsVars>`. */
export type VarsOf<S extends z.ZodRawShape> = z.output<z.ZodObject<S>>;

/** The catalogue entries a role reads, by name: `z.object({ ...pick('a', 'b') })`. */
export function pick<K extends VariableName>(...names: K[]): Pick<typeof VARIABLES, K> {
  return Object.fromEntries(names.map((n) => [n, VARIABLES[n]])) as Pick<typeof VARIABLES, K>;
}

/** The default of a variable with one (what a role sees when the inventory leaves it unset). */
export function defaultOf<K extends VariableName>(name: K): z.output<(typeof VARIABLES)[K]> {
  return VARIABLES[name].parse(undefined) as z.output<(typeof VARIABLES)[K]>;
}

/** Variables several broker roles read (listeners, system accounts, metrics ports). */
export const brokerVars = pick(
  'mqtt_tls_port',
  'mqtt_local_port',
  'mqtt_lb_port',
  'mqtt_auth_backend',
  'mqtt_admin_user',
  'mqtt_admin_password',
  'mqtt_health_user',
  'mqtt_health_password',
  'exporter_user',
  'exporter_password',
  'exporter_port',
  'haproxy_metrics_port',
  'haproxy_peers_port',
  'verify_user',
  'verify_password',
);

/** What a host's certificate depends on (role pki, and every role that serves TLS). */
export const tlsVars = pick('pki_dir', 'tls_key_type', 'tls_extra_sans', 'tls_renew_before_days', 'tls_ca_cert', 'tls_ca_key', 'cluster_vip');

/** The Cedalo variables the broker configuration (role mosquitto_config) reads too. */
export const cedaloBrokerVars = pick('cluster_backend', 'cedalo_ha_plugin_path', 'cedalo_admin_port');

/** Everything role cedalo_ha reads besides brokerVars. */
export const cedaloVars = {
  ...cedaloBrokerVars,
  ...pick('cedalo_license_file', 'cedalo_ha_port', 'cedalo_node_id', 'cedalo_control_prefix', 'cluster_name', 'cluster_mode', 'state'),
};
