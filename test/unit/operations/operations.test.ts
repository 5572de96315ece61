import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Change, Step, StepPlan } from '../../../src/engine/types.js';
import { parseHostFacts } from '../../../src/facts/gather-host-facts.js';
import { command } from '../../../src/operations/command.js';
import { unifiedDiff } from '../../../src/operations/diff.js';
import { SENSITIVE_DIFF, absent, copy, directory, file } from '../../../src/operations/file.js';
import { firewall } from '../../../src/operations/firewall/index.js';
import { renderNftables } from '../../../src/operations/firewall/nftables.js';
import { listingDigest, nftablesFact } from '../../../src/facts/firewall.js';
import { effectiveRules } from '../../../src/operations/firewall/rules.js';
import { aptUpdateScript, packageListsRefreshed, packages, systemUpgraded } from '../../../src/operations/package.js';
import { selinuxPort } from '../../../src/operations/selinux.js';
import { service, systemdUnit } from '../../../src/operations/service.js';
import { offlineContext, planWithRecordedFacts, type RecordedPlanOptions } from '../../support/recorded-facts.js';
import { group, user } from '../../../src/operations/user.js';
import { sha256 } from '../../../src/operations/write-file.js';
import { MASK, Secret } from '../../../src/secrets.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures/facts');
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');
const debian = parseHostFacts('mq1', fixture('debian12/host-facts.txt'));

/**
 * Plans a step from one fixture file: a recorded batch output that answers each of its facts (a package step's
 * installed packages and the package lists' age come from the same recording).
 */
function planFrom(step: Step, name: string, opts?: RecordedPlanOptions, code = 0): Promise<StepPlan> {
  const [q, ...more] = step.facts ?? [];
  // A file with a backup also asks whether a backup copy lies beside it: none here.
  const rest = Object.fromEntries(more.map((m) => [m.key, m.key.endsWith('.provision-prev') ? { stdout: 'absent\n', code: 0 } : { stdout: fixture(name), code }]));
  return planWithRecordedFacts(step, debian, q ? { [q.key]: { stdout: fixture(name), code }, ...rest } : {}, opts);
}
function changes(p: StepPlan): Change[] {
  if (!('changes' in p)) throw new Error(`expected changes, got skip: ${p.skip}`);
  return p.changes;
}
const scripts = (p: StepPlan) => changes(p).flatMap((c) => (c.actions ?? []).map((a) => ('script' in a ? a.script : a.command)));
const summaries = (p: StepPlan) => changes(p).map((c) => c.summary);

const APT_INSTALL =
  'DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 install -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold --no-install-recommends';
const APT_UPDATE = aptUpdateScript();

describe('apt-get update bounded per attempt (a hung mirror or proxy)', () => {
  /**
   * Runs the refresh script with a fake apt-get on PATH that hangs on the first `hangs` calls (`trickle`: while
   * hanging it writes a byte to the lists directory every 0.5 s, a slow download, for 4 s, then succeeds).
   */
  const runWithFakeApt = (hangs: number, exitCode = 0, o: { attempt?: number; stall?: number; trickle?: boolean } = {}) => {
    const dir = mkdtempSync(join(tmpdir(), 'fake-apt-'));
    const lists = join(dir, 'lists');
    const hang = o.trickle ? `for i in 1 2 3 4 5 6 7 8; do printf x >> ${lists}/partial; sleep 0.5; done` : 'sleep 30';
    writeFileSync(join(dir, 'apt-get'), `#!/bin/sh\nn=$(cat ${dir}/calls 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${dir}/calls\nif [ $n -le ${hangs} ]; then ${hang}; fi\nexit ${exitCode}\n`, { mode: 0o755 });
    spawnSync('mkdir', ['-p', lists]);
    const r = spawnSync('sh', ['-c', aptUpdateScript(o.attempt ?? 1, o.stall, lists)], { env: { ...process.env, PATH: `${dir}:${process.env.PATH}` }, encoding: 'utf8' });
    return { code: r.status, stderr: r.stderr, calls: Number(readFileSync(join(dir, 'calls'), 'utf8')) };
  };
  it('an attempt during which nothing arrives is ended at the stall bound and tried again, long before its own bound', () => {
    expect(runWithFakeApt(1, 0, { attempt: 60, stall: 2 })).toMatchObject({ code: 0, calls: 2, stderr: expect.stringContaining('nothing arrived for 2 s (attempt 1 of 3)') });
  });
  it('a slow download that keeps arriving is never taken for a stall', () => {
    expect(runWithFakeApt(1, 0, { attempt: 60, stall: 2, trickle: true })).toMatchObject({ code: 0, calls: 1, stderr: '' });
  });
  it('a hung attempt is ended and tried again; the third hang fails with timeout\'s exit code', () => {
    expect(runWithFakeApt(1)).toMatchObject({ code: 0, calls: 2, stderr: expect.stringContaining('attempt 1 of 3') });
    expect(runWithFakeApt(3)).toMatchObject({ code: 124, calls: 3 });
  });
  it("apt's own failure is not retried", () => {
    expect(runWithFakeApt(0, 100)).toMatchObject({ code: 100, calls: 1 });
  });
});

describe('testing helper', () => {
  it('refuses remote calls from plan() and missing recordings', async () => {
    const ctx = offlineContext(debian);
    await expect(ctx.run('true')).rejects.toThrow(/must not/);
    await expect(planWithRecordedFacts(packages({ names: ['jq'] }), debian, {})).rejects.toThrow(/no recorded output for fact "packages:jq"/);
  });
});

describe('packages (apt)', () => {
  it('is ok when everything is installed', async () => {
    expect(await planFrom(packages({ names: ['mosquitto', 'mosquitto-clients'] }), 'debian12/packages-installed.txt')).toEqual({ changes: [] });
  });

  it('refreshes missing lists then installs on a fresh host', async () => {
    const p = await planFrom(packages({ names: ['mosquitto', 'mosquitto-clients'] }), 'debian12/packages-fresh.txt');
    expect(summaries(p)).toEqual(['refresh package lists (never refreshed)', 'install mosquitto, mosquitto-clients']);
    expect(scripts(p)).toEqual([APT_UPDATE, `${APT_INSTALL} mosquitto mosquitto-clients`]);
  });

  it('refreshes stale lists, reinstalls config-files-only packages and honours pins', async () => {
    const step = packages({ names: ['haproxy', 'mosquitto'], versions: { mosquitto: '2.0.11-1.2+deb12u2' }, cacheValidSeconds: 3600 });
    const p = await planFrom(step, 'debian12/packages-stale.txt');
    expect(summaries(p)).toEqual(['refresh package lists (2 days old)', 'install haproxy, mosquitto 2.0.11-1.2+deb12u1 → 2.0.11-1.2+deb12u2']);
    expect(scripts(p)[1]).toBe(`${APT_INSTALL} --allow-downgrades haproxy mosquitto=2.0.11-1.2+deb12u2`);
  });

  it('never refreshes with updateCache never, always with always', async () => {
    expect(scripts(await planFrom(packages({ names: ['jq'], updateCache: 'never' }), 'debian12/packages-fresh.txt'))).toEqual([`${APT_INSTALL} jq`]);
    expect(scripts(await planFrom(packages({ names: ['mosquitto'], updateCache: 'always' }), 'debian12/packages-installed.txt'))).toEqual([APT_UPDATE]);
  });

  it('upgrades only what has a newer candidate for latest', async () => {
    const p = await planFrom(packages({ names: ['mosquitto', 'bash'], state: 'latest' }), 'debian12/packages-latest.txt');
    expect(summaries(p)).toEqual(['upgrade bash 5.2.15-2+b8 → 5.2.15-2+b13']);
    expect(scripts(p)).toEqual([`${APT_INSTALL} bash`]);
  });

  it('with latest and no lists, refreshes and installs everything (candidates unknown)', async () => {
    const p = await planFrom(packages({ names: ['mosquitto'], state: 'latest' }), 'debian12/packages-fresh.txt');
    expect(scripts(p)).toEqual([APT_UPDATE, `${APT_INSTALL} mosquitto`]);
  });

  it('removes only installed packages', async () => {
    const p = await planFrom(packages({ names: ['mosquitto', 'haproxy'], state: 'absent' }), 'debian12/packages-stale.txt');
    expect(scripts(p)).toEqual(['DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 remove -y mosquitto']);
    expect(await planFrom(packages({ names: ['jq'], state: 'absent' }), 'debian12/packages-installed.txt')).toEqual({ changes: [] });
  });

  it('refreshes lists only when stale, and upgrades the system only when something is upgradable', async () => {
    expect(await planFrom(packageListsRefreshed({ maxAgeSeconds: 3600 }), 'debian12/packages-installed.txt')).toEqual({ changes: [] });
    expect(summaries(await planFrom(packageListsRefreshed({ maxAgeSeconds: 3600 }), 'debian12/packages-stale.txt'))).toEqual(['refresh package lists (2 days old)']);
    expect(await planFrom(systemUpgraded(), 'debian12/apt-up-to-date.txt')).toEqual({ changes: [] });
    const p = await planFrom(systemUpgraded(), 'debian12/apt-upgradable.txt');
    expect(summaries(p)).toEqual(['upgrade 4 package(s): base-files, bash, libgcrypt20, dpkg']);
    expect(scripts(p)).toEqual([
      'DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold dist-upgrade',
    ]);
  });

  it('refuses names a shell could misread', () => {
    expect(() => packages({ names: ['mosquitto; rm -rf /'] })).toThrow(/invalid package name/);
  });
});

describe('file', () => {
  const conf = '# Managed by provision.\nper_listener_settings false\nlistener 8883\ncafile /etc/mosquitto/certs/ca.crt\nmax_keepalive 60\nbridge_password OldBridgePw1\nautosave_interval 60\n';
  const base = { path: '/etc/mosquitto/mosquitto.conf', owner: 'root', group: 'mosquitto', mode: '0640' };

  it('is ok when content, owner, group and mode match (no content fetched)', async () => {
    const step = file({ ...base, content: conf });
    expect(step.facts![0]!.script).toContain(`!= ${sha256(conf)}`);
    expect(await planFrom(step, 'debian12/file-mosquitto-conf.txt')).toEqual({ changes: [] });
  });

  it('writes atomically: temp file, owner, mode, validate, backup, mv', async () => {
    const p = await planFrom(file({ ...base, content: 'listener 8883\n', validate: 'mosquitto-check %s', backup: true }), 'debian12/file-mosquitto-conf-differs.txt');
    expect(summaries(p)).toEqual(['update /etc/mosquitto/mosquitto.conf']);
    expect(scripts(p)).toEqual([
      [
        'set -e',
        'umask 077',
        "t=$(mktemp /etc/mosquitto/.mosquitto.conf.provision-XXXXXX)",
        `trap 'rm -f -- "$t"' EXIT`,
        `printf '%s' ${Buffer.from('listener 8883\n').toString('base64')} | base64 -d > "$t"`,
        'chown root:mosquitto "$t"',
        'chmod 0640 "$t"',
        `if ! out=$( ( mosquitto-check "$t" ) 2>&1 ); then { printf '%s\\n' 'validation of the new /etc/mosquitto/mosquitto.conf failed (the file stays as it was): ''mosquitto-check '"$t"''; printf '%s\\n' "$out" | tail -n 7; } >&2; exit 1; fi`,
        'if [ -f /etc/mosquitto/mosquitto.conf ]; then cp -p -- /etc/mosquitto/mosquitto.conf /etc/mosquitto/mosquitto.conf.provision-prev; fi',
        'mv -f -- "$t" /etc/mosquitto/mosquitto.conf',
        'trap - EXIT',
      ].join('\n'),
    ]);
  });

  it('shows a unified diff with registered secrets masked and old secret lines hidden', async () => {
    const pw = new Secret('N3wBridgeSecret');
    const next = conf.replace('max_keepalive 60', 'max_keepalive 120').replace('OldBridgePw1', pw.reveal());
    const [c] = changes(await planFrom(file({ ...base, content: next }), 'debian12/file-mosquitto-conf-differs.txt', { diff: true }));
    expect(c!.diff).toBe(
      [
        '--- before: /etc/mosquitto/mosquitto.conf',
        '+++ after: /etc/mosquitto/mosquitto.conf',
        '@@ -2,6 +2,6 @@',
        ' per_listener_settings false',
        ' listener 8883',
        ' cafile /etc/mosquitto/certs/ca.crt',
        `-${MASK}`,
        `-${MASK}`,
        '+max_keepalive 120',
        `+bridge_password ${MASK}`,
        ' autosave_interval 60',
        '',
      ].join('\n'),
    );
    expect(c!.diff).not.toContain('N3wBridgeSecret');
    expect(c!.diff).not.toContain('OldBridgePw1');
  });

  it('sensitive files fetch no old content and only say that they changed', async () => {
    const step = file({ path: '/etc/mosquitto/certs/server.key', content: 'KEY', mode: '0600', sensitive: true });
    expect(step.facts![0]!.script).not.toContain('base64');
    const [c] = changes(await planFrom(step, 'debian12/file-mosquitto-conf-differs.txt', { diff: true }));
    expect(c!.diff).toBe(SENSITIVE_DIFF);
    expect(c!.summary).toBe('update /etc/mosquitto/certs/server.key (sensitive)');
  });

  it('creates a missing file root-owned 0644 by default, and shows it as all-added', async () => {
    const p = await planFrom(file({ path: '/etc/motd', content: 'hello\n' }), 'debian12/file-absent.txt', { diff: true });
    expect(summaries(p)).toEqual(['create /etc/motd']);
    expect(scripts(p)[0]).toContain('chmod 0644 "$t"');
    expect(scripts(p)[0]).not.toContain('chown');
    expect(changes(p)[0]!.diff).toBe('--- before: /etc/motd\n+++ after: /etc/motd\n@@ -0,0 +1 @@\n+hello\n');
  });

  it('fixes owner/group/mode drift alone', async () => {
    const p = await planFrom(file({ ...base, group: 'root', mode: '0600', content: conf }), 'debian12/file-mosquitto-conf.txt');
    expect(summaries(p)).toEqual(['set owner root:root, mode 0600 on /etc/mosquitto/mosquitto.conf']);
    expect(scripts(p)).toEqual(['chown root:root -- /etc/mosquitto/mosquitto.conf\nchmod 0600 -- /etc/mosquitto/mosquitto.conf']);
  });

  it('copies a controller file only when its sha256 differs, streaming big ones', async () => {
    const src = join(FIXTURES, 'debian12/host-facts.txt');
    const same = `stat regular file|0|0|root|root|755|${readFileSync(src).length}\nsha256 ${sha256(readFileSync(src))}\n`;
    const step = copy({ src, dest: '/usr/local/bin/tool', owner: 'root', group: 'root', mode: '0755' });
    expect(await planWithRecordedFacts(step, debian, { [step.facts![0]!.key]: { stdout: same } })).toEqual({ changes: [] });
    const p = await planFrom(step, 'debian12/file-absent.txt');
    expect(summaries(p)).toEqual([`copy ${src} → /usr/local/bin/tool (${readFileSync(src).length} bytes)`]);
  });

  it('with the source digest known (the exporter build), a host that has it is answered without reading the source', async () => {
    const digest = 'a'.repeat(64);
    const missing = join(FIXTURES, 'no-such-binary'); // reading it would fail the plan
    const step = copy({ src: missing, srcSha256: digest, dest: '/usr/local/bin/tool', owner: 'root', group: 'root', mode: '0755' });
    const key = step.facts![0]!.key;
    expect(await planWithRecordedFacts(step, debian, { [key]: { stdout: `stat regular file|0|0|root|root|755|10\nsha256 ${digest}\n` } })).toEqual({ changes: [] });
    // Its owner and mode are still checked.
    const drifted = await planWithRecordedFacts(step, debian, { [key]: { stdout: `stat regular file|0|0|root|root|777|10\nsha256 ${digest}\n` } });
    expect(summaries(drifted)).toEqual(['set mode 0755 on /usr/local/bin/tool']);
    // Another digest on the host: the source is read (here: it cannot be).
    await expect(planWithRecordedFacts(step, debian, { [key]: { stdout: `stat regular file|0|0|root|root|755|10\nsha256 ${'b'.repeat(64)}\n` } })).rejects.toThrow(/cannot read .*no-such-binary/);
  });

  it('manages directories, recursive ownership and absence', async () => {
    expect(await planFrom(directory({ path: '/etc/mosquitto/certs', owner: 'root', group: 'mosquitto', mode: '0750' }), 'debian12/stat-directory.txt')).toEqual({ changes: [] });
    expect(scripts(await planFrom(directory({ path: '/etc/x', owner: 'root', group: 'mosquitto', mode: '0750' }), 'debian12/file-absent.txt'))).toEqual([
      'mkdir -p -- /etc/x\nchown root:mosquitto -- /etc/x\nchmod 0750 -- /etc/x',
    ]);
    const rec = directory({ path: '/var/lib/mosquitto', owner: 'mosquitto', group: 'mosquitto', recursive: true });
    expect(rec.facts![0]!.script).toContain("find /var/lib/mosquitto -mindepth 1 \\( ! -user mosquitto -o ! -group mosquitto \\) -print -quit");
    const drift = `stat directory|103|106|mosquitto|mosquitto|750|4096\ndrift\n`;
    expect(scripts(await planWithRecordedFacts(rec, debian, { [rec.facts![0]!.key]: { stdout: drift } }))).toEqual(['chown -R mosquitto:mosquitto -- /var/lib/mosquitto']);
    expect(scripts(await planFrom(absent({ path: '/etc/mosquitto/conf.d/old.conf' }), 'debian12/file-mosquitto-conf.txt'))).toEqual(['rm -rf -- /etc/mosquitto/conf.d/old.conf']);
    expect(await planFrom(absent({ path: '/etc/nope' }), 'debian12/file-absent.txt')).toEqual({ changes: [] });
    expect(() => absent({ path: '/etc' })).toThrow(/refusing/);
  });
});

describe('unified diff', () => {
  it('keeps 3 lines of context and separate hunks', () => {
    const a = Array.from({ length: 20 }, (_, i) => `l${i + 1}`).join('\n') + '\n';
    const b = a.replace('l2\n', 'L2\n').replace('l18\n', 'L18\n');
    expect(unifiedDiff(a, b, '/f')).toBe(
      '--- before: /f\n+++ after: /f\n@@ -1,5 +1,5 @@\n l1\n-l2\n+L2\n l3\n l4\n l5\n@@ -15,6 +15,6 @@\n l15\n l16\n l17\n-l18\n+L18\n l19\n l20\n',
    );
    expect(unifiedDiff('same\n', 'same\n', '/f')).toBe('');
  });
});

describe('user and group', () => {
  it('is ok when the user matches', async () => {
    expect(await planFrom(user({ name: 'mosquitto', system: true, home: '/var/lib/mosquitto' }), 'debian12/user-mosquitto.txt')).toEqual({ changes: [] });
    expect(await planFrom(group({ name: 'mosquitto', system: true }), 'debian12/group-mosquitto.txt')).toEqual({ changes: [] });
  });

  it('creates system users without home, reusing an existing same-named group', async () => {
    expect(scripts(await planFrom(user({ name: 'exporter', system: true, home: '/nonexistent', createHome: false }), 'debian12/user-missing.txt'))).toEqual([
      'useradd --system --shell /usr/sbin/nologin --home-dir /nonexistent --no-create-home --user-group exporter',
    ]);
    expect(scripts(await planFrom(user({ name: 'exporter', system: true, groups: ['mosquitto'] }), 'debian12/user-missing-group-exists.txt'))).toEqual([
      'useradd --system --shell /usr/sbin/nologin --no-create-home --gid exporter --groups mosquitto exporter',
    ]);
    expect(scripts(await planWithRecordedFacts(group({ name: 'exporter', system: true }), debian, { 'group:exporter': { stdout: '', code: 2 } }))).toEqual([
      'groupadd --system exporter',
    ]);
  });

  it('modifies drift with usermod, adding groups without removing others', async () => {
    const p = await planFrom(user({ name: 'mosquitto', shell: '/bin/sh', groups: ['ssl-cert'], comment: 'MQTT broker' }), 'debian12/user-mosquitto.txt');
    expect(scripts(p)).toEqual(["usermod --shell /bin/sh --comment 'MQTT broker' --append --groups ssl-cert mosquitto"]);
  });
});

describe('service', () => {
  it('is ok when enabled and running', async () => {
    expect(await planFrom(service({ name: 'mosquitto', enabled: true, state: 'started' }), 'debian12/service-enabled-running.txt')).toEqual({ changes: [] });
  });

  it('enables and starts', async () => {
    const p = await planFrom(service({ name: 'mosquitto', enabled: true, state: 'started' }), 'debian12/service-disabled-stopped.txt');
    expect(scripts(p)).toEqual(['systemctl enable mosquitto.service', 'systemctl start mosquitto.service']);
  });

  it('reloads systemd first when the unit file changed on disk', async () => {
    const p = await planFrom(service({ name: 'mosquitto', state: 'restarted' }), 'debian12/service-need-daemon-reload.txt');
    expect(scripts(p)).toEqual(['systemctl daemon-reload', 'systemctl restart mosquitto.service']);
  });

  it('restarted and reloaded always change; reloaded starts a stopped service', async () => {
    expect(scripts(await planFrom(service({ name: 'mosquitto', state: 'restarted' }), 'debian12/service-enabled-running.txt'))).toEqual(['systemctl restart mosquitto.service']);
    expect(scripts(await planFrom(service({ name: 'mosquitto', state: 'reloaded' }), 'debian12/service-enabled-running.txt'))).toEqual(['systemctl reload mosquitto.service']);
    expect(scripts(await planFrom(service({ name: 'mosquitto', state: 'reloaded' }), 'debian12/service-disabled-stopped.txt'))).toEqual(['systemctl start mosquitto.service']);
    expect(scripts(await planFrom(service({ name: 'mosquitto', enabled: false, state: 'stopped' }), 'debian12/service-enabled-running.txt'))).toEqual([
      'systemctl disable mosquitto.service',
      'systemctl stop mosquitto.service',
    ]);
  });

  it('falls back to SysV init scripts', async () => {
    const sysv = { ...debian, init: 'sysv' as const };
    const step = service({ name: 'mosquitto', enabled: true, state: 'started' });
    const stdout = '@@init\nsysv\n@@script\npresent\n@@status\n3\n@@links\n';
    const p = await planWithRecordedFacts(step, sysv, { 'service:mosquitto': { stdout } });
    expect(scripts(p)).toEqual(['update-rc.d mosquitto defaults >/dev/null && update-rc.d mosquitto enable', '/etc/init.d/mosquitto start']);
    // Recorded on a Debian 12 host without systemd: cron's rc links exist, `status` exits 3 (stopped).
    const cron = service({ name: 'cron', enabled: true, state: 'started' });
    const recorded = fixture('debian12/service-sysv-enabled-stopped.txt');
    expect(scripts(await planWithRecordedFacts(cron, sysv, { 'service:cron': { stdout: recorded } }))).toEqual(['/etc/init.d/cron start']);
    const running = recorded.replace('@@status\n3', '@@status\n0');
    expect(await planWithRecordedFacts(cron, sysv, { 'service:cron': { stdout: running } })).toEqual({ changes: [] });
  });

  it('systemdUnit writes the unit then reloads systemd', async () => {
    const p = await planFrom(systemdUnit({ name: 'mosquitto-exporter', content: '[Unit]\n' }), 'debian12/file-absent.txt');
    expect(summaries(p)).toEqual(['create /etc/systemd/system/mosquitto-exporter.service']);
    expect(scripts(p).at(-1)).toBe('systemctl daemon-reload');
  });
});

describe('firewall', () => {
  const allow = [
    { port: 8883, proto: 'tcp' as const, comment: 'MQTT over TLS' },
    { port: 9234, proto: 'tcp' as const, sources: ['10.0.0.0/8'] },
  ];

  it('always allows the SSH port of this run, even with nothing else allowed', async () => {
    for (const backend of ['nftables', 'ufw', 'firewalld'] as const) {
      const step = firewall({ backend, allow: [], sshPort: 22, defaultInbound: 'drop' });
      const fresh = { nftables: 'debian12/nftables-fresh.txt', ufw: 'debian12/ufw-fresh.txt', firewalld: 'debian12/firewalld-offline-fresh.txt' }[backend];
      const p = await planFrom(step, fresh, { sshPort: 2222 });
      const all = scripts(p).join('\n');
      const decoded = all.replace(/printf '%s' (\S+) \| base64 -d/g, (_, b64: string) => Buffer.from(b64, 'base64').toString('utf8'));
      for (const port of [22, 2222]) {
        expect(decoded, `${backend} allows ${port}`).toMatch(
          backend === 'nftables' ? new RegExp(`tcp dport ${port} accept`) : backend === 'ufw' ? new RegExp(`ufw allow proto tcp from any to any port ${port} `) : new RegExp(`--add-port=${port}/tcp`),
        );
      }
    }
    const rules = effectiveRules(offlineContext(debian, { sshPort: 2200 }), { allow: [{ port: 2200, sources: ['10.0.0.0/8'] }] });
    expect(rules).toEqual([{ port: 2200, proto: 'tcp', sources: [], comment: 'SSH' }]);
  });

  it('nftables: writes, includes and loads our table on a fresh host', async () => {
    const p = await planFrom(firewall({ backend: 'nftables', allow, sshPort: 22, defaultInbound: 'drop' }), 'debian12/nftables-fresh.txt', { diff: true });
    expect(summaries(p)).toEqual([
      'create /etc/nftables.d/provision.nft (allow 22/tcp, 8883/tcp, 9234/tcp from 10.0.0.0/8)',
      'include /etc/nftables.d/provision.nft from /etc/nftables.conf (loaded at boot)',
      'load table inet provision (rules changed)',
      'enable nftables at boot',
    ]);
    expect(scripts(p)[1]).toContain('if ! out=$( ( nft -c -f "$t" ) 2>&1 )');
    expect(changes(p)[0]!.diff).toContain('+\t\tip saddr { 10.0.0.0/8 } tcp dport 9234 accept');
  });

  it('nftables: no change once provisioned; reload when the live table drifted', async () => {
    // Recorded on a Debian 12 sandbox host provisioned by the broker job (these rules), nftables enabled.
    const rules = [{ port: 8883, comment: 'MQTT over TLS' }, { port: 9234, comment: 'Prometheus exporter' }];
    const recorded = fixture('debian12/nftables-provisioned.txt');
    const step = firewall({ backend: 'nftables', allow: rules, sshPort: 22, defaultInbound: 'drop' });
    const plan = (stdout: string) => planWithRecordedFacts(step, debian, { 'firewall:nftables': { stdout } });
    expect(await plan(recorded)).toEqual({ changes: [] });
    // The live table as a hand edit leaves it: one rule deleted (`nft delete rule … handle N`), one added, the policy flipped.
    const reload = ['load table inet provision (live table differs from the file)'];
    const edits = [
      (s: string) => s.replace(/^\t\ttcp dport 9234 accept.*\n/m, ''),
      (s: string) => s.replace(/^(\t\ttcp dport 9234 accept.*\n)/m, '$1\t\ttcp dport 1883 accept\n'),
      (s: string) => s.replace('policy drop;', 'policy accept;'),
    ];
    for (const edit of edits) {
      const drifted = edit(recorded);
      expect(drifted).not.toBe(recorded);
      expect(summaries(await plan(drifted))).toEqual(reload);
    }
    // Table gone (nft flush ruleset): loaded again; loaded digest lost: loaded again (and recorded).
    expect(summaries(await plan(recorded.replace(/@@listing\n[\s\S]*?(?=@@loaded)/, '@@listing\n')))).toEqual(['load table inet provision (table not loaded)']);
    expect(summaries(await plan(recorded.replace(/@@loaded\n\w+\n/, '@@loaded\n')))).toEqual(reload);
    // Not enabled at boot (the fact falls back to systemctl's answer): enabled.
    for (const state of ['disabled', 'masked', '']) {
      expect(summaries(await plan(recorded.replace('@@enabled\nenabled', `@@enabled\n${state}`))), state).toEqual(['enable nftables at boot']);
    }
  });

  it('nftables fact: the live digest is the one the load action stores (sha256 of the listing plus one newline)', () => {
    const listing = fixture('debian12/nftables-provisioned.txt').match(/@@listing\n([\s\S]*?)@@loaded/)![1]!;
    const stored = fixture('debian12/nftables-provisioned.txt').match(/@@loaded\n(\w+)/)![1]!;
    expect(listingDigest(listing)).toBe(stored);
    expect(listingDigest(`${listing}\n\n`)).toBe(stored); // $(…) drops every trailing newline, printf adds one
    // The load action computes it the same way on the host.
    const sh = spawnSync('sh', ['-c', `out=$(cat); printf '%s\\n' "$out" | sha256sum | cut -c1-64`], { input: listing, encoding: 'utf8' });
    expect(sh.stdout.trim()).toBe(stored);
  });

  it('nftables fact: no hashing, grep, cat or subshell on the host (each process costs it ~1 ms); systemctl only without a wants link', () => {
    for (const costly of ['sha256sum', 'cut ', 'grep ', 'cat ', '$(']) expect(nftablesFact.script, costly).not.toContain(costly);
    expect(nftablesFact.script.match(/(^|; )nft /gm)).toHaveLength(1);
    expect(nftablesFact.script).toMatch(/set -- \/etc\/systemd\/system\/\*\.wants\/nftables\.service\nif \[ -e "\$1" \] .*then echo enabled\nelse systemctl is-enabled nftables/);
  });

  it('nftables ruleset: established, loopback, ICMP, then our ports', () => {
    const text = renderNftables(effectiveRules(offlineContext(debian), { allow: [{ port: 1883, proto: 'udp', sources: ['192.168.1.7/32', '2001:DB8::/32'], comment: 'x"y' }] }));
    expect(text).toContain('policy drop;');
    expect(text).toContain('ct state established,related accept');
    expect(text).toContain('iif "lo" accept');
    expect(text).toContain('meta l4proto icmpv6 accept');
    expect(text).toContain('ip saddr { 192.168.1.7 } udp dport 1883 accept comment "xy"');
    expect(text).toContain('ip6 saddr { 2001:db8::/32 } udp dport 1883 accept comment "xy"');
  });

  it('ufw: adds commented rules, default deny, enables', async () => {
    const p = await planFrom(firewall({ backend: 'ufw', allow, sshPort: 22, defaultInbound: 'drop' }), 'debian12/ufw-fresh.txt');
    expect(scripts(p)).toEqual([
      [
        'set -e',
        "ufw allow proto tcp from any to any port 22 comment 'provision: SSH' >/dev/null",
        "ufw allow proto tcp from any to any port 8883 comment 'provision: MQTT over TLS' >/dev/null",
        'ufw allow proto tcp from 10.0.0.0/8 to any port 9234 comment provision >/dev/null',
      ].join('\n'),
      'ufw --force enable >/dev/null',
    ]);
  });

  it('ufw: no change once provisioned; deletes only our rules no longer wanted', async () => {
    // Recorded after applying: SSH 22 and 2222, 8883, and 9234 from 10.0.0.0/8 and 2001:db8::/32.
    const rules = [{ port: 8883, comment: 'MQTT' }, { port: 9234, sources: ['10.0.0.0/8', '2001:db8::/32'] }];
    expect(await planFrom(firewall({ backend: 'ufw', allow: rules, sshPort: 22, defaultInbound: 'drop' }), 'debian12/ufw-provisioned.txt', { sshPort: 2222 })).toEqual({ changes: [] });
    const p = await planFrom(firewall({ backend: 'ufw', allow: [{ port: 8883, comment: 'MQTT' }], sshPort: 22, defaultInbound: 'drop' }), 'debian12/ufw-provisioned.txt');
    expect(scripts(p)).toEqual([
      'set -e\nufw delete allow proto tcp from any to any port 2222 >/dev/null\nufw delete allow proto tcp from 10.0.0.0/8 to any port 9234 >/dev/null\nufw delete allow proto tcp from 2001:db8::/32 to any port 9234 >/dev/null',
    ]);
  });

  it('firewalld: reloads when the runtime differs from the permanent configuration', async () => {
    const p = await planFrom(firewall({ backend: 'firewalld', allow: [{ port: 8883 }, { port: 1885, sources: ['10.77.0.5'] }], sshPort: 22, defaultInbound: 'drop' }), 'debian12/firewalld-running-drift.txt');
    expect(summaries(p)).toEqual(['reload firewalld (runtime differs from permanent configuration)']);
  });
});

describe('command', () => {
  const guarded = command({ name: 'init dynsec', script: 'mosquitto_ctrl dynsec init /var/lib/mosquitto/dynsec.json admin', creates: '/var/lib/mosquitto/dynsec.json' });

  it('guards are facts whose output is discarded', () => {
    const step = command({ name: 'x', script: 'true', creates: '/a b', removes: '/c', unless: 'test -x /usr/bin/x', onlyIf: 'grep -q y /etc/z' });
    expect(step.facts![0]!.script).toBe(
      [
        "if [ -e '/a b' ]; then echo creates=1; else echo creates=0; fi",
        'if [ -e /c ]; then echo removes=1; else echo removes=0; fi',
        '( test -x /usr/bin/x\n) >/dev/null 2>&1; echo "unless=$?"',
        '( grep -q y /etc/z\n) >/dev/null 2>&1; echo "onlyif=$?"',
      ].join('\n'),
    );
  });

  it('does not run when creates exists, runs (changed) when it does not', async () => {
    const key = guarded.facts![0]!.key;
    expect(await planWithRecordedFacts(guarded, debian, { [key]: { stdout: 'creates=1\n' } })).toEqual({ changes: [], message: 'not run: /var/lib/mosquitto/dynsec.json exists' });
    const p = await planWithRecordedFacts(guarded, debian, { [key]: { stdout: 'creates=0\n' } });
    expect(scripts(p)).toEqual(['mosquitto_ctrl dynsec init /var/lib/mosquitto/dynsec.json admin']);
  });

  it('honours unless, onlyIf and removes', async () => {
    const step = command({ name: 'x', script: 'run-it', unless: 'check', onlyIf: 'cond', removes: '/tmp/flag' });
    const key = step.facts![0]!.key;
    const plan = (stdout: string) => planWithRecordedFacts(step, debian, { [key]: { stdout } });
    expect(await plan('removes=1\nunless=0\nonlyif=0\n')).toEqual({ changes: [], message: 'not run: unless condition holds' });
    expect(await plan('removes=1\nunless=1\nonlyif=1\n')).toEqual({ changes: [], message: 'not run: onlyIf condition fails' });
    expect(await plan('removes=0\nunless=1\nonlyif=0\n')).toEqual({ changes: [], message: 'not run: /tmp/flag does not exist' });
    expect(scripts(await plan('removes=1\nunless=1\nonlyif=0\n'))).toEqual(['run-it']);
  });

  it('without a guard always runs and reports changed', async () => {
    const step = command({ name: 'x', script: 'echo hi' });
    expect(step.facts).toEqual([]);
    expect(summaries(await planWithRecordedFacts(step, debian, {}))).toEqual(['run x']);
  });
});

describe('selinux', () => {
  it('is skipped where SELinux is absent (Debian)', async () => {
    expect(await planFrom(selinuxPort({ port: 1885, type: 'http_port_t' }), 'rocky9/selinux-disabled.txt')).toEqual({ skip: 'SELinux is not enabled on this host' });
  });
});
