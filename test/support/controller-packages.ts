import { execFileSync, spawnSync } from 'node:child_process';

/**
 * Debian packages the test suite uses on the controller (sandbox tooling, real brokers/haproxy for loopback tests, Go for
 * the exporter build, and Ansible itself: the inventory and vault tests compare with the real `ansible-inventory` and
 * decrypt what the real `ansible-vault` encrypted).
 */
export const TEST_PACKAGES = [
  'debootstrap', 'systemd-container', 'apt-cacher-ng', 'nftables', 'iproute2', 'openssh-client', 'git', 'openssl',
  'mosquitto', 'mosquitto-clients', 'haproxy', 'keepalived',
  'golang-go', 'golang-github-eclipse-paho.mqtt.golang-dev', 'golang-github-prometheus-client-golang-dev', 'golang-github-urfave-cli-dev',
  'ansible', 'python3-netaddr', // netaddr: Ansible's ipaddr filters, compared with ours
];

export function missingPackages(names: string[]): string[] {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Package} ${Status}\n', ...names], { encoding: 'utf8' });
  const installed = new Set(r.stdout.split('\n').filter((l) => l.endsWith('install ok installed')).map((l) => l.split(' ')[0]));
  return names.filter((n) => !installed.has(n));
}

export function ensureControllerPackages(names: string[] = TEST_PACKAGES): void {
  const missing = missingPackages(names);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`tests need these Debian packages (run as root to install them): ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  // policy-rc.d: packages like mosquitto/haproxy must not start system-wide daemons on this machine.
  execFileSync('sh', ['-c', `printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d; apt-get install -y -qq --no-install-recommends ${missing.join(' ')}; r=$?; rm -f /usr/sbin/policy-rc.d; exit $r`], { stdio: 'inherit', env });
}
