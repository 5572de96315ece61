/**
 * mqtt_auth's change summaries name the inventory's own users, roles and groups; provision's internal accounts
 * (exporter, verify, health checks) are only counted. --check on bare hosts says plainly that the broker is not
 * running yet instead of an internal connection error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planDynsec } from '../../../src/dynsec/index.js';
import { desiredAuth } from '../../../roles/mqtt_auth/desired.js';
import { dynsecChangesSummary } from '../../../roles/mqtt_auth/summary.js';
import { planWithRecordedFacts } from '../../support/recorded-facts.js';
import { createFixture, phaseSteps, removeFixture, roleContext, summaries, type Fixture } from '../../support/role-planning.js';

let fx: Fixture;

beforeAll(async () => {
  fx = await createFixture({
    os: 'debian12',
    passwords: { mqtt_admin_password: 'Adm1n-auth-pw', mqtt_health_password: 'He4lth-auth-pw', exporter_password: 'Exp0rter-auth-pw', verify_password: 'Ver1fy-auth-pw' },
    brokers: { mq1: '10.77.1.10' },
    loadbalancers: { lb1: '10.77.1.20' },
    hostFacts: { mq1: 'mq1-host-facts.txt', lb1: 'lb1-host-facts.txt' },
    extraVarsYaml: [
      '    mqtt_roles:',
      '      - rolename: sensors',
      '        acls:',
      '          - { acltype: publishClientSend, topic: "sensors/#" }',
      '    mqtt_groups:',
      '      - { groupname: field, roles: [sensors] }',
      '    mqtt_users:',
      '      - { username: plant-a, password: Pl4nt-a-pw, roles: [sensors], groups: [field] }',
      '      - { username: grafana, password: Gr4fana-pw }',
    ].join('\n'),
  });
});
afterAll(() => removeFixture(fx));

describe('mqtt_auth summaries', () => {
  it('--check on a bare host: the broker is not running yet; the inventory\'s users, roles and groups by name, provision\'s own not listed', async () => {
    // Before: "create 5 client(s) and 3 role(s) once the broker runs (not reachable now: <connection error>)",
    // counting provision's internal accounts with the user's.
    const steps = (await phaseSteps(fx, fx.plays.brokers, 'mq1', 'runtime')).filter((s) => s.role === 'mqtt_auth');
    expect(steps).toHaveLength(1);
    const step = steps[0]!.step;
    // No dynamic-security.json yet; the broker does not answer (the offline transport refuses every connection).
    const recorded = Object.fromEntries((step.facts ?? []).map((q) => [q.key, { stdout: 'absent\n' }]));
    const plan = await planWithRecordedFacts(step, fx.facts.get('mq1')!, recorded, { hostName: 'mq1', check: true });
    expect(summaries(plan)).toEqual(["the broker is not running yet (this run starts it): would create user(s) plant-a, grafana, role(s) sensors, group(s) field and provision's own accounts"]);
  });

  it('a first run: the inventory\'s changes listed, provision\'s own accounts only counted', () => {
    const ctx = roleContext(fx, fx.plays.brokers, 'mq1', 'runtime');
    const { desired, own } = desiredAuth(ctx, ctx.vars as Parameters<typeof desiredAuth>[1]);
    const changes = planDynsec({ defaultACLAccess: {}, clients: [], roles: [], groups: [] }, desired);
    const text = dynsecChangesSummary(changes, own);
    expect(text).toMatch(/^4 change\(s\) to your users, roles and groups: create role sensors with 1 ACL; create group field with roles sensors; /);
    expect(text).toContain('create client plant-a');
    expect(text).toContain('create client grafana');
    expect(text).toMatch(/; plus \d+ change\(s\) to provision's own accounts$/);
    expect(text).not.toMatch(/provision-(exporter|verify)|health/);
    // Only provision's own accounts to change (a user-less inventory): just the count.
    expect(dynsecChangesSummary(changes.filter((c) => own.has(`${c.target.kind}:${c.target.name}`)), own)).toMatch(/^\d+ change\(s\) to provision's own accounts$/);
  });
});
