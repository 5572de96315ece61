/**
 * Debian 12: the exact commands the roles plan for a Debian host, from recorded fact outputs — the counterpart of
 * roles-rocky.test.ts (apt instead of dnf, no EPEL, mosquitto-clients, nftables by default, the dynamic-security
 * plugin under the host's multiarch directory, no SELinux steps).
 */
import { aptUpdateScript } from '../../../src/operations/package.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mosquittoConfig from '../../../roles/mosquitto_config/index.js';
import {
  createFixture,
  phaseSteps,
  planAll,
  removeFixture,
  scripts,
  summaries,
  writeSkeleton,
  writtenContent,
  type Fixture,
} from '../../support/role-planning.js';

const APT = 'DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300';
const APT_INSTALL = `${APT} install -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold --no-install-recommends`;

let fx: Fixture;
let exporterBinary: string;

beforeAll(async () => {
  fx = await createFixture({
    os: 'debian12',
    passwords: { mqtt_admin_password: 'Adm1n-deb1an-pw', mqtt_health_password: 'He4lth-deb1an-pw', exporter_password: 'Exp0rter-deb1an-pw', verify_password: 'Ver1fy-deb1an-pw' },
    brokers: { mq1: '10.77.1.10', mq2: '10.77.1.11' },
    loadbalancers: { lb1: '10.77.1.20' },
    hostFacts: { mq1: 'mq1-host-facts.txt', mq2: 'mq2-arm64-host-facts.txt', lb1: 'lb1-host-facts.txt' },
  });
  exporterBinary = fx.exporterBinary;
});

afterAll(() => removeFixture(fx));

describe('recorded Debian 12 hosts', () => {
  it('parse as Debian 12 / apt / nft, without SELinux; mq2 is arm64', () => {
    expect(fx.facts.get('mq1')).toMatchObject({
      os: { id: 'debian', version: '12', major: 12, family: 'debian' },
      arch: 'x86_64',
      multiarch: 'x86_64-linux-gnu',
      packageManager: 'apt',
      firewall: { firewalld: false, firewalldRunning: false, ufw: false, nft: true },
      selinux: 'absent',
      primaryAddress: '10.77.1.10',
    });
    expect(fx.facts.get('mq2')).toMatchObject({ arch: 'aarch64', multiarch: 'aarch64-linux-gnu' });
  });
});

describe('Debian broker, build phase (fresh host)', () => {
  it("its one fact batch asks the package lists' age once, however many package steps the phase has (issue 13)", async () => {
    const steps = await phaseSteps(fx, fx.plays.brokers, 'mq1', 'build');
    // The engine's batch (src/engine/fact-batch.ts) runs each fact key once.
    const batch = [...new Map(steps.flatMap((s) => s.step.facts ?? []).map((q) => [q.key, q.script])).values()].join('\n');
    expect(steps.filter((s) => s.step.facts?.some((q) => q.key.startsWith('packages:'))).length).toBeGreaterThanOrEqual(3);
    expect(batch.match(/find \/var\/lib\/apt\/lists/g)).toHaveLength(1);
  });

  it('plans exactly: apt-get update, base tools present, mosquitto and mosquitto-clients from Debian, nftables present, exporter', async () => {
    const planned = await planAll(fx, await phaseSteps(fx, fx.plays.brokers, 'mq1', 'build'), 'mq1', 'build-fresh.facts');
    expect(planned.filter((p) => p.name !== 'exporter binary').map((p) => [p.role, p.name, scripts(p.plan)])).toEqual([
      ['base', 'package lists refreshed', [aptUpdateScript()]],
      ['base', 'base tools', []],
      ['mosquitto', 'mosquitto', [`${APT_INSTALL} mosquitto mosquitto-clients`]],
      ['firewall', 'firewall tooling', []],
      ['exporter', 'user exporter', ['useradd --system --shell /usr/sbin/nologin --home-dir /nonexistent --no-create-home --user-group exporter']],
    ]);
    const bin = planned.find((p) => p.name === 'exporter binary')!;
    expect(summaries(bin.plan)).toEqual([`copy ${exporterBinary} → /usr/local/bin/mosquitto_exporter (39 bytes)`]);
    // No SELinux on Debian: no restorecon line.
    expect(writeSkeleton(scripts(bin.plan)[0]!)).toBe(
      [
        'set -e',
        'umask 077',
        't=$(mktemp /usr/local/bin/.mosquitto_exporter.provision-XXXXXX)',
        `trap 'rm -f -- "$t"' EXIT`,
        `printf '%s' <content> | base64 -d > "$t"`,
        'chown root:root "$t"',
        'chmod 0755 "$t"',
        'mv -f -- "$t" /usr/local/bin/mosquitto_exporter',
        'trap - EXIT',
      ].join('\n'),
    );
  });

  it('has no EPEL step and never mentions dnf', async () => {
    const steps = await phaseSteps(fx, fx.plays.brokers, 'mq1', 'build');
    expect(steps.map((s) => s.step.name)).not.toContain('EPEL repository');
    const planned = await planAll(fx, steps, 'mq1', 'build-fresh.facts');
    expect(JSON.stringify(planned.map((p) => scripts(p.plan)))).not.toMatch(/\bdnf\b|epel/);
  });

  it("pins mosquitto with apt's name=version form", async () => {
    fx.inventory.hosts.get('mq1')!.vars.mosquitto_version = '2.0.11-1.2+deb12u1';
    try {
      const steps = (await phaseSteps(fx, fx.plays.brokers, 'mq1', 'build')).filter((s) => s.step.name === 'mosquitto');
      const [mq] = await planAll(fx, steps, 'mq1', 'build-fresh.facts');
      expect(scripts(mq!.plan)).toEqual([`${APT_INSTALL} mosquitto=2.0.11-1.2+deb12u1 mosquitto-clients`]);
    } finally {
      delete fx.inventory.hosts.get('mq1')!.vars.mosquitto_version;
    }
  });
});

describe('Debian broker, configure phase (after build)', () => {
  it('renders mosquitto.conf with the dynamic-security plugin under the multiarch directory (x86_64 and arm64)', async () => {
    for (const [host, triplet] of [
      ['mq1', 'x86_64-linux-gnu'],
      ['mq2', 'aarch64-linux-gnu'],
    ] as const) {
      const steps = (await phaseSteps(fx, fx.plays.brokers, host, 'configure')).filter((s) => s.step.name === 'mosquitto.conf');
      const [conf] = await planAll(fx, steps, host, 'mq1-configure.facts');
      const content = writtenContent(scripts(conf!.plan)[0]!);
      expect(content.split('\n').slice(0, 5), host).toEqual([
        '# Managed by provision: local changes are overwritten on the next run.',
        'per_listener_settings false',
        'allow_anonymous false',
        `plugin /usr/lib/${triplet}/mosquitto_dynamic_security.so`,
        'plugin_opt_config_file /var/lib/mosquitto/dynamic-security.json',
      ]);
      expect(content).not.toContain('/usr/lib64');
      expect(content).toContain(`\nlistener 1884 ${fx.facts.get(host)!.primaryAddress}\n`);
      // Debian's default configuration is replaced whole (its include_dir and log file are gone), after a backup.
      expect(content).not.toContain('include_dir');
      expect(scripts(conf!.plan)[0]).toContain('cp -p -- /etc/mosquitto/mosquitto.conf /etc/mosquitto/mosquitto.conf.provision-prev');
      expect(scripts(conf!.plan)[0]).not.toContain('restorecon');
    }
  });

  it('plans the exact directory and dynamic-security commands', async () => {
    const planned = await planAll(fx, await phaseSteps(fx, fx.plays.brokers, 'mq1', 'configure'), 'mq1', 'mq1-configure.facts');
    expect(planned.map((p) => [p.role, p.name])).toEqual([
      ['pki', 'CA and server certificate (controller)'],
      ['pki', 'directory /etc/mosquitto/certs'],
      ['pki', 'CA certificate'],
      ['pki', 'server certificate'],
      ['pki', 'server key'],
      ['mosquitto_config', 'directory /var/lib/mosquitto'],
      ['mosquitto_config', 'dynamic-security store with the admin account'],
      ['mosquitto_config', 'mosquitto.conf'],
      ['firewall', 'firewall (nftables)'],
      ['exporter', 'directory /etc/mosquitto-exporter'],
      ['exporter', 'exporter credentials (environment file)'],
      ['exporter', 'systemd unit mosquitto-exporter.service'],
    ]);
    const byName = new Map(planned.map((p) => [p.name, p]));
    // A certificate change reloads the broker (SIGHUP keeps connections); mosquitto.conf still restarts it.
    for (const n of ['CA certificate', 'server certificate', 'server key']) expect(byName.get(n)!.step.notify).toEqual(['reload mosquitto']);
    expect(byName.get('mosquitto.conf')!.step.notify).toEqual(['restart mosquitto']);
    expect(Object.keys(mosquittoConfig.handlers ?? {})).toEqual(['restart mosquitto', 'reload mosquitto']);
    // Debian's package ships /etc/mosquitto/certs (root 0755, a README): only owner and mode are fixed.
    expect(scripts(byName.get('directory /etc/mosquitto/certs')!.plan)).toEqual(['chown root:mosquitto -- /etc/mosquitto/certs\nchmod 0750 -- /etc/mosquitto/certs']);
    expect(scripts(byName.get('directory /var/lib/mosquitto')!.plan)).toEqual(['chmod 0750 -- /var/lib/mosquitto']);
    expect(scripts(byName.get('dynamic-security store with the admin account')!.plan)).toEqual([
      `umask 077; printf '%s\\n%s\\n' Adm1n-deb1an-pw Adm1n-deb1an-pw | mosquitto_ctrl dynsec init /var/lib/mosquitto/dynamic-security.json provision-admin >/dev/null && chown mosquitto:mosquitto /var/lib/mosquitto/dynamic-security.json`,
    ]);
  });

  it('chooses nftables by default: exact ruleset (SSH, 8883, 9234 from Prometheus, 1884 from the LB), included at boot, loaded, enabled', async () => {
    const planned = await planAll(fx, await phaseSteps(fx, fx.plays.brokers, 'mq1', 'configure'), 'mq1', 'mq1-configure.facts');
    const fw = planned.find((p) => p.role === 'firewall')!;
    expect(fw.name).toBe('firewall (nftables)');
    expect(summaries(fw.plan)).toEqual([
      'create /etc/nftables.d/provision.nft (allow 22/tcp, 8883/tcp, 9234/tcp from 10.0.0.0/8, 1884/tcp from 10.77.1.20)',
      'include /etc/nftables.d/provision.nft from /etc/nftables.conf (loaded at boot)',
      'load table inet provision (rules changed)',
      'enable nftables at boot',
    ]);
    const s = scripts(fw.plan);
    expect(s[0]).toBe('mkdir -p /etc/nftables.d');
    expect(writtenContent(s[1]!)).toBe(`#!/usr/sbin/nft -f
# Managed by provision: inbound filter. Edits are overwritten on the next run.
table inet provision
delete table inet provision
table inet provision {
\tchain input {
\t\ttype filter hook input priority filter; policy drop;
\t\tct state established,related accept
\t\tct state invalid drop
\t\tiif "lo" accept
\t\tmeta l4proto icmp accept
\t\tmeta l4proto icmpv6 accept
\t\ttcp dport 22 accept comment "SSH"
\t\ttcp dport 8883 accept comment "MQTT over TLS"
\t\tip saddr { 10.0.0.0/8 } tcp dport 9234 accept comment "Prometheus exporter"
\t\tip saddr { 10.77.1.20 } tcp dport 1884 accept comment "MQTT from load balancers"
\t}
}
`);
    expect(writeSkeleton(s[1]!)).toContain(`chmod 0644 "$t"\nif ! out=$( ( nft -c -f "$t" ) 2>&1 ); then { printf '%s\\n' 'validation of the new /etc/nftables.d/provision.nft failed (the file stays as it was): ''nft -c -f '"$t"''; printf '%s\\n' "$out" | tail -n 7; } >&2; exit 1; fi\nmv -f -- "$t" /etc/nftables.d/provision.nft`);
    expect(s.slice(2)).toEqual([
      `printf '\\n%s\\n' 'include "/etc/nftables.d/provision.nft"' >> /etc/nftables.conf`,
      'set -e\nnft -f /etc/nftables.d/provision.nft\nmkdir -p /var/lib/provision\nout=$(nft list table inet provision)\nprintf \'%s\\n\' "$out" | sha256sum | cut -c1-64 > /var/lib/provision/nftables.sha256',
      'systemctl enable nftables',
    ]);
    expect(JSON.stringify(s)).not.toMatch(/firewall-cmd|ufw/);
  });

  it('honours firewall_backend: ufw on Debian', async () => {
    fx.inventory.hosts.get('mq1')!.vars.firewall_backend = 'ufw';
    try {
      const build = (await phaseSteps(fx, fx.plays.brokers, 'mq1', 'build')).find((s) => s.role === 'firewall')!;
      expect(build.step.facts!.map((q) => q.key)).toEqual(['packages:ufw', 'package-lists']);
      const conf = (await phaseSteps(fx, fx.plays.brokers, 'mq1', 'configure')).filter((s) => s.role === 'firewall');
      expect(conf.map((s) => s.step.name)).toEqual(['firewall (ufw)']);
    } finally {
      delete fx.inventory.hosts.get('mq1')!.vars.firewall_backend;
    }
  });

  it('firewall_backend: firewalld on Debian installs netbase with it (firewalld resolves "tcp" through /etc/protocols)', async () => {
    fx.inventory.hosts.get('mq1')!.vars.firewall_backend = 'firewalld';
    try {
      const build = (await phaseSteps(fx, fx.plays.brokers, 'mq1', 'build')).find((s) => s.role === 'firewall')!;
      expect(build.step.facts!.map((q) => q.key)).toEqual(['packages:firewalld,netbase', 'package-lists']);
    } finally {
      delete fx.inventory.hosts.get('mq1')!.vars.firewall_backend;
    }
  });
});

describe('Debian broker, runtime phase', () => {
  it('leaves the running broker alone and starts the exporter', async () => {
    const steps = (await phaseSteps(fx, fx.plays.brokers, 'mq1', 'runtime')).filter((s) => s.role !== 'mqtt_auth');
    const planned = await planAll(fx, steps, 'mq1', 'mq1-runtime.facts');
    expect(planned.map((p) => [p.name, scripts(p.plan)])).toEqual([
      ['service mosquitto enabled, started', []],
      ['apply a configuration the running broker has not loaded yet', []],
      ['load certificates the running broker has not loaded yet', []],
      ['service mosquitto-exporter enabled, started', ['systemctl enable mosquitto-exporter.service', 'systemctl start mosquitto-exporter.service']],
    ]);
  });
});

describe('Debian load balancer', () => {
  it('build: apt installs haproxy and socat; configure has no SELinux step', async () => {
    const planned = await planAll(fx, await phaseSteps(fx, fx.plays.loadbalancers, 'lb1', 'build'), 'lb1', 'build-fresh.facts');
    expect(planned.map((p) => [p.role, p.name, scripts(p.plan)])).toEqual([
      ['base', 'package lists refreshed', [aptUpdateScript()]],
      ['base', 'base tools', []],
      ['haproxy', 'load balancer packages', [`${APT_INSTALL} haproxy socat`]],
      ['firewall', 'firewall tooling', []],
    ]);
    const configure = await phaseSteps(fx, fx.plays.loadbalancers, 'lb1', 'configure');
    expect(configure.map((s) => s.step.name).filter((n) => /selinux/i.test(n))).toEqual([]);
    expect(configure.map((s) => s.step.name)).toContain('firewall (nftables)');
  });
});
