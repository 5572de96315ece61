/**
 * exporter_source: host-build, as planned for a Debian host: the generated command is valid sh (it used to put
 * the `| tail -n 1` of `bin=$(<build script> | tail -n 1)` on a line of its own: "Syntax error: "|" unexpected"),
 * and the build runs as an unprivileged system user, root only installing the finished binary.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostBuildScript } from '../../../roles/exporter/index.js';
import { planWithRecordedFacts } from '../../support/recorded-facts.js';
import { createFixture, loadRecordings, phaseSteps, removeFixture, scripts, type Fixture } from '../../support/role-planning.js';

const execFileP = promisify(execFile);
let fx: Fixture;

beforeAll(async () => {
  fx = await createFixture({
    os: 'debian12',
    passwords: { mqtt_admin_password: 'Adm1n-deb1an-pw', mqtt_health_password: 'He4lth-deb1an-pw', exporter_password: 'Exp0rter-deb1an-pw', verify_password: 'Ver1fy-deb1an-pw' },
    brokers: { mq1: '10.77.1.10' },
    loadbalancers: {},
    hostFacts: { mq1: 'mq1-host-facts.txt' },
  });
  fx.inventory.hosts.get('mq1')!.vars.exporter_source = 'host-build';
});
afterAll(() => removeFixture(fx));

describe('exporter_source: host-build on Debian', () => {
  it('creates the build user, installs Go, and builds with a script sh can parse', async () => {
    const steps = (await phaseSteps(fx, fx.plays.brokers, 'mq1', 'build')).filter((s) => s.role === 'exporter');
    expect(steps.map((s) => s.step.name)).toEqual(['user exporter', 'user exporter-build', 'Go toolchain for the exporter build', 'build the exporter on the host at v0.8.0 (as exporter-build)']);
    // A fresh host: the build user is missing like the exporter user in the recording.
    const missing = loadRecordings(fx, 'build-fresh.facts').find((r) => r.pattern === 'user:exporter')!;
    const buildUser = steps[1]!.step;
    const plan = await planWithRecordedFacts(buildUser, fx.facts.get('mq1')!, Object.fromEntries((buildUser.facts ?? []).map((q) => [q.key, missing])), { hostName: 'mq1' });
    expect(scripts(plan)).toEqual(['useradd --system --shell /usr/sbin/nologin --home-dir /var/cache/provision/exporter-build --no-create-home --user-group exporter-build']);
    // The build command itself, as the role generates it: dash (Debian's /bin/sh) must parse it.
    const script = hostBuildScript({ repoUrl: 'https://github.com/sapcc/mosquitto-exporter.git', ref: 'v0.8.0', version: '0.8.0', buildUser: 'exporter-build' });
    await execFileP('dash', ['-n', '-c', script]);
  });

  it('runs the build as the build user (runuser), installs the binary as root afterwards', () => {
    const script = hostBuildScript({ repoUrl: 'file:///srv/exporter.git', ref: 'v0.8.0', version: '0.8.0', buildUser: 'exporter-build' });
    expect(script).toMatch(/^BUILD_USER='?exporter-build'?$/m);
    expect(script).toContain('exec runuser -u "$BUILD_USER" -- sh -c');
    expect(script).toContain('chown "$BUILD_USER" "$WORK"');
    const lines = script.split('\n');
    const install = lines.findIndex((l) => l.startsWith('install -o root -g root -m 0755 "$bin" /usr/local/bin/mosquitto_exporter'));
    const build = lines.findIndex((l) => l.startsWith('out=$(sh -c '));
    expect(build).toBeGreaterThanOrEqual(0);
    expect(install).toBeGreaterThan(build);
  });
});
