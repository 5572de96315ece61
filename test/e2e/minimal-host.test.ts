// Minimal Debian 12 hosts (installed without netbase: no /etc/protocols, no /etc/services, as minbase and slim
// images are) become a broker behind a load balancer with the real CLI: the broker with the default nftables
// backend, the load balancer with firewalld. Then the one TLS policy is checked with the real OpenSSL client on
// both (the broker's mosquitto and the load balancer's HAProxy).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostShell, sandboxDown, sandboxUp, type Sandbox } from '../../src/sandbox/index.js';
import { eventually, probeTcp } from '../support/broker-checks.js';
import { changedCount, provision, type CliResult } from '../support/cli.js';
import { makeExporterGitRepo } from '../support/exporter-fixture.js';
import { CBC_ONLY_OFFER, tlsProbe } from '../support/tls-probe.js';

const NAME = 'd-minimal';
const HOSTS = ['mq1', 'lb1'];
let sb: Sandbox;
let dir: string;
let inventory: string;
let first: CliResult;
const timings: Array<[string, number]> = [];

const sh = async (host: string, cmd: string): Promise<string> => (await hostShell(NAME, host, cmd, { timeoutMs: 120_000 })).stdout.trim();
const address = (host: string): string => sb.hosts.find((h) => h.name === host)!.address;
const out = (r: CliResult): string => `exit ${r.code}\n${r.stdout.slice(-6000)}\n${r.stderr.slice(-3000)}`;

async function timed<T>(what: string, f: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await f();
  } finally {
    timings.push([what, Date.now() - started]);
  }
}

const run = (name: string): Promise<CliResult> =>
  timed(`provision ${name}`, () => provision(['-i', inventory, '-i', sb.inventoryPath], { json: join(dir, `${name}.json`), env: { APP_PW: 'App-Pa55-word' } }));

/** A listener on 0.0.0.0:9000 inside the host: reachable there, so only the firewall can keep it from outside. */
async function firewalledListener(host: string): Promise<string> {
  const a = address(host);
  await sh(host, 'systemctl stop d-listener 2>/dev/null; systemd-run --quiet --collect --unit=d-listener python3 -m http.server 9000 --bind 0.0.0.0');
  try {
    await eventually(`listener on ${host}:9000`, async () => (await sh(host, `timeout 2 bash -c '</dev/tcp/${a}/9000' && echo open`)) === 'open', 15_000);
    return await probeTcp(a, 9000, 3000);
  } finally {
    await sh(host, 'systemctl stop d-listener');
  }
}

describe('minimal Debian 12 hosts without netbase: firewall backends and the TLS policy', () => {
  beforeAll(async () => {
    await sandboxDown({ name: NAME });
    sb = await timed('sandbox up', () => sandboxUp({ name: NAME, count: HOSTS.length, names: HOSTS }));
    dir = join(sb.stateDir, 'minimal');
    mkdirSync(dir, { recursive: true });
    // The hosts as minimal installs are: netbase purged, so neither database exists.
    for (const h of HOSTS) await sh(h, 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -q netbase >/dev/null 2>&1; rm -f /etc/protocols /etc/services');
    const exporter = await makeExporterGitRepo(join(dir, 'exporter-src'));
    inventory = join(dir, 'hosts.yaml');
    writeFileSync(
      inventory,
      `all:
  vars:
    exporter_repo_url: ${exporter.url}
    exporter_ref: ${exporter.ref}
    mqtt_roles:
      - rolename: app
        acls:
          - { acltype: publishClientSend, topic: "app/#" }
    mqtt_users:
      - username: app
        password: "{{ lookup('env', 'APP_PW') }}"
        roles: [app]
  children:
    brokers:
      hosts:
        mq1: {}
    loadbalancers:
      hosts:
        lb1: { firewall_backend: firewalld }
`,
    );
    first = await run('first');
  }, 900_000);

  afterAll(async () => {
    await sandboxDown({ name: NAME });
    process.stdout.write(`\nminimal-host e2e timings:\n${timings.map(([w, ms]) => `  ${(ms / 1000).toFixed(1).padStart(6)} s  ${w}`).join('\n')}\n`);
  });

  it('the hosts really lack the databases before the run', async () => {
    // Recorded by the run's own facts would be too late: check the broker now (nothing of ours installs netbase there).
    expect(await sh('mq1', 'test -e /etc/protocols || test -e /etc/services || echo absent; dpkg-query -W -f=\'${Status}\' netbase 2>/dev/null | grep -c "install ok installed" || true')).toBe('absent\n0');
  });

  it('provision exits 0; the broker loads our nftables table without /etc/protocols; 8883 answers, other ports do not', async () => {
    expect(first.code, out(first)).toBe(0);
    expect(first.report?.hosts.map((h) => [h.host, h.state])).toEqual([
      ['mq1', 'ok'],
      ['lb1', 'ok'],
    ]);
    const table = await sh('mq1', 'nft list table inet provision');
    expect(table).toMatch(/policy drop;/);
    expect(table).toMatch(/tcp dport 8883 accept/);
    expect(table).toMatch(/ip saddr \S+ tcp dport 1884 accept/); // MQTT from the load balancer only
    expect(table).toMatch(/meta l4proto (58|ipv6-icmp|icmpv6) accept/);
    // nft -c of the installed file still passes on the host, which still has no /etc/protocols.
    expect(await sh('mq1', 'test -e /etc/protocols && echo present; nft -c -f /etc/nftables.d/provision.nft && echo valid')).toBe('valid');

    const mq = address('mq1');
    expect(await probeTcp(mq, 8883)).toBe('open');
    expect(await probeTcp(mq, 22)).toBe('open');
    expect(['timeout', 'refused']).toContain(await probeTcp(mq, 1884)); // from here (not a load balancer)
    expect(['timeout', 'refused']).toContain(await probeTcp(mq, 3306));
    expect(await firewalledListener('mq1')).toBe('timeout');
  });

  it('the load balancer runs firewalld with netbase installed alongside (firewalld resolves "tcp" through /etc/protocols)', async () => {
    expect(await sh('lb1', 'test -s /etc/protocols && echo present')).toBe('present');
    expect(await sh('lb1', 'firewall-cmd --state')).toBe('running');
    expect((await sh('lb1', 'firewall-cmd --list-ports')).split(/\s+/)).toContain('8883/tcp');
    const lb = address('lb1');
    expect(await probeTcp(lb, 8883)).toBe('open');
    expect(['timeout', 'refused']).toContain(await probeTcp(lb, 3306));
    expect(await firewalledListener('lb1')).toBe('timeout');
  });

  it('one TLS policy on the broker and the load balancer: AEAD accepted, a CBC-only offer, TLS 1.1 and TLS 1.0 refused', async () => {
    for (const h of HOSTS) {
      const at = { servername: h };
      const gcm = await tlsProbe(address(h), 8883, { ...at, version: '1_2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256' });
      expect(gcm.ok, gcm.output).toBe(true);
      expect(gcm.protocol).toBe('TLSv1.2');
      expect(gcm.cipher).toMatch(/^ECDHE-(ECDSA|RSA)-AES128-GCM-SHA256$/);
      const v13 = await tlsProbe(address(h), 8883, { ...at, version: '1_3' });
      expect(v13.ok, v13.output).toBe(true);
      expect(v13.protocol).toBe('TLSv1.3');
      for (const [what, probe] of [
        ['CBC-only offer', await tlsProbe(address(h), 8883, { ...at, version: '1_2', ciphers: CBC_ONLY_OFFER })],
        ['TLS 1.1', await tlsProbe(address(h), 8883, { ...at, version: '1_1' })],
        ['TLS 1.0', await tlsProbe(address(h), 8883, { ...at, version: '1' })],
      ] as const) {
        expect(probe.ok, `${h} ${what}:\n${probe.output}`).toBe(false);
        expect(probe.output, `${h} ${what}`).toMatch(/alert|handshake failure|no cipher|wrong version/i);
      }
    }
  });

  it('a second run on the minimal hosts changes nothing', async () => {
    const second = await run('second');
    expect(second.code, out(second)).toBe(0);
    expect(changedCount(second.report!), out(second)).toBe(0);
  });
});
