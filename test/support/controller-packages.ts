import { installDebianPackages, missingDebianPackages } from '../../src/controller/packages.js';

/**
 * Debian packages the test suite uses on the controller (sandbox tooling, real brokers/haproxy for loopback tests, Go for
 * the exporter build, and Ansible itself: the inventory and vault tests compare with the real `ansible-inventory` and
 * decrypt what the real `ansible-vault` encrypted).
 */
export const TEST_PACKAGES = [
  'debootstrap', 'systemd-container', 'apt-cacher-ng', 'nftables', 'iproute2', 'openssh-client', 'openssh-server', 'git', 'openssl',
  'mosquitto', 'mosquitto-clients', 'haproxy', 'keepalived',
  'golang-go', 'golang-github-eclipse-paho.mqtt.golang-dev', 'golang-github-prometheus-client-golang-dev', 'golang-github-urfave-cli-dev',
  'ansible', 'python3-netaddr', // netaddr: Ansible's ipaddr filters, compared with ours
];

export async function ensureControllerPackages(names: string[] = TEST_PACKAGES): Promise<void> {
  const missing = await missingDebianPackages(names);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`tests need these Debian packages (run as root to install them): ${missing.join(' ')}`);
  // mosquitto/haproxy must not start system-wide daemons on this machine.
  await installDebianPackages(missing, { noServiceStart: true, log: (l) => process.stderr.write(`${l}\n`) });
}
