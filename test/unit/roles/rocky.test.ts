/**
 * Rocky Linux 9: the exact commands the roles plan for a Rocky host, from recorded fact outputs.
 *
 * Rocky hosts cannot run end to end here (the sandbox is Debian), so every role's phase builder is called with a
 * RoleContext built like `--list-tasks` builds one (nothing is contacted: the transport throws if used) and each
 * step is planned with `planWithRecordedFacts`, which feeds recorded outputs (test/fixtures/recorded/rocky9)
 * through the step's own fact parsers (test/support/role-planning.ts).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { planWithRecordedFacts } from '../../support/recorded-facts.js';
import {
  BROKER_ROLES,
  changesOf,
  createFixture,
  LB_ROLES,
  loadRecordings,
  phaseSteps,
  planAll,
  recordedFor,
  removeFixture,
  scripts,
  summaries,
  writeSkeleton,
  writtenContent,
  type BuiltStep,
  type Fixture,
} from '../../support/role-planning.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const PROJECT = join(HERE, '..', '..', '..');

const PASSWORDS = {
  mqtt_admin_password: 'Adm1n-r0cky-pw',
  mqtt_health_password: 'He4lth-r0cky-pw',
  exporter_password: 'Exp0rter-r0cky-pw',
  verify_password: 'Ver1fy-r0cky-pw',
};

let fx: Fixture;
let exporterBinary: string;

beforeAll(async () => {
  fx = await createFixture({
    os: 'rocky9',
    passwords: PASSWORDS,
    brokers: { mq3: '10.77.1.12' },
    loadbalancers: { lb3: '10.77.1.20' },
    hostFacts: { mq3: 'mq3-host-facts.txt', lb3: 'lb3-host-facts.txt' },
  });
  exporterBinary = fx.exporterBinary;
});

afterAll(() => removeFixture(fx));

describe('recorded Rocky Linux 9.4 host', () => {
  it('parses as Rocky 9 / redhat family, dnf, firewalld running, SELinux enforcing, x86_64', () => {
    expect(fx.facts.get('mq3')).toEqual({
      hostname: 'mq3',
      fqdn: 'mq3.mqtt.internal',
      os: { id: 'rocky', version: '9.4', major: 9, family: 'redhat', pretty: 'Rocky Linux 9.4 (Blue Onyx)' },
      arch: 'x86_64',
      multiarch: 'x86_64-linux-gnu',
      init: 'systemd',
      packageManager: 'dnf',
      firewall: { firewalld: true, firewalldRunning: true, ufw: false, nft: true },
      selinux: 'enforcing',
      addresses: ['10.77.1.12'],
      primaryAddress: '10.77.1.12',
      user: 'root',
    });
  });

  it('the plays built here are the broker and load balancer plays of playbooks/site.yaml, in the same role order', () => {
    const site = parseYaml(readFileSync(join(PROJECT, 'playbooks', 'site.yaml'), 'utf8')) as { name: string; roles: (string | { role: string })[] }[];
    const roleNames = (name: string) => site.find((p) => p.name === name)?.roles.map((r) => (typeof r === 'string' ? r : r.role));
    expect(roleNames('Mosquitto brokers')).toEqual(BROKER_ROLES.map((r) => r.name));
    expect(roleNames('Load balancers')).toEqual(LB_ROLES.map((r) => r.name));
  });
});

describe('Rocky broker, build phase (fresh host)', () => {
  it('plans exactly: dnf metadata, EPEL, base tools, mosquitto from EPEL, firewalld present, exporter user and binary', async () => {
    const planned = await planAll(fx, await phaseSteps(fx, fx.plays.brokers, 'mq3', 'build'), 'mq3', 'mq3-build.facts');
    const nonFile = planned.filter((p) => p.name !== 'exporter binary').map((p) => [p.role, p.name, scripts(p.plan)]);
    expect(nonFile).toEqual([
      ['base', 'package lists refreshed', ['dnf -q -y makecache --refresh']],
      ['base', 'EPEL repository', ['dnf -q -y install epel-release']],
      ['base', 'base tools', ['dnf -q -y install policycoreutils-python-utils']],
      ['mosquitto', 'mosquitto', ['dnf -q -y install mosquitto']],
      ['firewall', 'firewall tooling', []],
      ['exporter', 'user exporter', ['useradd --system --shell /usr/sbin/nologin --home-dir /nonexistent --no-create-home --user-group exporter']],
    ]);
    const bin = planned.find((p) => p.name === 'exporter binary')!;
    expect(summaries(bin.plan)).toEqual([`copy ${exporterBinary} → /usr/local/bin/mosquitto_exporter (39 bytes)`]);
    const [write] = scripts(bin.plan);
    expect(writeSkeleton(write!)).toBe(
      [
        'set -e',
        'umask 077',
        "t=$(mktemp /usr/local/bin/.mosquitto_exporter.provision-XXXXXX)",
        `trap 'rm -f -- "$t"' EXIT`,
        `printf '%s' <content> | base64 -d > "$t"`,
        'chown root:root "$t"',
        'chmod 0755 "$t"',
        'mv -f -- "$t" /usr/local/bin/mosquitto_exporter',
        'trap - EXIT',
        // SELinux enforcing: the binary gets the label of its new place (bin_t), not the temp file's.
        'if command -v restorecon >/dev/null 2>&1; then restorecon -- /usr/local/bin/mosquitto_exporter || true; fi',
      ].join('\n'),
    );
  });

  it('installs EPEL before mosquitto, and mosquitto alone (EPEL has no mosquitto-clients package)', async () => {
    const steps = await phaseSteps(fx, fx.plays.brokers, 'mq3', 'build');
    const names = steps.map((s) => s.step.name);
    expect(names.indexOf('EPEL repository')).toBeGreaterThanOrEqual(0);
    expect(names.indexOf('EPEL repository')).toBeLessThan(names.indexOf('mosquitto'));
    const mq = steps.find((s) => s.step.name === 'mosquitto')!.step;
    expect(mq.facts!.map((q) => q.key)).toEqual(['packages:mosquitto', 'package-lists']);
    expect(JSON.stringify(steps.map((s) => s.step.facts?.map((q) => q.key)))).not.toContain('mosquitto-clients');
  });

  it('pins mosquitto with the dnf name-version form when mosquitto_version is set', async () => {
    fx.inventory.hosts.get('mq3')!.vars.mosquitto_version = '2.0.18';
    try {
      const steps = await phaseSteps(fx, fx.plays.brokers, 'mq3', 'build');
      const [mq] = await planAll(fx, steps.filter((s) => s.step.name === 'mosquitto'), 'mq3', 'mq3-build.facts');
      expect(scripts(mq!.plan)).toEqual(['dnf -q -y install mosquitto-2.0.18']);
    } finally {
      delete fx.inventory.hosts.get('mq3')!.vars.mosquitto_version;
    }
  });

  it('exporter_source host-build on Rocky is refused, or installs Rocky package names (never Debian-only ones dnf cannot find)', async () => {
    // roles/exporter/index.ts GO_PACKAGES are Debian names (golang-go, golang-github-…-dev); the host build script
    // (src/exporter/controller-build.ts exporterBuildScriptForHost) is documented as Debian-only.
    fx.inventory.hosts.get('mq3')!.vars.exporter_source = 'host-build';
    let steps: BuiltStep[];
    try {
      steps = await phaseSteps(fx, fx.plays.brokers, 'mq3', 'build');
    } catch (err) {
      expect(String(err)).toMatch(/host-build/); // refused with a message naming the option: fine
      return;
    } finally {
      fx.inventory.hosts.get('mq3')!.vars.exporter_source = 'binary';
    }
    const toolchain = steps.filter((s) => s.role === 'exporter' && s.step.facts?.some((q) => q.key.startsWith('packages:')));
    const names = toolchain.flatMap((s) => s.step.facts!.filter((q) => q.key.startsWith('packages:')).flatMap((q) => q.key.slice('packages:'.length).split(',')));
    expect(names.filter((n) => n === 'golang-go' || n.endsWith('-dev')), `dnf would be asked for: ${names.join(' ')}`).toEqual([]);
  });

  it('is a no-op once everything is installed (no dnf command at all)', async () => {
    const installed = loadRecordings(fx, 'mq3-build.facts').map((r) => {
      if (!r.pattern.startsWith('packages:') && r.pattern !== 'package-lists') return r;
      const names = r.pattern.startsWith('packages:') ? r.pattern.slice('packages:'.length).split(',') : [];
      return {
        ...r,
        stdout: `@@now\n1718039000\n@@pm\ndnf\n@@lists\npresent 1718038000.1\n@@installed\n${names.map((n) => `${n}\t${n}\t(none):1.0-1.el9`).join('\n')}\n`,
      };
    });
    const steps = (await phaseSteps(fx, fx.plays.brokers, 'mq3', 'build')).filter((s) => s.role !== 'exporter');
    for (const { step } of steps) {
      expect(await planWithRecordedFacts(step, fx.facts.get('mq3')!, recordedFor(step, installed), { hostName: 'mq3' }), step.name).toEqual({ changes: [] });
    }
  });
});

describe('Rocky broker, configure phase (after build)', () => {
  const EXPECTED_CONF = `# Managed by provision: local changes are overwritten on the next run.
per_listener_settings false
allow_anonymous false
plugin /usr/lib64/mosquitto_dynamic_security.so
plugin_opt_config_file /var/lib/mosquitto/dynamic-security.json

persistence true
persistence_location /var/lib/mosquitto/
autosave_interval 60
sys_interval 10
max_keepalive 60
max_packet_size 1048576
max_queued_messages 1000
set_tcp_nodelay true
log_dest stderr
log_type error
log_type warning
log_type notice
connection_messages true

# Local plain listener: the exporter and provision itself (through SSH) connect here.
listener 1883 127.0.0.1

# Clients: TLS only.
listener 8883
cafile /etc/mosquitto/certs/ca.crt
certfile /etc/mosquitto/certs/server.crt
keyfile /etc/mosquitto/certs/server.key
tls_version tlsv1.2
ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384
ciphers_tls1.3 TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256

# Load balancers only (TLS ends at HAProxy; the firewall admits the load balancers alone).
listener 1884 10.77.1.12
`;

  it('renders mosquitto.conf with the EPEL dynamic-security plugin path /usr/lib64 (not a Debian multiarch path)', async () => {
    const planned = await planAll(fx, await phaseSteps(fx, fx.plays.brokers, 'mq3', 'configure'), 'mq3', 'mq3-configure.facts');
    const conf = planned.find((p) => p.name === 'mosquitto.conf')!;
    expect(summaries(conf.plan)).toEqual(['update /etc/mosquitto/mosquitto.conf']);
    const [script] = scripts(conf.plan);
    expect(writtenContent(script!)).toBe(EXPECTED_CONF);
    expect(writeSkeleton(script!)).toBe(
      [
        'set -e',
        'umask 077',
        't=$(mktemp /etc/mosquitto/.mosquitto.conf.provision-XXXXXX)',
        `trap 'rm -f -- "$t"' EXIT`,
        `printf '%s' <content> | base64 -d > "$t"`,
        'chown root:mosquitto "$t"',
        'chmod 0640 "$t"',
        'if [ -f /etc/mosquitto/mosquitto.conf ]; then cp -p -- /etc/mosquitto/mosquitto.conf /etc/mosquitto/mosquitto.conf.provision-prev; fi',
        'mv -f -- "$t" /etc/mosquitto/mosquitto.conf',
        'trap - EXIT',
        'if command -v restorecon >/dev/null 2>&1; then restorecon -- /etc/mosquitto/mosquitto.conf || true; fi',
      ].join('\n'),
    );
    expect(conf.step.notify).toEqual(['restart mosquitto']);
  });

  it('plans the exact directory, dynamic-security and certificate commands', async () => {
    const planned = await planAll(fx, await phaseSteps(fx, fx.plays.brokers, 'mq3', 'configure'), 'mq3', 'mq3-configure.facts');
    const byName = new Map(planned.map((p) => [p.name, p]));
    expect(planned.map((p) => [p.role, p.name])).toEqual([
      ['pki', 'CA and server certificate (controller)'],
      ['pki', 'directory /etc/mosquitto/certs'],
      ['pki', 'CA certificate'],
      ['pki', 'server certificate'],
      ['pki', 'server key'],
      ['mosquitto_config', 'directory /var/lib/mosquitto'],
      ['mosquitto_config', 'dynamic-security store with the admin account'],
      ['mosquitto_config', 'mosquitto.conf'],
      ['firewall', 'service firewalld enabled, started'],
      ['firewall', 'firewall (firewalld)'],
      ['exporter', 'directory /etc/mosquitto-exporter'],
      ['exporter', 'exporter credentials (environment file)'],
      ['exporter', 'systemd unit mosquitto-exporter.service'],
    ]);
    expect(scripts(byName.get('directory /etc/mosquitto/certs')!.plan)).toEqual(['mkdir -p -- /etc/mosquitto/certs\nchown root:mosquitto -- /etc/mosquitto/certs\nchmod 0750 -- /etc/mosquitto/certs']);
    // The EPEL package leaves /var/lib/mosquitto 0755: tightened, owner kept.
    expect(scripts(byName.get('directory /var/lib/mosquitto')!.plan)).toEqual(['chmod 0750 -- /var/lib/mosquitto']);
    expect(scripts(byName.get('dynamic-security store with the admin account')!.plan)).toEqual([
      `umask 077; printf '%s\\n%s\\n' ${PASSWORDS.mqtt_admin_password} ${PASSWORDS.mqtt_admin_password} | mosquitto_ctrl dynsec init /var/lib/mosquitto/dynamic-security.json provision-admin >/dev/null && chown mosquitto:mosquitto /var/lib/mosquitto/dynamic-security.json`,
    ]);
    for (const [name, path, owner, mode] of [
      ['CA certificate', '/etc/mosquitto/certs/ca.crt', 'root:mosquitto', '0644'],
      ['server certificate', '/etc/mosquitto/certs/server.crt', 'root:mosquitto', '0644'],
      ['server key', '/etc/mosquitto/certs/server.key', 'mosquitto:mosquitto', '0600'],
    ] as const) {
      const [script] = scripts(byName.get(name)!.plan);
      expect(writeSkeleton(script!), name).toContain(`chown ${owner} "$t"\nchmod ${mode} "$t"\nmv -f -- "$t" ${path}\ntrap - EXIT\nif command -v restorecon >/dev/null 2>&1; then restorecon -- ${path} || true; fi`);
    }
    expect(writtenContent(scripts(byName.get('server key')!.plan)[0]!)).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(summaries(byName.get('server key')!.plan)).toEqual(['create /etc/mosquitto/certs/server.key (sensitive)']);
  });

  it('chooses firewalld by default: exact firewall-cmd commands for 8883, 9234 (from Prometheus), 1884 (from the LB), SSH kept open', async () => {
    const planned = await planAll(fx, await phaseSteps(fx, fx.plays.brokers, 'mq3', 'configure'), 'mq3', 'mq3-configure.facts');
    const fw = planned.filter((p) => p.role === 'firewall');
    expect(fw[0]!.plan).toEqual({ changes: [] }); // firewalld enabled and running already
    expect(summaries(fw[1]!.plan)).toEqual([
      'firewalld zone public: allow 22/tcp, 8883/tcp, 9234/tcp from 10.0.0.0/8, 1884/tcp from 10.77.1.20; remove service cockpit, service ssh; target DROP (was default)',
      'reload firewalld',
    ]);
    expect(scripts(fw[1]!.plan)).toEqual([
      [
        'set -e',
        'firewall-cmd --permanent --zone=public --add-port=22/tcp >/dev/null',
        'firewall-cmd --permanent --zone=public --add-port=8883/tcp >/dev/null',
        `firewall-cmd --permanent --zone=public --add-rich-rule='rule family="ipv4" source address="10.0.0.0/8" port port="9234" protocol="tcp" accept' >/dev/null`,
        `firewall-cmd --permanent --zone=public --add-rich-rule='rule family="ipv4" source address="10.77.1.20" port port="1884" protocol="tcp" accept' >/dev/null`,
        'firewall-cmd --permanent --zone=public --remove-service=cockpit >/dev/null',
        'firewall-cmd --permanent --zone=public --remove-service=ssh >/dev/null',
        'firewall-cmd --permanent --zone=public --set-target=DROP >/dev/null',
      ].join('\n'),
      'firewall-cmd --reload >/dev/null',
    ]);
    expect(JSON.stringify(fw.map((p) => scripts(p.plan)))).not.toMatch(/\bnft\b|ufw/);
  });

  it('opens 9234 to everyone when prometheus_cidr is empty', async () => {
    const saved = fx.inventory.hosts.get('mq3')!.vars.prometheus_cidr;
    fx.inventory.hosts.get('mq3')!.vars.prometheus_cidr = [];
    try {
      const steps = (await phaseSteps(fx, fx.plays.brokers, 'mq3', 'configure')).filter((s) => s.step.name === 'firewall (firewalld)');
      const [fw] = await planAll(fx, steps, 'mq3', 'mq3-configure.facts');
      expect(scripts(fw!.plan)[0]).toContain('firewall-cmd --permanent --zone=public --add-port=9234/tcp >/dev/null');
    } finally {
      fx.inventory.hosts.get('mq3')!.vars.prometheus_cidr = saved;
    }
  });

  it('always allows the SSH port this run connects to (2222), never the default 22 instead', async () => {
    const steps = (await phaseSteps(fx, fx.plays.brokers, 'mq3', 'configure', { sshPort: 2222 })).filter((s) => s.role === 'firewall');
    const [, fw] = await planAll(fx, steps, 'mq3', 'mq3-configure.facts', { sshPort: 2222 });
    const [script] = scripts(fw!.plan);
    expect(script!.split('\n')[1]).toBe('firewall-cmd --permanent --zone=public --add-port=2222/tcp >/dev/null');
    expect(script).not.toContain('--add-port=22/tcp');
  });

  it('installs the exporter unit with a daemon-reload and a 0600 credentials file', async () => {
    const planned = await planAll(fx, await phaseSteps(fx, fx.plays.brokers, 'mq3', 'configure'), 'mq3', 'mq3-configure.facts');
    const byName = new Map(planned.map((p) => [p.name, p]));
    expect(scripts(byName.get('directory /etc/mosquitto-exporter')!.plan)).toEqual([
      'mkdir -p -- /etc/mosquitto-exporter\nchown root:root -- /etc/mosquitto-exporter\nchmod 0755 -- /etc/mosquitto-exporter',
    ]);
    const env = scripts(byName.get('exporter credentials (environment file)')!.plan);
    expect(writtenContent(env[0]!)).toBe(
      `BROKER_ENDPOINT=tcp://127.0.0.1:1883\nBIND_ADDRESS=10.77.1.12:9234\nMQTT_USER=provision-exporter\nMQTT_PASS=${PASSWORDS.exporter_password}\nMQTT_CLIENT_ID=exporter-mq3\n`,
    );
    expect(writeSkeleton(env[0]!)).toContain('chown root:root "$t"\nchmod 0600 "$t"');
    const unit = scripts(byName.get('systemd unit mosquitto-exporter.service')!.plan);
    expect(unit).toHaveLength(2);
    expect(writtenContent(unit[0]!)).toContain('ExecStart=/usr/local/bin/mosquitto_exporter\n');
    expect(unit[1]).toBe('systemctl daemon-reload');
  });
});

describe('Rocky broker, runtime phase', () => {
  it('enables and starts mosquitto and the exporter with systemctl; the dynsec reconcile talks to the broker, not to facts', async () => {
    const steps = await phaseSteps(fx, fx.plays.brokers, 'mq3', 'runtime');
    expect(steps.map((s) => [s.role, s.step.name])).toEqual([
      ['mosquitto_runtime', 'service mosquitto enabled, started'],
      ['mosquitto_runtime', 'apply a configuration the running broker has not loaded yet'],
      ['mosquitto_runtime', 'load certificates the running broker has not loaded yet'],
      ['mqtt_auth', 'users, roles and ACLs (dynamic security)'],
      ['exporter', 'service mosquitto-exporter enabled, started'],
    ]);
    const offline = steps.filter((s) => s.role !== 'mqtt_auth');
    const planned = await planAll(fx, offline, 'mq3', 'mq3-runtime.facts');
    expect(planned.map((p) => [p.name, scripts(p.plan)])).toEqual([
      ['service mosquitto enabled, started', ['systemctl enable mosquitto.service', 'systemctl start mosquitto.service']],
      ['apply a configuration the running broker has not loaded yet', []],
      ['load certificates the running broker has not loaded yet', []],
      ['service mosquitto-exporter enabled, started', ['systemctl enable mosquitto-exporter.service', 'systemctl start mosquitto-exporter.service']],
    ]);
  });
});

describe('Rocky load balancer', () => {
  it('build: base as on the brokers, then haproxy and socat with dnf', async () => {
    const planned = await planAll(fx, await phaseSteps(fx, fx.plays.loadbalancers, 'lb3', 'build'), 'lb3', 'lb3-build.facts');
    expect(planned.map((p) => [p.role, p.name, scripts(p.plan)])).toEqual([
      ['base', 'package lists refreshed', ['dnf -q -y makecache --refresh']],
      ['base', 'EPEL repository', ['dnf -q -y install epel-release']],
      ['base', 'base tools', ['dnf -q -y install policycoreutils-python-utils']],
      ['haproxy', 'load balancer packages', ['dnf -q -y install haproxy socat']],
      ['firewall', 'firewall tooling', []],
    ]);
  });

  it('configure: SELinux lets the confined haproxy_t bind 8883 and 8404 and reach the brokers, before haproxy.cfg is written', async () => {
    const planned = await planAll(fx, await phaseSteps(fx, fx.plays.loadbalancers, 'lb3', 'configure'), 'lb3', 'lb3-configure.facts');
    expect(planned.slice(0, 3).map((p) => [p.name, scripts(p.plan)])).toEqual([
      ['SELinux port 8883/tcp as http_port_t', ['semanage port -a -t http_port_t -p tcp 8883']],
      ['SELinux port 8404/tcp as http_port_t', ['semanage port -a -t http_port_t -p tcp 8404']],
      ['SELinux: haproxy may connect to the brokers', ['setsebool -P haproxy_connect_any 1']],
    ]);
    const names = planned.map((p) => p.name);
    expect(names.indexOf('SELinux port 8883/tcp as http_port_t')).toBeLessThan(names.indexOf('haproxy.cfg'));
  });

  it('configure: firewalld allows 8883 to everyone and 8404 from Prometheus only; no peers port with a single load balancer', async () => {
    const planned = await planAll(fx, await phaseSteps(fx, fx.plays.loadbalancers, 'lb3', 'configure'), 'lb3', 'lb3-configure.facts');
    const fw = planned.find((p) => p.name === 'firewall (firewalld)')!;
    expect(scripts(fw.plan)).toEqual([
      [
        'set -e',
        'firewall-cmd --permanent --zone=public --add-port=22/tcp >/dev/null',
        'firewall-cmd --permanent --zone=public --add-port=8883/tcp >/dev/null',
        `firewall-cmd --permanent --zone=public --add-rich-rule='rule family="ipv4" source address="10.0.0.0/8" port port="8404" protocol="tcp" accept' >/dev/null`,
        'firewall-cmd --permanent --zone=public --remove-service=cockpit >/dev/null',
        'firewall-cmd --permanent --zone=public --remove-service=ssh >/dev/null',
        'firewall-cmd --permanent --zone=public --set-target=DROP >/dev/null',
      ].join('\n'),
      'firewall-cmd --reload >/dev/null',
    ]);
  });

  it('haproxy.cfg keeps its admin socket in a directory that exists on Rocky (RHEL haproxy.service has no RuntimeDirectory=haproxy)', async () => {
    // The renderer's runtime defaults are Debian's (src/haproxy/config.ts): /run/haproxy/admin.sock, which Debian's
    // unit creates. Rocky 9's haproxy package ships no /run/haproxy (its own config uses /var/lib/haproxy/stats):
    // haproxy would fail to bind the socket and not start, unless a step provides the directory.
    const planned = await planAll(fx, await phaseSteps(fx, fx.plays.loadbalancers, 'lb3', 'configure'), 'lb3', 'lb3-configure.facts');
    const cfg = writtenContent(scripts(planned.find((p) => p.name === 'haproxy.cfg')!.plan)[0]!);
    const socketDir = dirname(/^\s*stats socket (\S+)/m.exec(cfg)![1]!);
    const provided =
      socketDir === '/var/lib/haproxy' ||
      planned.some((p) => 'changes' in p.plan && scripts(p.plan).some((s) => s.includes(`RuntimeDirectory=${socketDir.replace('/run/', '')}`) || s.includes(`mkdir -p -- ${socketDir}`) || writtenMentions(s, socketDir)));
    expect(provided, `stats socket in ${socketDir}, which nothing planned for lb3 creates`).toBe(true);
  });
});

/** A file write whose content is a tmpfiles.d/systemd line creating `dir`. */
function writtenMentions(script: string, dir: string): boolean {
  try {
    const content = writtenContent(script);
    return new RegExp(`^d\\s+${dir.replace(/[/.]/g, '\\$&')}\\s`, 'm').test(content) || content.includes(`RuntimeDirectory=${dir.replace('/run/', '')}`);
  } catch {
    return false;
  }
}

describe('--diff of haproxy.cfg (it holds the health-check password)', () => {
  it('shows the changed lines and masks only the health check\'s CONNECT line, old and new, without the password or its hex', async () => {
    // Before: the whole file was "sensitive" and --diff said only "(sensitive content changed)".
    const steps = await phaseSteps(fx, fx.plays.loadbalancers, 'lb3', 'configure');
    const step = steps.find((s) => s.step.name === 'haproxy.cfg')!.step;
    const fresh = await planWithRecordedFacts(step, fx.facts.get('lb3')!, recordedFor(step, loadRecordings(fx, 'lb3-configure.facts')), { hostName: 'lb3' });
    const cfg = writtenContent(scripts(fresh)[0]!);
    const oldHex = Buffer.from('Old-health-pw').toString('hex');
    // The file on the host: an older version with another broker address and the health check of an old password.
    const old = cfg
      .replace('10.77.1.12', '10.77.1.99')
      .replace(/^(\s*tcp-check send-binary )10[0-9a-f]*$/m, (_l, head: string) => `${head}101f00044d5154540${oldHex}`);
    const size = Buffer.byteLength(old);
    const recorded = { [step.facts![0]!.key]: { stdout: `stat regular file|0|0|root|haproxy|640|${size}\nsha256 ${'0'.repeat(64)}\ncontent ${Buffer.from(old).toString('base64')}\n` } };
    const plan = await planWithRecordedFacts(step, fx.facts.get('lb3')!, recorded, { hostName: 'lb3', diff: true });
    const diff = changesOf(plan)[0]!.diff!;
    expect(diff).not.toBe('(sensitive content changed)');
    expect(diff).toMatch(/^-\s+server mq3 10\.77\.1\.99:/m);
    expect(diff).toMatch(/^\+\s+server mq3 10\.77\.1\.12:/m);
    const secretLines = diff.split('\n').filter((l) => /tcp-check send-binary 10/.test(l) || /tcp-check send-binary \*/.test(l));
    expect(secretLines.length).toBeGreaterThan(0);
    for (const l of secretLines) expect(l).toMatch(/^[ +-]\s*tcp-check send-binary \*{8}$/);
    expect(diff).toMatch(/tcp-check send-binary e000/); // the DISCONNECT bytes hold nothing secret
    for (const s of [PASSWORDS.mqtt_health_password, Buffer.from(PASSWORDS.mqtt_health_password).toString('hex'), 'Old-health-pw', oldHex]) expect(diff).not.toContain(s);
  });
});
