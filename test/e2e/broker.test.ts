// The issue's "done when", end to end: three fresh Debian 12 sandbox hosts become secured Mosquitto brokers with
// the real playbook and CLI, and everything is checked from outside the hosts (this machine) the way clients and
// Prometheus see them, plus on the hosts themselves for the old Ansible playbook's flaws.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport, StepRecord } from '../../src/engine/records.js';
import { hostShell, rebootHost, sandboxDown, sandboxUp, type Sandbox } from '../../src/sandbox/index.js';
import {
  eventually,
  metrics,
  metricValue,
  privateKeyIds,
  probeTcp,
  sampleWhile,
  tlsPublishSubscribe,
  tryLogin,
  type TlsTarget,
} from '../support/broker-checks.js';
import { changedCount, provision, type CliResult } from '../support/cli.js';
import { makeExporterGitRepo } from '../support/exporter-fixture.js';

const SANDBOX = 'e2e-broker';
const HOSTS = ['mq1', 'mq2', 'mq3'];
const USER = 'e2e-user';
const BROKER_ROLES = ['base', 'mosquitto', 'pki', 'mosquitto_config', 'firewall', 'mosquitto_runtime', 'mqtt_auth', 'exporter'];
/** Ports nothing outside may reach: the local plain listener, the LB listener (no LBs here), and random others. */
const CLOSED_PORTS = [1883, 1884, 9000, 8080, 3306];
const OPEN_PORTS = [22, 8883, 9234];

let sb: Sandbox;
let work: string;
let inventory: string;
let ca: Buffer;
let userPassword = `first-${randomBytes(9).toString('base64url')}`;
const oldUserPasswords: string[] = [];
let cold: CliResult;
let coldPs: string[] = [];
let second: CliResult | undefined;
const timings: Array<[string, number]> = [];

const sh = async (host: string, cmd: string, timeoutMs = 60_000): Promise<string> => (await hostShell(SANDBOX, host, cmd, { timeoutMs })).stdout.trim();
const address = (host: string): string => sb.hosts.find((h) => h.name === host)!.address;
const target = (host: string): TlsTarget => ({ address: address(host), servername: host, ca });
const mainPid = (host: string, unit: string): Promise<string> => sh(host, `systemctl show -p MainPID --value ${unit}`);
const pids = async (unit: string): Promise<Record<string, string>> =>
  Object.fromEntries(await Promise.all(HOSTS.map(async (h) => [h, await mainPid(h, unit)] as const)));
const confSha = async (): Promise<Record<string, string>> =>
  Object.fromEntries(await Promise.all(HOSTS.map(async (h) => [h, (await sh(h, 'sha256sum /etc/mosquitto/mosquitto.conf')).split(' ')[0]!] as const)));

/** The real CLI with this test's inventory FIRST (secrets/ and pki/ live beside it), then the sandbox's. */
async function run(name: string, extra: string[] = [], o: { env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const started = Date.now();
  const r = await provision(['-i', inventory, '-i', sb.inventoryPath, ...extra], { json: join(work, `${name}.json`), env: { E2E_USER_PW: userPassword, ...o.env } });
  timings.push([`provision ${name}`, Date.now() - started]);
  return r;
}

const out = (r: CliResult): string => `exit ${r.code}\n${r.stdout.slice(-6000)}\n${r.stderr.slice(-3000)}`;
const report = (r: CliResult): RunReport => {
  if (!r.report) throw new Error(`no --json report: ${out(r)}`);
  return r.report;
};
const failedSteps = (r: RunReport): StepRecord[] => r.steps.filter((s) => s.status === 'failed');

/** Every secret this run knows: generated ones beside the inventory, and the users' passwords (current and old). */
function secrets(): string[] {
  const dir = join(work, 'secrets');
  const generated = existsSync(dir) ? readdirSync(dir).filter((f) => !f.endsWith('.tmp')).map((f) => readFileSync(join(dir, f), 'utf8').trim()) : [];
  return [...generated, userPassword, ...oldUserPasswords].filter((s) => s.length >= 8);
}

/** `ps -eo args` on every host, concatenated (one sample). */
const psAll = async (): Promise<string> => (await Promise.all(HOSTS.map((h) => sh(h, 'ps -eo args', 10_000)))).join('\n');

function leakedIn(samples: string[], values: string[]): string[] {
  const leaks: string[] = [];
  for (const s of samples) for (const v of values) if (s.includes(v)) leaks.push(s.split('\n').find((l) => l.includes(v))!.replace(v, '<SECRET>'));
  return leaks;
}

function timed<T>(what: string, f: () => Promise<T>): Promise<T> {
  const started = Date.now();
  return f().finally(() => timings.push([what, Date.now() - started]));
}

describe('secured Mosquitto brokers on 3 fresh Debian 12 hosts', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'provision-e2e-broker-'));
    // Fresh hosts: a sandbox left over by an interrupted run is removed first.
    await timed('sandbox down (leftovers)', () => sandboxDown({ name: SANDBOX }));
    sb = await timed('sandbox up', () => sandboxUp({ name: SANDBOX, count: HOSTS.length, prefix: 'mq' }));
    // GitHub is unreachable: the exporter is built from the bundled fixture, a local git repository tagged v0.8.0.
    const exporter = await makeExporterGitRepo(join(work, 'exporter-src'));
    inventory = join(work, 'brokers.yaml');
    writeFileSync(
      inventory,
      `# e2e: three brokers, TLS only from outside, one declared user
all:
  vars:
    sys_interval: 1
    exporter_repo_url: ${exporter.url}
    exporter_ref: ${exporter.ref}
    mqtt_roles:
      - rolename: e2e
        acls:
          - { acltype: publishClientSend, topic: "e2e/#" }
          - { acltype: publishClientReceive, topic: "e2e/#" }
          - { acltype: subscribePattern, topic: "e2e/#" }
    mqtt_users:
      - username: ${USER}
        password: "{{ lookup('env', 'E2E_USER_PW') }}"
        roles: [e2e]
  children:
    brokers:
      hosts:
${HOSTS.map((h) => `        ${h}: {}`).join('\n')}
`,
    );
    // The cold run, from bare hosts; meanwhile every host's process list is sampled (secrets must never show).
    const running = run('cold');
    coldPs = await sampleWhile(running, psAll, 200);
    cold = await running;
    const caPath = join(work, 'pki', 'ca.crt');
    ca = existsSync(caPath) ? readFileSync(caPath) : Buffer.alloc(0); // a failed cold run is reported by test 1
  }, 600_000);

  afterAll(async () => {
    await timed('sandbox down', () => sandboxDown({ name: SANDBOX }));
    process.stdout.write(`\nbroker e2e (inventory, secrets, pki and --json reports in ${work}) timings:\n${timings.map(([w, ms]) => `  ${(ms / 1000).toFixed(1).padStart(6)} s  ${w}`).join('\n')}\n`);
  });

  it('1. provision from bare hosts exits 0; TLS pub/sub with the CA and a declared user on every broker, the certificate verifies for the host name; anonymous/wrong passwords refused; only 22/8883/9234 reachable; /metrics counts messages', async () => {
    expect(cold.code, out(cold)).toBe(0);
    expect(report(cold).hosts.map((h) => [h.host, h.state])).toEqual(HOSTS.map((h) => [h, 'ok']));

    for (const h of HOSTS) {
      const before = await metrics(address(h));
      expect(before, `${h} /metrics`).toMatch(/^broker_uptime\s+\d/m);
      const counter = metricValue(before, 'broker_publish_messages_received') !== undefined ? 'broker_publish_messages_received' : 'broker_messages_received';
      const n0 = metricValue(before, counter);
      expect(n0, `${h}: ${counter} in /metrics`).toBeTypeOf('number');

      // Publish/subscribe from this machine: TLS to the IP, certificate checked for the host name.
      const got = await tlsPublishSubscribe(target(h), { username: USER, password: userPassword }, { topic: `e2e/${h}/hello`, count: 5 });
      expect(got, h).toEqual(['msg-0', 'msg-1', 'msg-2', 'msg-3', 'msg-4']);

      // The message counter goes up (sys_interval 1: $SYS is republished every second, the exporter follows).
      const n1 = await eventually(`${h}: ${counter} rises by 5`, async () => {
        const v = metricValue(await metrics(address(h)), counter);
        return v !== undefined && v >= n0! + 5 ? v : undefined;
      }, 20_000);
      expect(n1).toBeGreaterThanOrEqual(n0! + 5);

      // The certificate is this host's: the same connection checked for another name fails.
      const other = HOSTS.find((x) => x !== h)!;
      const wrongName = await tryLogin({ ...target(h), servername: other }, { username: USER, password: userPassword });
      expect(wrongName.ok, `${h} must not verify as ${other}`).toBe(false);
      if (!wrongName.ok) expect(wrongName.message).toMatch(/altnames|certificate/i);

      // Anonymous and wrong passwords are refused with CONNACK 5 (not authorized).
      for (const [what, login] of [
        ['anonymous', {}],
        ['wrong password', { username: USER, password: `${userPassword}-wrong` }],
        ['unknown user', { username: 'nobody-here', password: userPassword }],
      ] as const) {
        const r = await tryLogin(target(h), login);
        expect(r.ok, `${h} ${what}`).toBe(false);
        if (!r.ok) {
          expect(r.message, `${h} ${what}`).toMatch(/Not authorized/i);
          expect(r.code, `${h} ${what}`).toBe(5);
        }
      }
    }

    // From outside: 22, 8883, 9234 answer; 1883 (bound to loopback), 1884 and others time out or are refused.
    const probes = await Promise.all(
      HOSTS.flatMap((h) => [...OPEN_PORTS, ...CLOSED_PORTS].map(async (p) => [`${h}:${p}`, await probeTcp(address(h), p)] as const)),
    );
    for (const [hp, state] of probes) {
      const port = Number(hp.split(':')[1]);
      if (OPEN_PORTS.includes(port)) expect(state, hp).toBe('open');
      else expect(['timeout', 'refused'], `${hp} answered: ${state}`).toContain(state);
    }

    // The firewall (not just the absence of listeners) keeps other ports closed: a service listening on
    // 0.0.0.0:9000 on mq1 answers on the host itself but not from outside.
    const a = address('mq1');
    await sh('mq1', 'systemctl stop e2e-listener 2>/dev/null; systemd-run --quiet --collect --unit=e2e-listener python3 -m http.server 9000 --bind 0.0.0.0');
    try {
      await eventually('listener on mq1:9000', async () => (await sh('mq1', `timeout 2 bash -c '</dev/tcp/${a}/9000' && echo open`)) === 'open', 15_000);
      expect(await probeTcp(a, 9000, 3000), 'mq1:9000 with a listener, from outside').toBe('timeout');
    } finally {
      await sh('mq1', 'systemctl stop e2e-listener');
    }
  });

  it('2. a second run reports 0 changed and restarts nothing (mosquitto and exporter PIDs unchanged)', async () => {
    const mosq = await pids('mosquitto');
    const exp = await pids('mosquitto-exporter');
    for (const h of HOSTS) expect(Number(mosq[h]), `${h} mosquitto MainPID`).toBeGreaterThan(0);
    second = await run('second');
    expect(second.code, out(second)).toBe(0);
    expect(changedCount(report(second)), report(second).steps.filter((s) => s.changed).map((s) => `${s.host} ${s.role}: ${s.step}`).join('\n')).toBe(0);
    expect(await pids('mosquitto')).toEqual(mosq);
    expect(await pids('mosquitto-exporter')).toEqual(exp);
  });

  it('3. after a reboot of one host, mosquitto and the exporter are active again (and it serves TLS, metrics, firewall)', async () => {
    const h = 'mq3';
    const before = await mainPid(h, 'mosquitto');
    await timed(`reboot ${h}`, () => rebootHost(SANDBOX, h));
    const states = await eventually(
      `${h}: services active after reboot`,
      async () => {
        const s = await sh(h, 'systemctl is-active mosquitto mosquitto-exporter');
        return s === 'active\nactive' ? s : undefined;
      },
      90_000,
    ).catch(async (e: Error) => `${e.message}\n${await sh(h, 'systemctl is-active mosquitto mosquitto-exporter; systemctl --failed --no-pager')}`);
    expect(states).toBe('active\nactive');
    expect(await mainPid(h, 'mosquitto')).not.toBe(before);
    expect((await tryLogin(target(h), { username: USER, password: userPassword })).ok).toBe(true);
    await eventually(`${h}: /metrics after reboot`, async () => /^broker_uptime\s/m.test(await metrics(address(h))), 30_000);
    expect(await sh(h, 'nft list table inet provision >/dev/null && echo loaded')).toBe('loaded');
    expect(await probeTcp(address(h), 1883)).not.toBe('open');
  });

  it('4. one changed variable: --check --diff shows it and touches nothing; --phase configure rewrites mosquitto.conf and restarts mosquitto only', async () => {
    const mosq = await pids('mosquitto');
    const exp = await pids('mosquitto-exporter');
    const sha = await confSha();

    const check = await run('check-keepalive', ['--check', '--diff', '--phase', 'configure', '-e', 'max_keepalive=120']);
    expect.soft(check.code, out(check)).toBe(0);
    expect.soft(check.stdout).toContain('+max_keepalive 120');
    const checkReport = report(check);
    expect.soft(checkReport.check).toBe(true);
    for (const h of HOSTS) {
      const conf = checkReport.steps.find((s) => s.host === h && s.step === 'mosquitto.conf');
      expect.soft(conf?.status, `${h} mosquitto.conf in check mode`).toBe('changed');
      expect.soft(conf?.diff ?? '', h).toContain('max_keepalive 120');
    }
    expect.soft(await confSha(), 'check mode changed mosquitto.conf').toEqual(sha);
    expect.soft(await pids('mosquitto'), 'check mode restarted mosquitto').toEqual(mosq);
    for (const h of HOSTS) expect.soft(await sh(h, 'grep -c "^max_keepalive 120" /etc/mosquitto/mosquitto.conf || true'), h).toBe('0');

    const apply = await run('apply-keepalive', ['--phase', 'configure', '-e', 'max_keepalive=120']);
    expect(apply.code, out(apply)).toBe(0);
    const r = report(apply);
    expect(r.phases).toEqual(['configure']);
    expect(r.steps.filter((s) => s.phase === 'build').map((s) => s.step), 'steps of the build phase').toEqual([]);
    const after = await confSha();
    const mosqAfter = await pids('mosquitto');
    for (const h of HOSTS) {
      expect(await sh(h, 'grep "^max_keepalive" /etc/mosquitto/mosquitto.conf'), h).toBe('max_keepalive 120');
      expect(after[h], `${h} mosquitto.conf rewritten`).not.toBe(sha[h]);
      expect(mosqAfter[h], `${h} mosquitto restarted`).not.toBe(mosq[h]);
      expect(r.steps.some((s) => s.host === h && s.step === 'mosquitto.conf' && s.status === 'changed'), h).toBe(true);
      expect(r.steps.filter((s) => s.host === h && s.changed && s.role.startsWith('exporter')).map((s) => s.step), `${h}: exporter steps changed`).toEqual([]);
    }
    expect(await pids('mosquitto-exporter'), 'exporter restarted').toEqual(exp);
  });

  let broken: CliResult | undefined;
  let brokenPidsBefore: Record<string, string> = {};
  let brokenPidsAfter: Record<string, string> = {};

  it('5. a broken config value fails the run (exit 2) with the broker\'s own error; the broker keeps serving on the old config; a normal run converges again', async () => {
    const sha = await confSha();
    brokenPidsBefore = await pids('mosquitto');
    broken = await run('broken', ['-e', '{"mosquitto_extra_config": ["this_is_not_an_option 1"]}']);
    brokenPidsAfter = await pids('mosquitto');
    expect.soft(broken.code, out(broken)).toBe(2);
    const failures = failedSteps(report(broken));
    expect.soft(failures.length, out(broken)).toBeGreaterThan(0);
    // The first failure is the broker refusing the configuration: its own words must be in the message.
    expect.soft(failures[0]?.message ?? '', 'failure message carries the broker\'s error').toMatch(/Unknown configuration variable "this_is_not_an_option"/);

    for (const h of HOSTS) {
      expect.soft(await sh(h, 'systemctl is-active mosquitto'), `${h} mosquitto after the failed run`).toBe('active');
      const login = await tryLogin(target(h), { username: USER, password: userPassword });
      expect.soft(login, `${h} TLS login after the failed run`).toEqual({ ok: true });
      expect.soft(await sh(h, 'grep -c this_is_not_an_option /etc/mosquitto/mosquitto.conf || true'), `${h}: broken option on disk`).toBe('0');
    }
    expect.soft(await confSha(), 'mosquitto.conf is the old one').toEqual(sha);

    const again = await run('converge-after-broken');
    expect(again.code, out(again)).toBe(0);
    for (const h of HOSTS) {
      expect(await sh(h, 'grep -c this_is_not_an_option /etc/mosquitto/mosquitto.conf || true'), h).toBe('0');
      expect(await sh(h, 'grep "^max_keepalive" /etc/mosquitto/mosquitto.conf'), h).toBe('max_keepalive 60');
      expect(await tryLogin(target(h), { username: USER, password: userPassword }), h).toEqual({ ok: true });
    }
  });

  it('5b. the rolling restart stops at the first broker that fails: the others are not restarted on the broken config', () => {
    expect(broken, 'test 5 ran').toBeDefined();
    const r = report(broken!);
    const restartFailures = failedSteps(r).filter((s) => /restart|configuration the running broker/.test(s.step));
    const restarted = restartFailures.map((s) => `${s.host} (${s.phase}, ${s.role}: ${s.step})`);
    expect(restarted.length, `brokers restarted on the broken configuration, each down until rolled back:\n  ${restarted.join('\n  ')}`).toBe(1);
    const failedHost = restartFailures[0]?.host;
    for (const h of HOSTS.filter((x) => x !== failedHost)) expect(brokenPidsAfter[h], `${h}: mosquitto restarted although the rollout had stopped at ${failedHost}`).toBe(brokenPidsBefore[h]);
  });

  describe('6. the old playbook\'s flaws are gone', () => {
    it('no full upgrade by default (base_upgrade off)', async () => {
      for (const r of [report(cold), ...(second ? [report(second)] : [])]) {
        const upgrades = r.steps.filter((s) => /upgrade/i.test(s.step) || (s.changes ?? []).some((c) => /upgrade/i.test(c)));
        expect(upgrades.filter((s) => s.changed).map((s) => `${s.host}: ${s.step}`)).toEqual([]);
        expect(r.steps.filter((s) => s.step === 'system upgraded').map((s) => s.host)).toEqual([]);
      }
      for (const h of HOSTS) {
        const cmds = await sh(h, "zcat -f /var/log/apt/history.log* 2>/dev/null | grep '^Commandline:' || true");
        expect(cmds, h).not.toMatch(/\b(upgrade|dist-upgrade|full-upgrade)\b/);
        expect(cmds, h).toMatch(/install .*mosquitto/);
      }
    });

    it('guarded commands and every role report nothing changed on a second run', () => {
      expect(second, 'test 2 ran').toBeDefined();
      const r = report(second!);
      for (const role of BROKER_ROLES) {
        const steps = r.steps.filter((s) => s.role === role);
        expect(steps.length, `${role} ran on the second run`).toBeGreaterThan(0);
        expect(steps.filter((s) => s.changed).map((s) => `${s.host} ${s.step}: ${(s.changes ?? []).join('; ')}`), role).toEqual([]);
      }
      for (const h of HOSTS) {
        const init = r.steps.find((s) => s.host === h && s.step === 'dynamic-security store with the admin account');
        expect(init?.status, `${h}: guarded dynsec init`).toBe('ok');
        expect(init?.message ?? '', h).toMatch(/not run/);
      }
      // ... and on the cold run it did run (the guard is not just always true).
      expect(report(cold).steps.filter((s) => s.step === 'dynamic-security store with the admin account' && s.changed).map((s) => s.host).sort()).toEqual(HOSTS);
    });

    it('exporter credentials only in /etc/mosquitto-exporter/env (root, 0600), not in the unit or elsewhere on the host', async () => {
      const exporterPassword = readFileSync(join(work, 'secrets', 'exporter_password'), 'utf8').trim();
      for (const h of HOSTS) {
        expect(await sh(h, 'stat -c "%U %G %a" /etc/mosquitto-exporter/env'), h).toBe('root root 600');
        const env = await sh(h, 'cat /etc/mosquitto-exporter/env');
        expect(env, h).toContain(`MQTT_PASS=${exporterPassword}`);
        const unit = await sh(h, 'systemctl cat mosquitto-exporter');
        expect(unit, h).toContain('EnvironmentFile=/etc/mosquitto-exporter/env');
        expect(unit.includes(exporterPassword), `${h}: password in the unit`).toBe(false);
        const files = await sh(h, `grep -rlF -- '${exporterPassword}' /etc /usr /var/lib /var/cache /root /home /tmp /opt /srv 2>/dev/null || true`);
        expect(files.split('\n').filter(Boolean), `${h}: files holding the exporter password`).toEqual(['/etc/mosquitto-exporter/env']);
      }
    });

    it('the CA key never reaches a host; on the controller it is 0600', async () => {
      const caKey = join(work, 'pki', 'ca.key');
      expect(statSync(caKey).mode & 0o777).toBe(0o600);
      const [caId] = privateKeyIds(readFileSync(caKey, 'utf8'));
      expect(caId, 'the CA key parses').toBeTruthy();
      for (const h of HOSTS) {
        expect(await sh(h, "find / \\( -path /proc -o -path /sys -o -path /dev \\) -prune -o -name 'ca.key' -print 2>/dev/null", 120_000), h).toBe('');
        // Whatever its name or encoding: no private key on the host is the CA's.
        const pems = await sh(h, "grep -rlIZ -- 'PRIVATE KEY-----' /etc /usr/local /var/lib /var/cache /root /home /tmp /opt /srv 2>/dev/null | xargs -0 -r cat", 120_000);
        const ids = privateKeyIds(pems);
        expect(ids.length, `${h}: private keys found (at least the server key)`).toBeGreaterThan(0);
        expect(ids.includes(caId!), `${h} holds the CA private key`).toBe(false);
      }
    });

    it('the server certificate has SANs, is valid now, is signed by the CA and is not the CA', async () => {
      const caSubject = (await sh('mq1', 'openssl x509 -noout -subject -in /etc/mosquitto/certs/ca.crt')).replace(/^subject=\s*/, '');
      for (const h of HOSTS) {
        expect(await sh(h, 'cat /etc/mosquitto/certs/ca.crt'), `${h}: CA on the host is the controller's`).toBe(ca.toString().trim());
        const text = await sh(h, 'openssl x509 -noout -text -in /etc/mosquitto/certs/server.crt');
        expect(text, h).toMatch(/X509v3 Subject Alternative Name/);
        expect(text, h).toContain(`DNS:${h}`);
        expect(text, h).toContain(`IP Address:${address(h)}`);
        expect(await sh(h, 'openssl x509 -noout -checkend 0 -in /etc/mosquitto/certs/server.crt && echo valid'), h).toContain('valid');
        const subject = (await sh(h, 'openssl x509 -noout -subject -in /etc/mosquitto/certs/server.crt')).replace(/^subject=\s*/, '');
        const issuer = (await sh(h, 'openssl x509 -noout -issuer -in /etc/mosquitto/certs/server.crt')).replace(/^issuer=\s*/, '');
        expect(subject, h).not.toBe(caSubject);
        expect(issuer, h).toBe(caSubject);
        expect(await sh(h, 'openssl verify -CAfile /etc/mosquitto/certs/ca.crt /etc/mosquitto/certs/server.crt'), h).toMatch(/: OK$/);
        expect(await sh(h, 'stat -c "%U %a" /etc/mosquitto/certs/server.key'), h).toBe('mosquitto 600');
      }
    });

    it('services are enabled at boot', async () => {
      for (const h of HOSTS) expect(await sh(h, 'systemctl is-enabled mosquitto mosquitto-exporter nftables'), h).toBe('enabled\nenabled\nenabled');
    });

    it('the exporter unit orders after mosquitto, restarts on failure, has no ExecStop/pkill', async () => {
      for (const h of HOSTS) {
        const unit = await sh(h, 'systemctl cat mosquitto-exporter');
        expect(unit, h).toMatch(/^After=.*\bmosquitto\.service\b/m);
        expect(unit, h).toMatch(/^Restart=(always|on-failure|on-abnormal)$/m);
        expect(unit, h).not.toMatch(/^ExecStop=/m);
        expect(unit, h).not.toMatch(/pkill|killall/);
        expect(await sh(h, 'systemctl show -p Restart --value mosquitto-exporter'), h).not.toBe('no');
      }
    });

    it('the exporter runs as user exporter, whose shell is nologin', async () => {
      for (const h of HOSTS) {
        const pid = await mainPid(h, 'mosquitto-exporter');
        expect(Number(pid), h).toBeGreaterThan(0);
        expect(await sh(h, `ps -o user= -p ${pid}`), h).toBe('exporter');
        expect((await sh(h, 'getent passwd exporter')).split(':')[6], h).toMatch(/^\/(usr\/)?sbin\/nologin$/);
      }
    });

    it("the exporter binary is the pinned commit's build", async () => {
      const commit = (await import('node:child_process')).execFileSync('git', ['-C', join(work, 'exporter-src'), 'rev-parse', 'v0.8.0^{commit}'], { encoding: 'utf8' }).trim();
      expect(commit).toMatch(/^[0-9a-f]{40}$/);
      const copies = report(cold).steps.filter((s) => s.step === 'exporter binary');
      expect(copies.map((s) => s.host).sort()).toEqual(HOSTS);
      for (const s of copies) {
        const summary = (s.changes ?? []).join('\n');
        expect(summary, s.host).toContain(commit);
        const src = /copy (\S+) →/.exec(summary)?.[1];
        expect(src, summary).toBeTruthy();
        const want = createHash('sha256').update(readFileSync(src!)).digest('hex');
        expect((await sh(s.host, 'sha256sum /usr/local/bin/mosquitto_exporter')).split(' ')[0], s.host).toBe(want);
      }
    });

    it('no secret on any command line while the cold run worked (dynamic-security init, users, files)', () => {
      // Meaningful only if the secret-carrying steps ran while the samples were taken.
      expect(report(cold).steps.filter((s) => s.step === 'dynamic-security store with the admin account' && s.changed).length, 'dynsec init ran').toBe(HOSTS.length);
      expect(coldPs.length, 'process list samples during the cold run').toBeGreaterThan(10);
      expect(leakedIn(coldPs, secrets())).toEqual([]);
    });

    let rotation: CliResult | undefined;
    let rotationPs: string[] = [];
    let settled: CliResult | undefined;

    it('no secret on any command line while a run changes passwords; none in the exporter unit or /proc/*/cmdline', async () => {
      // Rotate the declared user's password (inventory lookup) and the generated exporter password (secrets/).
      oldUserPasswords.push(userPassword);
      userPassword = `second-${randomBytes(9).toString('base64url')}`;
      const oldExporter = readFileSync(join(work, 'secrets', 'exporter_password'), 'utf8').trim();
      writeFileSync(join(work, 'secrets', 'exporter_password'), `rotated-${randomBytes(12).toString('base64url')}\n`, { mode: 0o600 });
      const all = [...secrets(), oldExporter];

      const running = run('rotate');
      rotationPs = await sampleWhile(running, psAll, 100);
      rotation = await running;
      // Meaningful only if the run really changed the passwords while the samples were taken.
      const rot = report(rotation);
      expect(rot.steps.filter((s) => s.step === 'exporter credentials (environment file)' && s.changed).length, `exporter env files rewritten: ${out(rotation)}`).toBe(HOSTS.length);
      expect(rotationPs.length, 'process list samples during the rotation run').toBeGreaterThan(10);
      expect(leakedIn(rotationPs, all)).toEqual([]);

      // Whatever the rotation run did, a further run leaves the exporter running on the new password (sampled too:
      // if the rotation run stopped early, this one is where the broker learns the new passwords).
      const settling = run('after-rotate');
      const settlePs = await sampleWhile(settling, psAll, 100);
      settled = await settling;
      expect(leakedIn(settlePs, all)).toEqual([]);
      for (const h of HOSTS) {
        await eventually(`${h}: /metrics after rotation`, async () => /^broker_uptime\s/m.test(await metrics(address(h))), 30_000);
        const pid = await mainPid(h, 'mosquitto-exporter');
        const cmdlines = await sh(h, 'for f in /proc/[0-9]*/cmdline; do tr "\\0" " " < "$f" 2>/dev/null; echo; done');
        expect(cmdlines, `${h}: /proc/*/cmdline`).toContain('/usr/local/bin/mosquitto_exporter');
        expect(leakedIn([cmdlines], all), `${h}: /proc/*/cmdline`).toEqual([]);
        expect(await sh(h, `tr "\\0" " " < /proc/${pid}/cmdline`), `${h}: the exporter's command line`).toBe('/usr/local/bin/mosquitto_exporter');
        expect(leakedIn([await sh(h, 'systemctl cat mosquitto-exporter; cat /etc/systemd/system/mosquitto-exporter.service')], all), `${h}: unit`).toEqual([]);
      }
    });

    it('a run that rotates passwords succeeds in one go: new user password works, the old one is refused, the exporter serves', async () => {
      expect(rotation, 'the rotation run ran').toBeDefined();
      expect.soft(rotation!.code, `rotation run: ${failedSteps(report(rotation!)).map((s) => `${s.host} ${s.role}: ${s.step}: ${s.message ?? ''}`).join('\n')}`).toBe(0);
      expect.soft(settled?.code, settled ? out(settled) : 'no settle run').toBe(0);
      for (const h of HOSTS) {
        expect.soft(await tryLogin(target(h), { username: USER, password: userPassword }), `${h}: new password`).toEqual({ ok: true });
        const old = await tryLogin(target(h), { username: USER, password: oldUserPasswords[0]! });
        expect.soft(old.ok, `${h}: old password refused`).toBe(false);
        expect.soft(await sh(h, 'systemctl is-active mosquitto-exporter'), h).toBe('active');
      }
    });
  });
});
