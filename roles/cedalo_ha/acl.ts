/**
 * The admin's right to use the HA control API: `<prefix>/cedalo/ha/#` (publishClientSend,
 * publishClientReceive, subscribePattern) on the admin client's role.
 *
 * Why here and not in `mqtt_roles`: the admin client and its role are protected from the inventory's
 * dynamic-security reconciliation (mqtt_auth never edits or deletes them), so the inventory cannot grant
 * them anything; a separate role attached to the admin would be deleted by mqtt_auth as "not in the
 * inventory". Adding the entries to the admin role itself is stable: mqtt_auth leaves that role alone.
 * The dynamic-security plugin disconnects the admin session when its role changes (expected; the
 * result is verified on a new connection).
 */
import type { Step } from '../../src/engine/types.js';
import type { HostContext } from '../../src/engine/types.js';
import { StepError } from '../../src/errors.js';
import { ControlClient, ControlConnectionLostError } from '../../src/mqtt/control-client.js';
import { redact, type Secret } from '../../src/secrets.js';
import { haControlAcls } from './vars.js';

const DYNSEC = 'dynamic-security';

interface Acl {
  acltype: string;
  topic: string;
  allow: boolean;
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

/** Retries once or twice when the session was (still) being dropped by the plugin's kick. */
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

export function controlAclStep(o: { adminPort: number; controlPrefix: string; login: { username: string; password: Secret } }): Step {
  const wanted = haControlAcls(o.controlPrefix);
  const connect = (ctx: HostContext) =>
    ControlClient.connect({
      stream: () => ctx.transport.forward('127.0.0.1', o.adminPort),
      username: o.login.username,
      password: o.login.password,
      label: `${ctx.name} admin listener 127.0.0.1:${o.adminPort}`,
    });
  return {
    name: `admin role may use the Cedalo HA control API (${o.controlPrefix}/cedalo/ha/#)`,
    plan: async (ctx) => {
      let client: ControlClient;
      try {
        client = await connect(ctx);
      } catch (e) {
        if (!ctx.check) throw e;
        return { changes: [{ summary: `grant the admin role ${wanted.map((w) => w.acltype).join(', ')} on ${wanted[0]!.topic} (broker not reachable yet: ${redact((e as Error).message)})` }] };
      }
      let role: { rolename: string; acls: Acl[] };
      try {
        role = await adminRole(client, o.login.username);
      } finally {
        await client.close();
      }
      const commands = aclCommands(role.rolename, role.acls, wanted);
      if (commands.length === 0) return { changes: [] };
      return {
        changes: [
          {
            summary: `role ${role.rolename}: ${commands.map((c) => `${String(c.command)} ${String(c.acltype)} ${String(c.topic)}`).join(', ')}`,
            diff: commands.map((c) => `${c.command === 'addRoleACL' ? '+' : '-'} ${role.rolename}: ${String(c.acltype)} ${String(c.topic)}`).join('\n'),
            apply: async (hc) => {
              const again = await connect(hc);
              try {
                try {
                  const responses = await again.request(DYNSEC, commands);
                  const failed = responses.filter((r) => r.error !== undefined);
                  if (failed.length) throw new StepError(`dynamic-security: ${failed.map((r) => `${r.command}: ${r.error}`).join('; ')}`);
                } catch (e) {
                  // The plugin disconnects every client of a changed role — this session included.
                  if (!(e instanceof ControlConnectionLostError)) throw e;
                }
                const after = await withReconnect(() => adminRole(again, o.login.username));
                const left = aclCommands(after.rolename, after.acls, wanted);
                if (left.length) throw new StepError(`role ${after.rolename} still lacks ${left.map((c) => `${String(c.acltype)} ${String(c.topic)}`).join(', ')} after the change`);
                return 'verified on a new session';
              } finally {
                await again.close();
              }
            },
          },
        ],
      };
    },
  };
}
