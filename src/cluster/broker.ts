import { z } from 'zod';
import { zMqttName, zMqttPassword, zPort } from '../inventory/schema.js';

/** Variables several broker roles read; one definition so their types never disagree. */
export const brokerVars = {
  mqtt_tls_port: zPort.default(8883),
  mqtt_local_port: zPort.default(1883),
  /** Plain listener on the broker's private address for load-balancer traffic (TLS ends at HAProxy). */
  mqtt_lb_port: zPort.default(1884),
  mqtt_auth_backend: z.enum(['dynsec', 'password_file']).default('dynsec'),
  mqtt_admin_user: zMqttName.default('provision-admin'),
  mqtt_admin_password: zMqttPassword.optional(),
  mqtt_health_user: zMqttName.default('provision-health'),
  mqtt_health_password: zMqttPassword.optional(),
  exporter_user: zMqttName.default('provision-exporter'),
  exporter_password: zMqttPassword.optional(),
  exporter_port: zPort.default(9234),
  haproxy_metrics_port: zPort.default(8404),
  haproxy_peers_port: zPort.default(10000),
  verify_user: zMqttName.default('provision-verify'),
  verify_password: zMqttPassword.optional(),
};

export const BROKER_PATHS = {
  confDir: '/etc/mosquitto',
  conf: '/etc/mosquitto/mosquitto.conf',
  certDir: '/etc/mosquitto/certs',
  dataDir: '/var/lib/mosquitto',
  dynsecFile: '/var/lib/mosquitto/dynamic-security.json',
  passwordFile: '/etc/mosquitto/passwd',
  aclFile: '/etc/mosquitto/acl',
  /**
   * Touched after a reload proved the broker serves its new certificate (roles/mosquitto_config/reload.ts);
   * certificate files older than it (or than the start) are loaded. Under /run: a reboot restarts the broker.
   */
  certsLoadedMarker: '/run/provision-mosquitto-certs-loaded',
};

export function dynsecPluginPath(facts: { os: { family: string }; multiarch: string }): string {
  return facts.os.family === 'redhat' ? '/usr/lib64/mosquitto_dynamic_security.so' : `/usr/lib/${facts.multiarch}/mosquitto_dynamic_security.so`;
}
