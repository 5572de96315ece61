import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DynsecApplyError,
  applyDynsec,
  defaultSalt,
  desiredAuthFromInventory,
  fingerprintMatches,
  passwordFingerprint,
  planDynsec,
  readDynsecState,
  reconcileDynsec,
  type DesiredAuth,
  type DynsecChange,
  type DynsecState,
} from '../../../src/dynsec/index.js';
import { StepError } from '../../../src/errors.js';
import { ControlClient, ControlConnectError, ControlTimeoutError } from '../../../src/mqtt/control-client.js';
import { Secret } from '../../../src/secrets.js';
import { startLocalBroker, type LocalBroker } from '../../fixtures/cedalo-ha-simulator/local-broker.js';

const BOB_PW = 'bob-secret-pw-1';
const BOB_PW2 = 'bob-secret-pw-2';
const CAROL_PW = 'carol-secret-pw-1';
const ADMIN_PW = 'admin-secret-pw-1';
const ADMIN_PW2 = 'admin-secret-pw-2';

const ADMIN_ROLE = {
  rolename: 'admin',
  acls: [
    { acltype: 'publishClientSend', topic: '$CONTROL/dynamic-security/#', priority: 0, allow: true },
    { acltype: 'subscribePattern', topic: '$CONTROL/dynamic-security/#', priority: 0, allow: true },
  ],
};

function initialState(): DynsecState {
  return {
    defaultACLAccess: { publishClientSend: false, publishClientReceive: true, subscribe: false, unsubscribe: true },
    clients: [{ username: 'admin', textname: 'Dynsec admin user', disabled: false, roles: [{ rolename: 'admin' }], groups: [] }],
    roles: [structuredClone(ADMIN_ROLE)],
    groups: [],
  };
}

function desired(overrides: Partial<DesiredAuth> = {}): DesiredAuth {
  return {
    clients: [
      { username: 'bob', password: new Secret(BOB_PW), textname: 'Bob', roles: [{ rolename: 'sensors', priority: 1 }], groups: ['field'] },
    ],
    roles: [
      {
        rolename: 'sensors',
        textname: 'Sensors',
        acls: [
          { acltype: 'publishClientSend', topic: 'sensors/#', allow: true },
          { acltype: 'subscribePattern', topic: 'sensors/#', allow: true, priority: 2 },
        ],
      },
      { rolename: 'ops', acls: [{ acltype: 'subscribePattern', topic: 'ops/#', allow: true }] },
    ],
    groups: [{ groupname: 'field', roles: [{ rolename: 'ops' }] }],
    protected: ['admin'],
    ...overrides,
  };
}

/** The state a broker reports after `desired()` was applied to `initialState()`. */
function appliedState(pw = BOB_PW): DynsecState {
  const s = initialState();
  s.roles.push(
    {
      rolename: 'sensors',
      textname: 'Sensors',
      acls: [
        { acltype: 'publishClientSend', topic: 'sensors/#', priority: 0, allow: true },
        { acltype: 'subscribePattern', topic: 'sensors/#', priority: 2, allow: true },
      ],
    },
    { rolename: 'ops', acls: [{ acltype: 'subscribePattern', topic: 'ops/#', priority: 0, allow: true }] },
  );
  s.groups.push({ groupname: 'field', roles: [{ rolename: 'ops' }], clients: ['bob'] });
  s.clients.push({
    username: 'bob',
    textname: 'Bob',
    textdescription: passwordFingerprint(new Secret(pw), defaultSalt('bob')),
    disabled: false,
    roles: [{ rolename: 'sensors', priority: 1 }],
    groups: [{ groupname: 'field' }],
  });
  return s;
}

const commands = (plan: DynsecChange[]) => plan.map((c) => `${c.command.command}:${String(c.command.username ?? c.command.rolename ?? c.command.groupname ?? '')}`);

function expectNoSecrets(text: string) {
  for (const pw of [BOB_PW, BOB_PW2, CAROL_PW, ADMIN_PW, ADMIN_PW2]) expect(text).not.toContain(pw);
}

describe('planDynsec (pure)', () => {
  it('creates roles before the groups and clients that use them', () => {
    const plan = planDynsec(initialState(), desired());
    expect(commands(plan)).toEqual(['createRole:sensors', 'createRole:ops', 'createGroup:field', 'createClient:bob']);
    const create = plan[3].command;
    expect(create.password).toBeInstanceOf(Secret);
    expect(fingerprintMatches(create.textdescription as string, new Secret(BOB_PW))).toBe(true);
    expect(create.roles).toEqual([{ rolename: 'sensors', priority: 1 }]);
    expect(create.groups).toEqual([{ groupname: 'field' }]);
    expect(plan[0].command.acls).toEqual([
      { acltype: 'publishClientSend', topic: 'sensors/#', allow: true, priority: 0 },
      { acltype: 'subscribePattern', topic: 'sensors/#', allow: true, priority: 2 },
    ]);
    expectNoSecrets(JSON.stringify(plan) + plan.map((c) => c.summary).join('\n'));
  });

  it('is empty when nothing differs (and is deterministic)', () => {
    expect(planDynsec(appliedState(), desired())).toEqual([]);
    expect(planDynsec(initialState(), desired()).map((c) => c.command.textdescription)).toEqual(
      planDynsec(initialState(), desired()).map((c) => c.command.textdescription),
    );
  });

  it('adds and removes ACLs per entry; a changed ACL is removed then added', () => {
    const want = desired();
    want.roles[0].acls = [
      { acltype: 'publishClientSend', topic: 'sensors/#', allow: false }, // changed allow
      { acltype: 'subscribeLiteral', topic: 'sensors/status', allow: true }, // new
    ]; // subscribePattern sensors/# dropped
    const plan = planDynsec(appliedState(), want);
    expect(plan.map((c) => c.summary)).toEqual([
      'role sensors: remove ACL publishClientSend sensors/# allow (changed)',
      'role sensors: remove ACL subscribePattern sensors/# allow priority 2',
      'role sensors: add ACL publishClientSend sensors/# deny',
      'role sensors: add ACL subscribeLiteral sensors/status allow',
    ]);
    expect(plan[0].command).toEqual({ command: 'removeRoleACL', rolename: 'sensors', acltype: 'publishClientSend', topic: 'sensors/#' });
  });

  it('sets the password only when the fingerprint does not match', () => {
    const plan = planDynsec(appliedState(BOB_PW), desired({ clients: [{ ...desired().clients[0], password: new Secret(BOB_PW2) }] }));
    expect(commands(plan)).toEqual(['setClientPassword:bob', 'modifyClient:bob']);
    expect(plan[0].summary).toBe('client bob: set password (password changed)');
    expect(fingerprintMatches(plan[1].command.textdescription as string, new Secret(BOB_PW2))).toBe(true);
    expectNoSecrets(JSON.stringify(plan) + plan.map((c) => c.summary).join('\n'));

    // A client created outside provision (no fingerprint) gets its password set once.
    const foreign = appliedState();
    delete foreign.clients[1].textdescription;
    const once = planDynsec(foreign, desired());
    expect(once.map((c) => c.summary)).toEqual(['client bob: set password (not set by provision before)', 'client bob: set password fingerprint']);
  });

  it('deletes extra clients, groups and roles but keeps the protected admin', () => {
    const cur = appliedState();
    cur.clients.push({ username: 'eve', disabled: false, roles: [{ rolename: 'old' }], groups: [{ groupname: 'oldgroup' }] });
    cur.roles.push({ rolename: 'old', acls: [] });
    cur.groups.push({ groupname: 'oldgroup', roles: [{ rolename: 'old' }], clients: ['eve'] });
    cur.clients[0].roles.push({ rolename: 'old' }); // the admin holds a role that goes away
    const plan = planDynsec(cur, desired());
    expect(commands(plan)).toEqual(['deleteClient:eve', 'deleteGroup:oldgroup', 'removeClientRole:admin', 'deleteRole:old']);
    expect(plan.some((c) => c.target.name === 'admin' && c.command.command.startsWith('delete'))).toBe(false);
  });

  it('changes client role priorities, groups, enable/disable and default ACL access', () => {
    const want = desired({ defaultACLAccess: { subscribe: true, publishClientReceive: true } });
    want.clients[0] = { ...want.clients[0], roles: [{ rolename: 'sensors', priority: 5 }, { rolename: 'ops' }], groups: [], disabled: true };
    const plan = planDynsec(appliedState(), want);
    expect(plan.map((c) => c.summary)).toEqual([
      'set default ACL access: subscribe allow',
      'client bob: remove role sensors (priority changed)',
      'client bob: add role sensors (priority 5)',
      'client bob: add role ops',
      'client bob: leave group field',
      'disable client bob',
    ]);
    expect(plan[0].command).toEqual({ command: 'setDefaultACLAccess', acls: [{ acltype: 'subscribe', allow: true }] });
  });

  it('refuses references to unknown roles and groups', () => {
    const want = desired();
    want.clients[0].roles.push({ rolename: 'nope' });
    want.clients[0].groups = ['nogroup'];
    expect(() => planDynsec(initialState(), want)).toThrow(StepError);
    expect(() => planDynsec(initialState(), want)).toThrow(/role "nope".*\n.*group "nogroup"/);
  });

  it('parses the inventory form (strict, passwords become Secrets)', () => {
    const d = desiredAuthFromInventory({
      mqtt_users: [{ username: 'bob', password: BOB_PW, roles: ['sensors', { rolename: 'ops', priority: 3 }] }],
      mqtt_roles: [{ rolename: 'sensors', acls: [{ acltype: 'subscribePattern', topic: 'a/#' }] }],
      mqtt_groups: [{ groupname: 'g', roles: ['sensors'] }],
      mqtt_default_acl_access: { subscribe: false },
    });
    expect(d.clients[0].password).toBeInstanceOf(Secret);
    expect(d.clients[0].roles).toEqual([{ rolename: 'sensors' }, { rolename: 'ops', priority: 3 }]);
    expect(d.roles[0].acls[0].allow).toBe(true);
    expect(d.protected).toEqual(['admin']);
    expectNoSecrets(JSON.stringify(d));
    expect(() => desiredAuthFromInventory({ mqtt_users: [{ username: 'x', password: 'p', rol: [] }] })).toThrow(/rol/);
    expect(() => desiredAuthFromInventory({ mqtt_roles: [{ rolename: 'r', acls: [{ acltype: 'publish', topic: 't' }] }] })).toThrow();
    expect(() => desiredAuthFromInventory({ mqtt_default_acl_access: { subscribeLiteral: true } })).toThrow();
  });
});

/* ------------------------------------------------------------------------------------------ */

async function login(url: string, username: string, password: string): Promise<{ ok: true; client: MqttClient } | { ok: false; code?: number }> {
  try {
    const client = await connectAsync(url, { username, password, reconnectPeriod: 0, connectTimeout: 5000 });
    return { ok: true, client };
  } catch (e) {
    return { ok: false, code: (e as { code?: number }).code };
  }
}

describe('dynamic security on a real Mosquitto broker', () => {
  let broker: LocalBroker;
  let admin: ControlClient;

  beforeAll(async () => {
    broker = await startLocalBroker({ adminPassword: ADMIN_PW });
    // Connect through a stream, as the lead does over an SSH-forwarded channel.
    admin = await ControlClient.connect({
      stream: () => net.connect({ host: '127.0.0.1', port: broker.port }),
      username: 'admin',
      password: new Secret(ADMIN_PW),
      timeoutMs: 5000,
    });
  }, 30_000);

  afterAll(async () => {
    await admin?.close();
    await broker?.stop();
  });

  it('reads the initial state (verbose shapes)', async () => {
    const s = await readDynsecState(admin);
    expect(s.defaultACLAccess).toEqual({ publishClientSend: false, publishClientReceive: true, subscribe: false, unsubscribe: true });
    expect(s.clients).toEqual([{ username: 'admin', textname: 'Dynsec admin user', disabled: false, roles: [{ rolename: 'admin' }], groups: [] }]);
    expect(s.roles.map((r) => r.rolename)).toEqual(['admin']);
    expect(s.roles[0].acls).toContainEqual({ acltype: 'publishClientSend', topic: '$CONTROL/dynamic-security/#', priority: 0, allow: true });
    expect(s.groups).toEqual([]);
  });

  it('applies a desired state, reads it back, and the second plan is empty', async () => {
    const want = desired({ defaultACLAccess: { subscribe: true } });
    want.clients.push({ username: 'carol', password: new Secret(CAROL_PW), roles: [], disabled: true });
    const r = await reconcileDynsec(admin, want, { check: false });
    expect(commands(r.changes)).toEqual([
      'setDefaultACLAccess:',
      'createRole:sensors',
      'createRole:ops',
      'createGroup:field',
      'createClient:bob',
      'createClient:carol',
      'disableClient:carol',
    ]);
    const s = await readDynsecState(admin);
    expect(planDynsec(s, want)).toEqual([]);
    const bob = s.clients.find((c) => c.username === 'bob')!;
    expect(bob).toMatchObject({ textname: 'Bob', disabled: false, roles: [{ rolename: 'sensors', priority: 1 }], groups: [{ groupname: 'field' }] });
    expect(fingerprintMatches(bob.textdescription, new Secret(BOB_PW))).toBe(true);
    expect(s.clients.find((c) => c.username === 'carol')!.disabled).toBe(true);
    expect(s.groups).toEqual([{ groupname: 'field', roles: [{ rolename: 'ops' }], clients: ['bob'] }]);
    expect(s.roles.find((x) => x.rolename === 'sensors')!.acls).toEqual([
      { acltype: 'publishClientSend', topic: 'sensors/#', priority: 0, allow: true },
      { acltype: 'subscribePattern', topic: 'sensors/#', priority: 2, allow: true },
    ]);
    // setDefaultACLAccess really took effect
    const [dacl] = await admin.request('dynamic-security', [{ command: 'getDefaultACLAccess' }]);
    expect(dacl.data.acls).toContainEqual({ acltype: 'subscribe', allow: true });
    expect(s.defaultACLAccess.subscribe).toBe(true);
    // check mode plans but does not apply
    const check = await reconcileDynsec(admin, desired({ defaultACLAccess: { subscribe: false } }), { check: true });
    expect(check.changes.map((c) => c.summary)).toContain('set default ACL access: subscribe deny');
    expect((await readDynsecState(admin)).defaultACLAccess.subscribe).toBe(true);
  });

  it('lets the new user log in with its password, refuses a wrong one (CONNACK 5) and a disabled user', async () => {
    const ok = await login(broker.url, 'bob', BOB_PW);
    expect(ok.ok).toBe(true);
    if (ok.ok) {
      // its ACLs apply: sensors/# may be subscribed, other/# may not (default subscribe deny restored below)
      const grants = await ok.client.subscribeAsync(['sensors/#', 'ops/#']);
      expect(grants.map((g) => g.qos)).toEqual([0, 0]);
      await ok.client.endAsync();
    }
    expect(await login(broker.url, 'bob', 'wrong-password')).toEqual({ ok: false, code: 5 });
    expect(await login(broker.url, 'carol', CAROL_PW)).toEqual({ ok: false, code: 5 });
    const viaControl = await ControlClient.connect({ url: broker.url, username: 'bob', password: new Secret('wrong-password'), timeoutMs: 3000 }).catch((e) => e);
    expect(viaControl).toBeInstanceOf(ControlConnectError);
    expect(viaControl.reasonCode).toBe(5);
    expect(String(viaControl.message)).not.toContain('wrong-password');
  });

  it('changes a password (fingerprint drift), deletes a user removed from the inventory, denies by default ACL', async () => {
    const want = desired({ defaultACLAccess: { subscribe: false } });
    want.clients[0] = { ...want.clients[0], password: new Secret(BOB_PW2) };
    const r = await reconcileDynsec(admin, want, { check: false });
    expect(r.changes.map((c) => c.summary)).toEqual([
      'set default ACL access: subscribe deny',
      'client bob: set password (password changed)',
      'client bob: set password fingerprint',
      'delete client carol (not in the inventory)',
    ]);
    expectNoSecrets(r.changes.map((c) => c.summary).join('\n') + JSON.stringify(r.changes));
    expect(await login(broker.url, 'bob', BOB_PW)).toEqual({ ok: false, code: 5 });
    const ok = await login(broker.url, 'bob', BOB_PW2);
    expect(ok.ok).toBe(true);
    if (ok.ok) {
      expect(await ok.client.subscribeAsync('sensors/#')).toEqual([{ topic: 'sensors/#', qos: 0 }]);
      // default subscribe access is deny again: mqtt.js rejects on SUBACK 0x80
      await expect(ok.client.subscribeAsync('nothing/#')).rejects.toThrow(/Subscribe error/);
      await ok.client.endAsync();
    }
    const s = await readDynsecState(admin);
    expect(s.clients.map((c) => c.username).sort()).toEqual(['admin', 'bob']);
    expect(planDynsec(s, want)).toEqual([]);
  });

  it('drops a role and a group cleanly, keeping the protected admin', async () => {
    const want = desired({ groups: [], defaultACLAccess: { subscribe: false } });
    want.roles = want.roles.filter((r) => r.rolename !== 'ops');
    want.clients[0] = { ...want.clients[0], password: new Secret(BOB_PW2), groups: [] };
    const r = await reconcileDynsec(admin, want, { check: false });
    expect(commands(r.changes)).toEqual(['removeGroupClient:bob', 'deleteGroup:field', 'deleteRole:ops']);
    const s = await readDynsecState(admin);
    expect(s.groups).toEqual([]);
    expect(s.roles.map((x) => x.rolename).sort()).toEqual(['admin', 'sensors']);
    expect(s.clients.find((c) => c.username === 'admin')).toBeDefined();
  });

  it('applies in dependency stages, stops at the first refused stage and names the refused and the unsent commands', async () => {
    const bad: DynsecChange[] = [
      { command: { command: 'deleteRole', rolename: 'does-not-exist' }, summary: 'delete role does-not-exist', target: { kind: 'role', name: 'does-not-exist' } },
      { command: { command: 'createRole', rolename: 'fine-role' }, summary: 'create role fine-role', target: { kind: 'role', name: 'fine-role' } },
      {
        command: { command: 'setClientPassword', username: 'nobody', password: new Secret('nobody-pw-123') },
        summary: 'client nobody: set password',
        target: { kind: 'client', name: 'nobody' },
      },
    ];
    const err = await applyDynsec(admin, bad).catch((e) => e);
    expect(err).toBeInstanceOf(DynsecApplyError);
    // Stages: roles (createRole fine-role), clients (refused), deletions (not sent after a refusal).
    expect(err.message).toBe(
      'dynamic security: 1 of 3 commands refused by the broker:\n  - client nobody: set password: Client not found\n' +
        '  1 later command not sent (they depend on the refused ones; the next run plans them again):\n  - delete role does-not-exist',
    );
    expect((await readDynsecState(admin)).roles.map((r) => r.rolename)).toContain('fine-role');
    expect(err.message).not.toContain('nobody-pw-123');
    await admin.request('dynamic-security', [{ command: 'deleteRole', rolename: 'fine-role' }]);
  });

  it('survives being kicked when it changes its own client and role (admin managed by the inventory)', async () => {
    const want = desired({ defaultACLAccess: { subscribe: false }, groups: [] });
    want.roles = want.roles.filter((r) => r.rolename !== 'ops');
    want.clients[0] = { ...want.clients[0], password: new Secret(BOB_PW2), groups: [] };
    // The admin is listed with its current password (no fingerprint yet → set once) and an extra role.
    want.clients.push({ username: 'admin', password: new Secret(ADMIN_PW), roles: [{ rolename: 'admin' }, { rolename: 'sensors' }] });
    const r = await reconcileDynsec(admin, want, { check: false });
    expect(r.sessionKicked).toBe(true);
    expect(commands(r.changes)).toEqual(['setClientPassword:admin', 'modifyClient:admin', 'addClientRole:admin']);
    // the client reconnected by itself
    expect(planDynsec(await readDynsecState(admin), want)).toEqual([]);

    // Rotating the admin's own password: the session is kicked and reconnects with the new one.
    want.clients[1] = { ...want.clients[1], password: new Secret(ADMIN_PW2) };
    const rot = await reconcileDynsec(admin, want, { check: false });
    expect(rot.sessionKicked).toBe(true);
    expect(commands(rot.changes)).toEqual(['setClientPassword:admin', 'modifyClient:admin']);
    expect(planDynsec(await readDynsecState(admin), want)).toEqual([]);
    expect(await login(broker.url, 'admin', ADMIN_PW)).toEqual({ ok: false, code: 5 });
  });

  it('speaks TLS over a caller-provided stream (ca + servername)', async () => {
    const tlsDir = await mkdtemp(join(tmpdir(), 'provision-tls-'));
    const certfile = join(tlsDir, 'cert.pem');
    const keyfile = join(tlsDir, 'key.pem');
    const gen = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyfile, '-out', certfile, '-days', '1', '-subj', '/CN=mqtt.test', '-addext', 'subjectAltName=DNS:mqtt.test'], { encoding: 'utf8' });
    expect(gen.status, gen.stderr).toBe(0);
    const tlsBroker = await startLocalBroker({ adminPassword: ADMIN_PW, tls: { certfile, keyfile } });
    try {
      const ca = await readFile(certfile);
      const stream = () => net.connect({ host: '127.0.0.1', port: tlsBroker.tlsPort! });
      const c = await ControlClient.connect({ stream, ca, servername: 'mqtt.test', username: 'admin', password: new Secret(ADMIN_PW), timeoutMs: 5000 });
      expect((await readDynsecState(c)).clients.map((x) => x.username)).toEqual(['admin']);
      await c.close();
      const wrongName = await ControlClient.connect({ stream, ca, servername: 'other.test', username: 'admin', password: new Secret(ADMIN_PW), timeoutMs: 5000 }).catch((e) => e);
      expect(wrongName).toBeInstanceOf(ControlConnectError);
      expect(wrongName.message).toMatch(/other\.test/);
    } finally {
      await tlsBroker.stop();
      await rm(tlsDir, { recursive: true, force: true });
    }
  });

  it('times out naming the commands when nobody answers, and reports a refused subscription', async () => {
    // A normal-topic prefix: the admin may subscribe (subscribePattern #) but nobody answers there.
    // (the admin password was rotated by the previous test)
    const lonely = await ControlClient.connect({ url: broker.url, username: 'admin', password: new Secret(ADMIN_PW2), controlPrefix: 'nobody-home' });
    try {
      const err = await lonely.request('dynamic-security', [{ command: 'getRole', rolename: 'x' }, { command: 'other' }], { timeoutMs: 300 }).catch((e) => e);
      expect(err).toBeInstanceOf(ControlTimeoutError);
      expect(err.message).toMatch(/^no response from nobody-home\/dynamic-security\/v1 on mqtt:\/\/127\.0\.0\.1:\d+ within 300 ms for getRole\(x\), other$/);
    } finally {
      await lonely.close();
    }
    // A user without rights on $CONTROL gets a clear error instead of a timeout.
    const bob = await ControlClient.connect({ url: broker.url, username: 'bob', password: new Secret(BOB_PW2) });
    try {
      const refused = await bob.request('dynamic-security', [{ command: 'listClients' }], { timeoutMs: 300 }).catch((e) => e);
      expect(refused).toBeInstanceOf(StepError);
      expect(refused.message).toMatch(/^cannot subscribe to \$CONTROL\/dynamic-security\/v1\/response on mqtt:.*: Subscribe error/);
    } finally {
      await bob.close();
    }
  });
});
