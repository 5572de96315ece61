/**
 * The records of a first run of playbooks/site.yaml on bare hosts: 3 brokers (mq1..mq3) and a load balancer (lb1),
 * as a real run records them (steps, change summaries and order taken from a captured `--json` of the broker e2e
 * test and the cluster test's load balancer). For output tests: the recap must fit one screen.
 */
import type { RunReport, StepRecord } from '../../src/engine/records.js';
import { summarize } from '../../src/engine/records.js';

type Row = [phase: StepRecord['phase'], role: string, step: string, changes: string[], extra?: Partial<StepRecord>];

const FIREWALL = (allow: string) => [`create /etc/nftables.d/provision.nft (allow ${allow})`, 'include /etc/nftables.d/provision.nft from /etc/nftables.conf (loaded at boot)', 'load table inet provision (rules changed)', 'enable nftables at boot'];

function broker(host: string, first: boolean): Row[] {
  return [
    ['build', 'base', 'package lists refreshed', ['refresh package lists (never refreshed)']],
    ['build', 'base', 'base tools', []],
    ['build', 'mosquitto', 'mosquitto', ['install mosquitto, mosquitto-clients']],
    ['build', 'firewall', 'firewall tooling', []],
    ['build', 'exporter', 'user exporter', ['create system user exporter']],
    ['build', 'exporter', 'exporter binary', ['copy /root/.cache/provision/exporter/bin/mosquitto_exporter-732384bb7747a5885d42e9129a3246cd2bd9085a-amd64 → /usr/local/bin/mosquitto_exporter (9674752 bytes)']],
    ['configure', 'pki', 'CA and server certificate (controller)', [`${first ? 'create CA, ' : ''}issue certificate for ${host} (no certificate yet) in /srv/inventory/pki`]],
    ['configure', 'pki', 'directory /etc/mosquitto/certs', ['set owner root:mosquitto, mode 0750 on /etc/mosquitto/certs']],
    ['configure', 'pki', 'CA certificate', ['create /etc/mosquitto/certs/ca.crt']],
    ['configure', 'pki', 'server certificate', ['create /etc/mosquitto/certs/server.crt']],
    ['configure', 'pki', 'server key', ['create /etc/mosquitto/certs/server.key (sensitive)']],
    ['configure', 'mosquitto_config', 'directory /var/lib/mosquitto', ['set owner mosquitto:mosquitto, mode 0750 on /var/lib/mosquitto']],
    ['configure', 'mosquitto_config', 'dynamic-security store with the admin account', ['run dynamic-security store with the admin account']],
    ['configure', 'mosquitto_config', 'mosquitto.conf', ['update /etc/mosquitto/mosquitto.conf']],
    ['configure', 'firewall', 'firewall (nftables)', FIREWALL('22/tcp, 8883/tcp, 9234/tcp, 1884/tcp from 10.77.0.14')],
    ['configure', 'exporter', 'directory /etc/mosquitto-exporter', ['create directory /etc/mosquitto-exporter']],
    ['configure', 'exporter', 'exporter credentials (environment file)', ['create /etc/mosquitto-exporter/env (sensitive)']],
    ['configure', 'exporter', 'systemd unit mosquitto-exporter.service', ['create /etc/systemd/system/mosquitto-exporter.service']],
    ['configure', 'mosquitto_config', 'restart mosquitto and check it serves TLS logins', ['restart mosquitto'], { kind: 'handler' }],
    ['runtime', 'mosquitto_runtime', 'service mosquitto enabled, started', []],
    ['runtime', 'mqtt_auth', 'users, roles and ACLs (dynamic security)', ["4 change(s) to your users, roles and groups: create role sensors with 2 ACLs; create client sensor-1 with roles sensors; create role dashboards with 1 ACL; create client grafana with roles dashboards; plus 5 change(s) to provision's own accounts"]],
    ['runtime', 'exporter', 'service mosquitto-exporter enabled, started', ['enable mosquitto-exporter', 'start mosquitto-exporter']],
    ['runtime', 'exporter', 'restart the exporter if it runs an older binary or configuration', [], { kind: 'handler', message: 'already started on the current binary and configuration' }],
    ['cluster', 'mqtt_auth', 'users, roles and ACLs (dynamic security)', []],
    first
      ? ['cluster', 'observability', 'Prometheus scrape config (controller)', ['create /srv/inventory/prometheus/provision.yml on the controller (3 broker(s), 1 load balancer(s))']]
      : ['cluster', 'observability', 'Prometheus scrape config (controller)', [], { status: 'skipped', message: 'ran once on mq1' }],
  ];
}

const LOAD_BALANCER: Row[] = [
  ['build', 'base', 'package lists refreshed', ['refresh package lists (never refreshed)']],
  ['build', 'base', 'base tools', []],
  ['build', 'haproxy', 'load balancer packages', ['install haproxy, socat']],
  ['build', 'firewall', 'firewall tooling', []],
  ['configure', 'haproxy', 'directory /etc/haproxy/certs', ['create directory /etc/haproxy/certs']],
  ['configure', 'haproxy', 'TLS certificate and key for clients', ['create /etc/haproxy/certs/mqtt.pem (sensitive)']],
  ['configure', 'haproxy', 'haproxy.cfg', ['create /etc/haproxy/haproxy.cfg']],
  ['configure', 'firewall', 'firewall (nftables)', FIREWALL('22/tcp, 8883/tcp, 8404/tcp')],
  ['configure', 'haproxy', 'service haproxy reloaded', ['reload haproxy'], { kind: 'handler' }],
  ['runtime', 'haproxy', 'service haproxy enabled, started', []],
];

function records(host: string, rows: Row[], play: string): StepRecord[] {
  return rows.map(([phase, role, step, changes, extra]) => {
    const status = extra?.status ?? (changes.length ? 'changed' : 'ok');
    return { host, play, phase, role, step, status, changed: status === 'changed', durationMs: 100, ...(changes.length ? { changes } : {}), ...extra };
  });
}

export function firstRunReport(o: { check?: boolean } = {}): RunReport {
  const steps = [
    ...['mq1', 'mq2', 'mq3'].flatMap((h, i) => records(h, broker(h, i === 0), 'brokers')),
    ...records('lb1', LOAD_BALANCER, 'load balancers'),
  ];
  const hosts = ['mq1', 'mq2', 'mq3', 'lb1'];
  return {
    version: 'test',
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 74_200,
    check: o.check ?? false,
    phases: ['build', 'configure', 'runtime', 'cluster'],
    hosts: hosts.map((h) => summarize(h, steps, 40, 'ok')),
    steps,
  };
}
