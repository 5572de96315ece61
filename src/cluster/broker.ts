/** Where the broker keeps its files on a host (its variables are in ./variables.ts). */
export const BROKER_PATHS = {
  confDir: '/etc/mosquitto',
  conf: '/etc/mosquitto/mosquitto.conf',
  certDir: '/etc/mosquitto/certs',
  dataDir: '/var/lib/mosquitto',
  dynsecFile: '/var/lib/mosquitto/dynamic-security.json',
  passwordFile: '/etc/mosquitto/passwd',
  aclFile: '/etc/mosquitto/acl',
};

export function dynsecPluginPath(facts: { os: { family: string }; multiarch: string }): string {
  return facts.os.family === 'redhat' ? '/usr/lib64/mosquitto_dynamic_security.so' : `/usr/lib/${facts.multiarch}/mosquitto_dynamic_security.so`;
}
