/**
 * The admin's right to use the HA control API: `<prefix>/cedalo/ha/#` (publishClientSend,
 * publishClientReceive, subscribePattern) on the admin client's role, on every broker.
 *
 * Why here and not in `mqtt_roles`: the admin client and its role are protected from the inventory's
 * dynamic-security reconciliation (mqtt_auth never edits or deletes them), so the inventory cannot grant
 * them anything; a separate role attached to the admin would be deleted by mqtt_auth as "not in the
 * inventory". Entries added to the admin role itself stay: mqtt_auth leaves that role alone.
 *
 * The dynamic-security plugin disconnects every session of a client whose role changes — ours (the
 * result is then verified on a new session) and any other admin session (a simulator's, a Management
 * Center's): those reconnect.
 */
import type { Step } from '../../src/engine/types.js';
import type { Transport } from '../../src/transport/types.js';
import { StepError } from '../../src/errors.js';
import { ControlClient, ControlConnectionLostError } from '../../src/mqtt/control-client.js';
import { redact, type Secret } from '../../src/secrets.js';
import { haControlAcls } from '../../src/cluster/cedalo.js';

const DYNSEC = 'dynamic-security';

export interface Acl {
  acltype: string;
  topic: string;
  allow: boolean;
}

export interface AdminLogin {
  username: string;
  password: Secret;
}

async function dynsec(client: ControlClient, command: Record<string, unknown>): Promise<any> {
  const [r] = await client.request(DYNSEC, [command]);
  if (r!.error !== undefined) throw new StepError(`dynamic-security ${String(command.command)} failed: ${r!.error}`);
  return r!.data;
}

/** The admin client's role (`admin`, as `mosquitto_ctrl dynsec init` names it, else its first role) and its ACLs. */
export async function adminRole(client: ControlClient, username: string): Promise<{ rolename: string; acls: Acl[] }> {
  const c = await dynsec(client, { command: 'getClient', username });
  const roles: { rolename: string }[] = c?.client?.roles ?? [];
  const rolename = roles.find((r) => r.rolename === 'admin')?.rolename ?? roles[0]?.rolename;
  if (!rolename) throw new StepError(`the admin client ${username} holds no role: cannot grant it the HA control API`);
  const r = await dynsec(client, { command: 'getRole', rolename });
  return { rolename, acls: (r?.role?.acls ?? []) as Acl[] };
}

/** Commands that make the role hold `wanted` (a wrong `allow` is removed, then added again). */
export function aclCommands(rolename: string, have: Acl[], wanted: Acl[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const w of wanted) {
    const h = have.find((a) => a.acltype === w.acltype && a.topic === w.topic);
    if (h?.allow === w.allow) continue;
    if (h) out.push({ command: 'removeRoleACL', rolename, acltype: w.acltype, topic: w.topic });
    out.push({ command: 'addRoleACL', rolename, acltype: w.acltype, topic: w.topic, allow: w.allow, priority: 0 });
  }
  return out;
}

export const describeAclCommand = (c: Record<string, unknown>) => `${c.command === 'addRoleACL' ? '+' : '-'} ${String(c.rolename)}: ${String(c.acltype)} ${String(c.topic)}`;

/** A dynamic-security session to the broker's admin listener (its `$CONTROL` API), through the host's SSH connection. */
export function dynsecSession(host: string, t: Transport, adminPort: number, login: AdminLogin): Promise<ControlClient> {
  return ControlClient.connect({ stream: () => t.forward('127.0.0.1', adminPort), username: login.username, password: login.password, label: `${host} admin listener 127.0.0.1:${adminPort}` });
}

/** What the broker's admin role lacks (empty: nothing to do). */
export async function missingAcls(host: string, t: Transport, o: { adminPort: number; controlPrefix: string; login: AdminLogin }): Promise<Record<string, unknown>[]> {
  const client = await dynsecSession(host, t, o.adminPort, o.login);
  try {
    const role = await adminRole(client, o.login.username);
    return aclCommands(role.rolename, role.acls, haControlAcls(o.controlPrefix));
  } finally {
    await client.close();
  }
}

/** Retries when the session was (still) being dropped by the plugin's kick. */
async function withReconnect<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof ControlConnectionLostError) || i >= 2) throw e;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}

/** Grants the HA control API to the admin role, then checks it on a new session. */
export async function grantAcls(host: string, t: Transport, o: { adminPort: number; controlPrefix: string; login: AdminLogin }): Promise<void> {
  const wanted = haControlAcls(o.controlPrefix);
  const client = await dynsecSession(host, t, o.adminPort, o.login);
  try {
    const role = await adminRole(client, o.login.username);
    const commands = aclCommands(role.rolename, role.acls, wanted);
    if (commands.length === 0) return;
    try {
      const responses = await client.request(DYNSEC, commands);
      const failed = responses.filter((r) => r.error !== undefined);
      if (failed.length) throw new StepError(`[${host}] dynamic-security: ${failed.map((r) => `${r.command}: ${r.error}`).join('; ')}`);
    } catch (e) {
      // The plugin disconnects every session of a changed role — this one included — before answering.
      if (!(e instanceof ControlConnectionLostError)) throw e;
    }
    const after = await withReconnect(() => adminRole(client, o.login.username));
    const left = aclCommands(after.rolename, after.acls, wanted);
    if (left.length) throw new StepError(`[${host}] role ${after.rolename} still lacks ${left.map((c) => `${String(c.acltype)} ${String(c.topic)}`).join(', ')} after the change`);
  } finally {
    await client.close();
  }
}

/* ------------------------------- per-host step and its barrier ------------------------------- */

/** What each broker's ACL step left for the run-once membership step (keyed by host, per play). */
export interface AclEntry {
  /** Granted in this run: the plugin dropped the admin sessions, which reconnect. */
  granted: boolean;
  /** Check mode: what a real run would grant. */
  wouldGrant?: string[];
  /** Check mode: the broker's admin listener could not be reached. */
  unreachable?: string;
}

export function aclBarrier(play: { name: string; shared: Map<string, unknown> }): Map<string, AclEntry> {
  const key = `cedalo_ha:acl:${play.name}`;
  let m = play.shared.get(key) as Map<string, AclEntry> | undefined;
  if (!m) play.shared.set(key, (m = new Map()));
  return m;
}

/**
 * This broker's admin role may use the HA control API. A step of every broker's own step list, so a
 * grant (which drops the admin's sessions on that broker) never cuts into another step's session; the
 * run-once membership step waits for all of them.
 */
export function aclStep(o: { adminPort: number; controlPrefix: string; login: AdminLogin }): Step {
  return {
    name: `admin role may use the Cedalo HA control API (${o.controlPrefix}/cedalo/ha/#)`,
    plan: async (ctx) => {
      const barrier = aclBarrier(ctx.play);
      let cmds: Record<string, unknown>[];
      try {
        cmds = await missingAcls(ctx.name, ctx.transport, o);
      } catch (e) {
        if (!ctx.check) throw e;
        const why = redact((e as Error).message);
        barrier.set(ctx.name, { granted: false, unreachable: why });
        return { changes: [{ summary: `grant the admin role ${haControlAcls(o.controlPrefix).map((a) => a.acltype).join(', ')} on ${o.controlPrefix}/cedalo/ha/# (broker not reachable yet: ${why})` }] };
      }
      if (cmds.length === 0) {
        barrier.set(ctx.name, { granted: false });
        return { changes: [] };
      }
      if (ctx.check) barrier.set(ctx.name, { granted: false, wouldGrant: cmds.map(describeAclCommand) });
      return {
        changes: [
          {
            summary: `role ${String(cmds[0]!.rolename)}: ${cmds.map((c) => `${String(c.command)} ${String(c.acltype)} ${String(c.topic)}`).join(', ')}`,
            diff: cmds.map(describeAclCommand).join('\n'),
            apply: async (hc) => {
              await grantAcls(hc.name, hc.transport, o);
              barrier.set(hc.name, { granted: true });
              return 'verified on a new session';
            },
          },
        ],
      };
    },
  };
}
