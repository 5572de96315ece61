/**
 * Issue 10 items 3 and 4: mistakes that involve more than one variable, or the inventory's shape, are caught when the
 * inventory is loaded — exit 4 with file:line:column, the variable path and the fix — whichever host reads them.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkInventory } from '../../../src/cluster/inventory-checks.js';
import { exitCodeForError } from '../../../src/cli/exit-codes.js';
import { loadPlaybook } from '../../../src/engine/playbook.js';
import { knownVarNames } from '../../../src/engine/play-vars.js';
import { InputError } from '../../../src/errors.js';
import { loadInventory } from '../../../src/inventory/load.js';

const SITE = join(import.meta.dirname, '..', '..', '..', 'playbooks', 'site.yaml');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** An inventory directory from file name → text; returns the path of `hosts.ini`. */
function write(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'provision-checks-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return join(dir, 'hosts.ini');
}

const INI = '[brokers]\nmq1 ansible_host=10.0.0.1\nmq2 ansible_host=10.0.0.2\n\n[loadbalancers]\nlb1 ansible_host=10.0.0.3\n';

async function check(files: Record<string, string>) {
  const file = write({ 'hosts.ini': INI, ...files });
  const inventory = await loadInventory([file], { env: {} });
  const playbook = await loadPlaybook(SITE);
  return { file, dir: dirname(file), run: () => checkInventory(inventory, playbook, { knownNames: knownVarNames(playbook) }) };
}

async function problem(files: Record<string, string>): Promise<{ e: InputError; dir: string }> {
  const { run, dir } = await check(files);
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    expect(exitCodeForError(e)).toBe(4);
    return { e: e as InputError, dir };
  }
  throw new Error('expected the inventory checks to fail');
}

const USERS = `mqtt_roles:
  - rolename: sensors
  - rolename: ops
mqtt_groups:
  - groupname: field
    roles: [sensor]
mqtt_users:
  - username: plant-a
    password: pw-a
    roles: [sensorz]
    groups: [feild]
  - username: provision-admin
    password: pw-b
`;

describe('load-time checks of the whole inventory (issue 10 item 3)', () => {
  it('accepts a good inventory without warnings', async () => {
    const { run } = await check({ 'group_vars/all.yaml': 'mqtt_roles:\n  - rolename: sensors\nmqtt_users:\n  - { username: a, password: pw, roles: [sensors] }\n' });
    expect(run()).toEqual({ warnings: [] });
  });

  it('a duplicate username is one error at the duplicate, not one per host and not a raw dump', async () => {
    const { e, dir } = await problem({ 'group_vars/all.yaml': 'mqtt_users:\n  - username: a\n    password: x\n  - username: a\n    password: y\n' });
    expect(e.message).toBe(`${join(dir, 'group_vars/all.yaml')}:4:5 mqtt_users[1]: expected each username once: duplicate username "a" (hosts mq1, mq2, lb1)`);
  });

  it('users and groups naming undeclared roles or groups: each at its line, with "did you mean"; provision\'s own account names are refused', async () => {
    const { e, dir } = await problem({ 'group_vars/all.yaml': USERS });
    const f = join(dir, 'group_vars/all.yaml');
    expect(e.message).toContain(`${f}:10:13 mqtt_users[0].roles[0]: role 'sensorz' is not declared in mqtt_roles — did you mean 'sensors'?`);
    expect(e.message).toContain(`${f}:11:14 mqtt_users[0].groups[0]: group 'feild' is not declared in mqtt_groups — did you mean 'field'?`);
    expect(e.message).toContain(`${f}:12:15 mqtt_users[1].username: username 'provision-admin' is provision's own account (mqtt_admin_user)`);
    expect(e.message).toContain(`${f}:6:13 mqtt_groups[0].roles[0]: role 'sensor' is not declared in mqtt_roles — did you mean 'sensors'?`);
    expect(e.message.split('sensorz').length - 1).toBe(1);
  });

  it('cluster_vip and tls_renew_before_days are checked on every host, also where no role reads them', async () => {
    // Set on a load balancer only for tls_renew_before_days (the haproxy role does not read it).
    const { e, dir } = await problem({ 'group_vars/all.yaml': 'cluster_vip: 999.1.1.1/24\n', 'host_vars/lb1.yaml': 'tls_renew_before_days: 500\n' });
    expect(e.message).toContain(`${join(dir, 'group_vars/all.yaml')}:1:14 cluster_vip: expected an IPv4 address with its prefix length, such as 192.0.2.100/24, got string "999.1.1.1/24"`);
    expect(e.message).toContain(`${join(dir, 'host_vars/lb1.yaml')}:1:24 tls_renew_before_days: expected at most 396 days (certificates last 397 days), got number 500 (host lb1)`);
  });

  it('tls_extra_sans must be certificate names', async () => {
    const { e } = await problem({ 'group_vars/brokers.yaml': 'tls_extra_sans: ["mqtt.example.com", "not a name"]\n' });
    expect(e.message).toMatch(/brokers\.yaml:1:\d+ tls_extra_sans\[1\]: expected a DNS name or an IP address \(a certificate name\), got string "not a name"/);
  });

  it('a broker or load balancer whose name cannot be a certificate name is refused at its line', async () => {
    const { e, dir } = await problem({ 'hosts.ini': '[brokers]\nmq1 ansible_host=10.0.0.1\nmq@2 ansible_host=10.0.0.2\n' });
    expect(e.message).toBe(`${join(dir, 'hosts.ini')}:3:1: host name 'mq@2' cannot be a certificate name (DNS labels: letters, digits, '-' and '_', separated by '.'): rename the host and keep its address in ansible_host`);
  });
});

describe('the groups the playbook runs on (issue 10 item 4)', () => {
  it('a misspelt brokers group: names the group the playbook expects, the inventory\'s groups and "did you mean", exit 4', async () => {
    const { e, dir } = await problem({ 'hosts.ini': '[mqtt_brokers]\nmq1\nmq2\n\n[loadbalancers]\nlb1\n' });
    expect(e.file).toBe(join(dir, 'hosts.ini'));
    expect([e.line, e.column]).toEqual([1, 2]);
    expect(e.problem).toContain("on group 'brokers', which the inventory does not have (its groups: mqtt_brokers, loadbalancers) — did you mean 'mqtt_brokers'? Rename [mqtt_brokers] to [brokers]");
    expect(e.problem).toContain("'Mosquitto brokers' (");
  });

  it('no brokers group at all, or an empty one, is refused; a misspelt loadbalancers group too; a missing one is fine', async () => {
    expect((await problem({ 'hosts.ini': '[web]\nw1\n' })).e.problem).toContain("put the brokers in a group named [brokers]");
    expect((await problem({ 'hosts.ini': '[brokers]\n[brokers:children]\n' })).e.problem).toContain('which has no hosts');
    expect((await problem({ 'hosts.ini': '[brokers]\nmq1\n[loadbalancer]\nlb1\n' })).e.problem).toContain("did you mean 'loadbalancer'? Rename [loadbalancer] to [loadbalancers]");
    const { run } = await check({ 'hosts.ini': '[brokers]\nmq1\nmq2\n' });
    expect(run().warnings).toEqual([]);
  });

  it('warns when a mode has fewer brokers than it needs', async () => {
    const one = await check({ 'hosts.ini': '[brokers]\nmq1\n[loadbalancers]\nlb1\n' });
    expect(one.run().warnings).toEqual(['cluster_mode active-passive with 1 broker (mq1): no failover — while it is down the load balancers have no broker to send clients to']);
    const cedalo = await check({ 'group_vars/all.yaml': 'cluster_backend: cedalo\n' });
    expect(cedalo.run().warnings[0]).toContain('cluster_backend: cedalo with 2 brokers: Cedalo HA needs at least 3');
  });

  it('warns about a provisioned host dropped from the inventory without state: absent, saying what happens to it', async () => {
    const { run, dir } = await check({ 'pki/hosts/mq3/server.crt': 'x', 'pki/hosts/mq1/server.crt': 'x' });
    const w = run().warnings;
    expect(w).toHaveLength(1);
    expect(w[0]).toContain(`mq3 was provisioned (it has a certificate in ${join(dir, 'pki/hosts')}/mq3) but is no longer in the inventory`);
    expect(w[0]).toContain('state: absent');
  });
});
