/**
 * planDynsec: the minimal, ordered list of dynamic-security commands turning `current` into `desired`.
 * Pure (no I/O, no randomness): the fingerprint salt of a client is reused from its current
 * fingerprint or derived from its username.
 *
 * Order (dependencies first):
 *   1. setDefaultACLAccess (only the keys that differ)
 *   2. roles: createRole (with its ACLs) | modifyRole textname, removeRoleACL / addRoleACL per entry
 *   3. groups: createGroup (with roles) | removeGroupRole / addGroupRole
 *   4. clients: createClient (password, fingerprint, roles, groups) [+ disableClient]
 *      | modifyClient textname, setClientPassword + modifyClient textdescription (fingerprint),
 *        removeClientRole / addClientRole, removeGroupClient / addGroupClient, enable/disableClient
 *   5. deletions of what is neither desired nor protected: clients, then groups, then roles
 *      (a role still held by a kept group/client is detached first: Mosquitto 2.0.11 leaves a
 *      dangling group→role reference when a role held by a group is deleted).
 * A priority change is a remove + add (the plugin answers "Internal error" to addClientRole for a
 * role the client already has, and "ACL with this topic already exists" to a second addRoleACL).
 */
import { StepError } from '../errors.js';
import { topicFilterProblem } from './topic.js';
import { defaultSalt, fingerprintMatches, parseFingerprint, passwordFingerprint } from './fingerprint.js';
import {
  ACL_TYPES,
  DEFAULT_ACL_TYPES,
  NO_PRIORITY,
  type CurrentAcl,
  type DesiredAcl,
  type DesiredAuth,
  type DynsecChange,
  type DynsecCommand,
  type DynsecState,
  type RoleRef,
} from './types.js';

export interface PlanOptions {
  /** Salt for a new fingerprint (default: reuse the current one, else derived from the username). */
  salt?: (username: string) => string;
}

const prio = (p: number | undefined) => p ?? NO_PRIORITY;
const aclPrio = (p: number | undefined) => p ?? 0;
const aclKey = (a: { acltype: string; topic: string }) => `${a.acltype}\u0000${a.topic}`;
const showPrio = (p: number | undefined) => (p === undefined || p === NO_PRIORITY ? '' : ` (priority ${p})`);
const showAcl = (a: { acltype: string; topic: string; allow: boolean; priority?: number }) =>
  `${a.acltype} ${a.topic} ${a.allow ? 'allow' : 'deny'}${a.priority ? ` priority ${a.priority}` : ''}`;

function roleRefCmd(r: RoleRef): { rolename: string; priority?: number } {
  return r.priority === undefined ? { rolename: r.rolename } : { rolename: r.rolename, priority: r.priority };
}

function aclCmd(a: DesiredAcl): { acltype: string; topic: string; allow: boolean; priority: number } {
  return { acltype: a.acltype, topic: a.topic, allow: a.allow, priority: aclPrio(a.priority) };
}

function validate(current: DynsecState, desired: DesiredAuth): void {
  const problems: string[] = [];
  const dups = (names: string[], what: string) => {
    const seen = new Set<string>();
    for (const n of names) {
      if (seen.has(n)) problems.push(`duplicate ${what} "${n}"`);
      seen.add(n);
    }
  };
  dups(desired.clients.map((c) => c.username), 'client');
  dups(desired.roles.map((r) => r.rolename), 'role');
  dups(desired.groups.map((g) => g.groupname), 'group');
  const prot = new Set(desired.protected);
  const roles = new Set([...desired.roles.map((r) => r.rolename), ...current.roles.filter((r) => prot.has(r.rolename)).map((r) => r.rolename)]);
  const groups = new Set([...desired.groups.map((g) => g.groupname), ...current.groups.filter((g) => prot.has(g.groupname)).map((g) => g.groupname)]);
  const roleHint = (n: string) => `role "${n}" is neither defined in mqtt_roles nor a protected role present on the broker`;
  for (const c of desired.clients) {
    for (const r of c.roles) if (!roles.has(r.rolename)) problems.push(`client "${c.username}": ${roleHint(r.rolename)}`);
    for (const g of c.groups ?? [])
      if (!groups.has(g)) problems.push(`client "${c.username}": group "${g}" is neither defined in mqtt_groups nor a protected group present on the broker`);
    if (new Set(c.roles.map((r) => r.rolename)).size !== c.roles.length) problems.push(`client "${c.username}": a role is listed twice`);
    if (c.password.reveal().length === 0) problems.push(`client "${c.username}": empty password (the plugin refuses it)`);
  }
  for (const g of desired.groups) {
    for (const r of g.roles) if (!roles.has(r.rolename)) problems.push(`group "${g.groupname}": ${roleHint(r.rolename)}`);
    if (new Set(g.roles.map((r) => r.rolename)).size !== g.roles.length) problems.push(`group "${g.groupname}": a role is listed twice`);
  }
  for (const r of desired.roles) {
    const seen = new Set<string>();
    for (const a of r.acls) {
      if (!(ACL_TYPES as readonly string[]).includes(a.acltype)) problems.push(`role "${r.rolename}": unknown acltype "${a.acltype}" (one of ${ACL_TYPES.join(', ')})`);
      const bad = topicFilterProblem(a.topic);
      if (bad) problems.push(`role "${r.rolename}": ACL topic ${JSON.stringify(a.topic)} is not a valid MQTT topic filter: ${bad}`);
      if (seen.has(aclKey(a))) problems.push(`role "${r.rolename}": ACL ${a.acltype} ${a.topic} is listed twice`);
      seen.add(aclKey(a));
    }
  }
  for (const k of Object.keys(desired.defaultACLAccess ?? {}))
    if (!(DEFAULT_ACL_TYPES as readonly string[]).includes(k)) problems.push(`default ACL access: unknown acltype "${k}" (one of ${DEFAULT_ACL_TYPES.join(', ')})`);
  if (problems.length) throw new StepError(`invalid MQTT users/roles/groups:\n  - ${problems.join('\n  - ')}`);
}

export function planDynsec(current: DynsecState, desired: DesiredAuth, opts: PlanOptions = {}): DynsecChange[] {
  validate(current, desired);
  const out: DynsecChange[] = [];
  const push = (kind: DynsecChange['target']['kind'], name: string, command: DynsecCommand, summary: string) =>
    out.push({ command, summary, target: { kind, name } });
  const prot = new Set(desired.protected);

  // 1. default ACL access
  const dacl: { acltype: string; allow: boolean }[] = [];
  const daclText: string[] = [];
  for (const k of DEFAULT_ACL_TYPES) {
    const want = desired.defaultACLAccess?.[k];
    if (want === undefined || current.defaultACLAccess[k] === want) continue;
    dacl.push({ acltype: k, allow: want });
    daclText.push(`${k} ${want ? 'allow' : 'deny'}`);
  }
  if (dacl.length) push('defaultACLAccess', 'default', { command: 'setDefaultACLAccess', acls: dacl }, `set default ACL access: ${daclText.join(', ')}`);

  // 2. roles
  const curRoles = new Map(current.roles.map((r) => [r.rolename, r]));
  for (const r of desired.roles) {
    const cur = curRoles.get(r.rolename);
    if (!cur) {
      push(
        'role',
        r.rolename,
        { command: 'createRole', rolename: r.rolename, ...(r.textname !== undefined ? { textname: r.textname } : {}), acls: r.acls.map(aclCmd) },
        `create role ${r.rolename} with ${r.acls.length} ACL${r.acls.length === 1 ? '' : 's'}`,
      );
      continue;
    }
    if (r.textname !== undefined && (cur.textname ?? '') !== r.textname)
      push('role', r.rolename, { command: 'modifyRole', rolename: r.rolename, textname: r.textname }, `role ${r.rolename}: set textname "${r.textname}"`);
    const want = new Map(r.acls.map((a) => [aclKey(a), a]));
    const have = new Map(cur.acls.map((a) => [aclKey(a), a]));
    const same = (a: CurrentAcl, d: DesiredAcl) => a.allow === d.allow && a.priority === aclPrio(d.priority);
    for (const a of cur.acls) {
      const d = want.get(aclKey(a));
      if (d && same(a, d)) continue;
      push(
        'role',
        r.rolename,
        { command: 'removeRoleACL', rolename: r.rolename, acltype: a.acltype, topic: a.topic },
        `role ${r.rolename}: remove ACL ${showAcl(a)}${d ? ' (changed)' : ''}`,
      );
    }
    for (const d of r.acls) {
      const a = have.get(aclKey(d));
      if (a && same(a, d)) continue;
      push('role', r.rolename, { command: 'addRoleACL', rolename: r.rolename, ...aclCmd(d) }, `role ${r.rolename}: add ACL ${showAcl(d)}`);
    }
  }

  // 3. groups
  const curGroups = new Map(current.groups.map((g) => [g.groupname, g]));
  for (const g of desired.groups) {
    const cur = curGroups.get(g.groupname);
    if (!cur) {
      push(
        'group',
        g.groupname,
        { command: 'createGroup', groupname: g.groupname, roles: g.roles.map(roleRefCmd) },
        `create group ${g.groupname}${g.roles.length ? ` with roles ${g.roles.map((r) => r.rolename).join(', ')}` : ''}`,
      );
      continue;
    }
    diffRoleRefs(cur.roles, g.roles, {
      remove: (r, changed) =>
        push('group', g.groupname, { command: 'removeGroupRole', groupname: g.groupname, rolename: r.rolename }, `group ${g.groupname}: remove role ${r.rolename}${changed ? ' (priority changed)' : ''}`),
      add: (r) =>
        push('group', g.groupname, { command: 'addGroupRole', groupname: g.groupname, ...roleRefCmd(r) }, `group ${g.groupname}: add role ${r.rolename}${showPrio(r.priority)}`),
    });
  }

  // 4. clients
  const curClients = new Map(current.clients.map((c) => [c.username, c]));
  for (const c of desired.clients) {
    const cur = curClients.get(c.username);
    const groups = c.groups ?? [];
    if (!cur) {
      const salt = opts.salt?.(c.username) ?? defaultSalt(c.username);
      push(
        'client',
        c.username,
        {
          command: 'createClient',
          username: c.username,
          password: c.password,
          ...(c.textname !== undefined ? { textname: c.textname } : {}),
          textdescription: passwordFingerprint(c.password, salt),
          roles: c.roles.map(roleRefCmd),
          groups: groups.map((g) => ({ groupname: g })),
        },
        `create client ${c.username}${c.roles.length ? ` with roles ${c.roles.map((r) => r.rolename).join(', ')}` : ''}${groups.length ? `, groups ${groups.join(', ')}` : ''}`,
      );
      if (c.disabled) push('client', c.username, { command: 'disableClient', username: c.username }, `disable client ${c.username}`);
      continue;
    }

    const modify: Record<string, unknown> = {};
    const modifyWhy: string[] = [];
    if (c.textname !== undefined && (cur.textname ?? '') !== c.textname) {
      modify.textname = c.textname;
      modifyWhy.push(`textname "${c.textname}"`);
    }
    if (!fingerprintMatches(cur.textdescription, c.password)) {
      const had = parseFingerprint(cur.textdescription);
      push(
        'client',
        c.username,
        { command: 'setClientPassword', username: c.username, password: c.password },
        `client ${c.username}: set password (${had ? 'password changed' : 'not set by provision before'})`,
      );
      const salt = had?.salt ?? opts.salt?.(c.username) ?? defaultSalt(c.username);
      modify.textdescription = passwordFingerprint(c.password, salt);
      modifyWhy.push('password fingerprint');
    }
    if (modifyWhy.length)
      push('client', c.username, { command: 'modifyClient', username: c.username, ...modify }, `client ${c.username}: set ${modifyWhy.join(', ')}`);

    diffRoleRefs(cur.roles, c.roles, {
      remove: (r, changed) =>
        push('client', c.username, { command: 'removeClientRole', username: c.username, rolename: r.rolename }, `client ${c.username}: remove role ${r.rolename}${changed ? ' (priority changed)' : ''}`),
      add: (r) =>
        push('client', c.username, { command: 'addClientRole', username: c.username, ...roleRefCmd(r) }, `client ${c.username}: add role ${r.rolename}${showPrio(r.priority)}`),
    });

    const haveGroups = new Set(cur.groups.map((g) => g.groupname));
    const wantGroups = new Set(groups);
    for (const g of cur.groups)
      if (!wantGroups.has(g.groupname))
        push('client', c.username, { command: 'removeGroupClient', groupname: g.groupname, username: c.username }, `client ${c.username}: leave group ${g.groupname}`);
    for (const g of groups)
      if (!haveGroups.has(g)) push('client', c.username, { command: 'addGroupClient', groupname: g, username: c.username }, `client ${c.username}: join group ${g}`);

    const wantDisabled = c.disabled === true;
    if (cur.disabled !== wantDisabled)
      push('client', c.username, { command: wantDisabled ? 'disableClient' : 'enableClient', username: c.username }, `${wantDisabled ? 'disable' : 'enable'} client ${c.username}`);
  }

  // 5. deletions
  const wantClients = new Set(desired.clients.map((c) => c.username));
  const wantGroups = new Set(desired.groups.map((g) => g.groupname));
  const wantRoles = new Set(desired.roles.map((r) => r.rolename));
  const deletedClients = new Set<string>();
  for (const c of current.clients) {
    if (wantClients.has(c.username) || prot.has(c.username)) continue;
    deletedClients.add(c.username);
    push('client', c.username, { command: 'deleteClient', username: c.username }, `delete client ${c.username} (not in the inventory)`);
  }
  const deletedGroups = new Set<string>();
  for (const g of current.groups) {
    if (wantGroups.has(g.groupname) || prot.has(g.groupname)) continue;
    deletedGroups.add(g.groupname);
    push('group', g.groupname, { command: 'deleteGroup', groupname: g.groupname }, `delete group ${g.groupname} (not in the inventory)`);
  }
  for (const r of current.roles) {
    if (wantRoles.has(r.rolename) || prot.has(r.rolename)) continue;
    // Detach the role from kept holders the plan did not reconcile (protected, not in the inventory).
    for (const g of current.groups)
      if (!wantGroups.has(g.groupname) && !deletedGroups.has(g.groupname) && g.roles.some((x) => x.rolename === r.rolename))
        push('group', g.groupname, { command: 'removeGroupRole', groupname: g.groupname, rolename: r.rolename }, `group ${g.groupname}: remove role ${r.rolename} (role is deleted)`);
    for (const c of current.clients)
      if (!wantClients.has(c.username) && !deletedClients.has(c.username) && c.roles.some((x) => x.rolename === r.rolename))
        push('client', c.username, { command: 'removeClientRole', username: c.username, rolename: r.rolename }, `client ${c.username}: remove role ${r.rolename} (role is deleted)`);
    push('role', r.rolename, { command: 'deleteRole', rolename: r.rolename }, `delete role ${r.rolename} (not in the inventory)`);
  }
  return out;
}

function diffRoleRefs(
  have: RoleRef[],
  want: RoleRef[],
  on: { remove(r: RoleRef, changed: boolean): void; add(r: RoleRef): void },
): void {
  const wantBy = new Map(want.map((r) => [r.rolename, r]));
  const haveBy = new Map(have.map((r) => [r.rolename, r]));
  for (const r of have) {
    const w = wantBy.get(r.rolename);
    if (w && prio(w.priority) === prio(r.priority)) continue;
    on.remove(r, !!w);
  }
  for (const r of want) {
    const h = haveBy.get(r.rolename);
    if (h && prio(h.priority) === prio(r.priority)) continue;
    on.add(r);
  }
}
