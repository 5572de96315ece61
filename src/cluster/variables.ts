/**
 * The variable catalogue: every inventory variable a role reads, declared once — its zod schema (type and
 * default) here or in the group it belongs to (./broker.ts, ./tls-vars.ts, ./cedalo.ts), its doc line in
 * VARIABLE_DOCS. Roles pick their variables from here by name (`pick`), `provision verify` reads the same
 * defaults (`defaultOf`), and unit tests check that every role schema is made of these entries and that
 * docs/variables.md documents exactly them, each with its default.
 */
import { z } from 'zod';
import { mqttDefaultAclAccessSchema, mqttGroupsSchema, mqttRolesSchema, mqttUsersSchema } from '../dynsec/schema.js';
import { zCidr, zOneLine, zPort, zSecret } from '../inventory/schema.js';
import { brokerVars } from './broker.js';
import { cedaloBrokerVars, cedaloVars } from './cedalo.js';
import { tlsVars } from './tls-vars.js';

export { brokerVars, cedaloBrokerVars, cedaloVars, tlsVars };

export const VARIABLES = {
  ...brokerVars,
  ...tlsVars,
  ...cedaloVars,

  // Base system (role base)
  base_packages: z.array(z.string()).default([]),
  base_upgrade: z.boolean().default(false),
  package_cache_valid_seconds: z.number().int().positive().default(3600),

  // Mosquitto package (role mosquitto)
  mosquitto_version: z.string().min(1).optional(),

  // Broker configuration (role mosquitto_config; max_keepalive also haproxy)
  max_keepalive: z.number().int().min(5).max(65535).default(60),
  max_packet_size: z.number().int().min(1024).max(268435455).default(1048576),
  max_queued_messages: z.number().int().min(0).default(1000),
  set_tcp_nodelay: z.boolean().default(true),
  sys_interval: z.number().int().min(1).max(3600).default(10),
  persistence: z.boolean().default(true),
  autosave_interval: z.number().int().min(1).default(60),
  /** One mosquitto.conf line per item: a CR/LF/NUL inside one would smuggle in lines nobody reads as such. */
  mosquitto_extra_config: z.array(z.string().refine((l) => !/[\r\n\u0000]/.test(l), 'expected one line (no CR, LF or NUL)')).default([]),

  // Users, roles, groups, ACLs (roles mqtt_auth, mosquitto_config)
  mqtt_users: mqttUsersSchema.default([]),
  mqtt_roles: mqttRolesSchema.default([]),
  mqtt_groups: mqttGroupsSchema.default([]),
  mqtt_default_acl_access: mqttDefaultAclAccessSchema.optional(),

  // Firewall (role firewall)
  firewall_backend: z.enum(['auto', 'nftables', 'ufw', 'firewalld']).default('auto'),
  prometheus_cidr: z.array(zCidr).default([]),
  firewall_extra_ports: z.array(z.object({ port: zPort, proto: z.enum(['tcp', 'udp']).default('tcp'), sources: z.array(zCidr).default([]) }).strict()).default([]),

  // Load balancers (role haproxy)
  keepalived_router_id: z.number().int().min(1).max(255).default(51),
  keepalived_interface: z.string().min(1).default('eth0'),
  keepalived_password: zSecret.refine((p) => p.reveal().length <= 8, 'VRRP passwords are at most 8 characters').optional(),

  // Exporter (role exporter)
  exporter_source: z.enum(['controller-build', 'binary', 'host-build']).default('controller-build'),
  exporter_repo_url: z.string().min(1).default('https://github.com/sapcc/mosquitto-exporter.git'),
  exporter_ref: z.string().min(1).default('v0.8.0'),
  exporter_version: z.string().min(1).default('0.8.0'),
  exporter_binary: z.string().min(1).optional(),
  exporter_build_cache: z.string().min(1).optional(),
  exporter_bind_address: zOneLine.pipe(z.string().min(1)).optional(),
  exporter_system_user: z.string().min(1).default('exporter'),
  /** host-build: the unprivileged system user the build runs as (owns /var/cache/provision/exporter-build). */
  exporter_build_user: z.string().min(1).default('exporter-build'),

  // Observability (role observability)
  /** Where the scrape config goes: relative to the inventory directory, or absolute. Default `prometheus`. */
  prometheus_scrape_config_dir: z.string().min(1).optional(),
} satisfies z.ZodRawShape;

export type VariableName = keyof typeof VARIABLES;

/** The parsed values of a group of catalogue entries: `VarsOf<typeof tlsVars>`. */
export type VarsOf<S extends z.ZodRawShape> = z.output<z.ZodObject<S>>;

/** One line per variable (the compiler insists on every one); the long form is docs/variables.md. */
export const VARIABLE_DOCS: Record<VariableName, string> = {
  state: 'absent: drained from the load balancers, then stopped (and removed from a Cedalo HA cluster, never below 3 nodes)',
  base_packages: 'packages installed in addition to the base tools',
  base_upgrade: 'full system upgrade, only when something is upgradable',
  package_cache_valid_seconds: 'package lists are refreshed only when older than this',
  mosquitto_version: 'exact mosquitto package version; unset: any',
  mqtt_tls_port: 'TLS listener for clients (on HAProxy too)',
  mqtt_local_port: 'plain listener on 127.0.0.1 for the exporter and provision',
  mqtt_lb_port: "plain listener on the broker's primary address for HAProxy",
  mqtt_auth_backend: 'dynamic-security plugin, or a password file with ACL file',
  mqtt_admin_user: "dynamic-security admin: provision's own API client",
  mqtt_admin_password: 'unset: generated once into secrets/',
  mqtt_health_user: "login of HAProxy's health check",
  mqtt_health_password: 'unset: generated once into secrets/',
  exporter_user: 'MQTT login of the exporter',
  exporter_password: 'unset: generated once into secrets/',
  exporter_port: 'exporter metrics port',
  haproxy_metrics_port: 'HAProxy /metrics and /stats',
  haproxy_peers_port: 'stick-table replication between load balancers',
  verify_user: 'MQTT login of provision verify',
  verify_password: 'unset: generated once into secrets/',
  max_keepalive: "largest MQTT keep-alive; HAProxy's idle timeouts follow it",
  max_packet_size: 'bytes',
  max_queued_messages: 'per client, QoS 1/2',
  set_tcp_nodelay: 'TCP_NODELAY on client sockets',
  sys_interval: 'seconds between $SYS updates',
  persistence: 'store in /var/lib/mosquitto/',
  autosave_interval: 'seconds',
  mosquitto_extra_config: 'lines appended to mosquitto.conf as they are',
  mqtt_users: 'MQTT users',
  mqtt_roles: 'dynamic-security roles and their ACLs',
  mqtt_groups: 'dynamic-security groups',
  mqtt_default_acl_access: "default ACL access; unset: the broker's defaults are kept",
  pki_dir: 'controller folder for the CA and certificates; unset: pki (relative to the inventory directory)',
  tls_key_type: 'server keys: ECDSA P-256 or RSA 2048',
  tls_extra_sans: "more DNS names / IPs in the host's certificate",
  tls_renew_before_days: 're-issue when fewer days remain',
  tls_ca_cert: "your own CA certificate instead of provision's",
  tls_ca_key: 'the key of tls_ca_cert',
  cluster_vip: 'virtual IP (CIDR) held by keepalived on the load balancers',
  firewall_backend: 'auto: firewalld on Rocky, nftables on Debian',
  prometheus_cidr: 'sources allowed to the metrics ports; empty: anywhere',
  firewall_extra_ports: 'more inbound ports',
  cluster_mode: 'active-passive: one broker takes the traffic; active-active: all of them',
  keepalived_router_id: 'VRRP virtual_router_id',
  keepalived_interface: 'interface carrying the VIP and VRRP',
  keepalived_password: 'VRRP PASS authentication',
  exporter_source: 'where the exporter binary comes from',
  exporter_repo_url: 'exporter source repository',
  exporter_ref: 'pinned tag or commit',
  exporter_version: 'embedded version string',
  exporter_binary: 'controller path of a prebuilt binary (exporter_source: binary)',
  exporter_build_cache: 'controller build cache; unset: $XDG_CACHE_HOME/provision/exporter',
  exporter_bind_address: 'address:port the exporter listens on; unset: primary address and exporter_port',
  exporter_system_user: 'system user running the exporter',
  exporter_build_user: 'host-build: unprivileged system user the exporter build runs as',
  prometheus_scrape_config_dir: 'where provision.yml is written; unset: prometheus (relative to the inventory directory)',
  cluster_backend: "cedalo: Cedalo's HA plugin forms the cluster",
  cedalo_ha_plugin_path: 'the HA plugin on the broker; null: simulator mode',
  cedalo_admin_port: 'admin listener (control API) on every node',
  cedalo_license_file: 'controller path of the Cedalo licence',
  cedalo_ha_port: 'cluster (Raft) port, unencrypted',
  cedalo_node_id: 'node id; unset: the known one, else derived from the host name',
  cedalo_control_prefix: 'control API topic prefix',
  cluster_name: 'Cedalo HA cluster name, fixed at creation',
};

/** The catalogue entries a role reads, by name: `z.object({ ...pick('a', 'b') })`. */
export function pick<K extends VariableName>(...names: K[]): Pick<typeof VARIABLES, K> {
  return Object.fromEntries(names.map((n) => [n, VARIABLES[n]])) as Pick<typeof VARIABLES, K>;
}

/** The default of a variable (what a role sees when the inventory leaves it unset; undefined when it has none). */
export function defaultOf<K extends VariableName>(name: K): z.output<(typeof VARIABLES)[K]> {
  return VARIABLES[name].parse(undefined) as z.output<(typeof VARIABLES)[K]>;
}
