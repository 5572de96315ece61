import { z } from 'zod';
import { StepError } from '../errors.js';
import type { ControlClient, ControlResponse } from '../mqtt/control-client.js';
import { DEFAULT_ACL_TYPES, type DefaultAclType, type DynsecState } from './types.js';

export const DYNSEC_API = 'dynamic-security';

/*
 * Shapes observed on Mosquitto 2.0.11 (Debian 12):
 *  listClients verbose → data: { totalCount, clients: [{ username, clientid?, textname?, textdescription?,
 *      disabled?: true (absent when enabled), roles: [{ rolename, priority? }], groups: [{ groupname, priority? }] }] }
 *  listRoles verbose   → data: { totalCount, roles: [{ rolename, textname?, textdescription?,
 *      acls: [{ acltype, topic, priority, allow }] }] }            (ACL priority always present, default 0)
 *  listGroups verbose  → data: { totalCount, groups: [{ groupname, textname?, textdescription?,
 *      clients: [{ username }], roles: [{ rolename, priority? }] }] }
 *  getDefaultACLAccess → data: { acls: [{ acltype, allow }] }
 * Role/group priorities of -1 (none) are omitted from the listings.
 */
const roleRef = z.object({ rolename: z.string(), priority: z.number().optional() }).passthrough();
const clientSchema = z
  .object({
    username: z.string(),
    clientid: z.string().optional(),
    textname: z.string().optional(),
    textdescription: z.string().optional(),
    disabled: z.boolean().optional(),
    roles: z.array(roleRef).default([]),
    groups: z.array(z.object({ groupname: z.string(), priority: z.number().optional() }).passthrough()).default([]),
  })
  .passthrough();
const roleSchema = z
  .object({
    rolename: z.string(),
    textname: z.string().optional(),
    textdescription: z.string().optional(),
    acls: z
      .array(z.object({ acltype: z.string(), topic: z.string(), priority: z.number().default(0), allow: z.boolean() }).passthrough())
      .default([]),
  })
  .passthrough();
const groupSchema = z
  .object({
    groupname: z.string(),
    textname: z.string().optional(),
    textdescription: z.string().optional(),
    roles: z.array(roleRef).default([]),
    clients: z.array(z.object({ username: z.string() }).passthrough()).default([]),
  })
  .passthrough();

function dataOf<S extends z.ZodTypeAny>(r: ControlResponse, schema: S, what: string): z.output<S> {
  if (r.error) throw new StepError(`dynamic security ${r.command} failed: ${r.error}`);
  const parsed = schema.safeParse(r.data);
  if (!parsed.success) throw new StepError(`unexpected ${what} reply from the dynamic-security plugin: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

/** Parses the four responses of `READ_COMMANDS` (exported for tests and for callers batching other reads). */
export function parseDynsecState(responses: ControlResponse[]): DynsecState {
  const [rc, rr, rg, rd] = responses;
  const clients = dataOf(rc, z.object({ totalCount: z.number().optional(), clients: z.array(clientSchema) }), 'listClients');
  const roles = dataOf(rr, z.object({ totalCount: z.number().optional(), roles: z.array(roleSchema) }), 'listRoles');
  const groups = dataOf(rg, z.object({ totalCount: z.number().optional(), groups: z.array(groupSchema) }), 'listGroups');
  const dacl = dataOf(rd, z.object({ acls: z.array(z.object({ acltype: z.string(), allow: z.boolean() }).passthrough()) }), 'getDefaultACLAccess');
  if (clients.totalCount !== undefined && clients.totalCount !== clients.clients.length)
    throw new StepError(`listClients returned ${clients.clients.length} of ${clients.totalCount} clients`);
  if (roles.totalCount !== undefined && roles.totalCount !== roles.roles.length)
    throw new StepError(`listRoles returned ${roles.roles.length} of ${roles.totalCount} roles`);
  if (groups.totalCount !== undefined && groups.totalCount !== groups.groups.length)
    throw new StepError(`listGroups returned ${groups.groups.length} of ${groups.totalCount} groups`);

  const defaultACLAccess: Partial<Record<DefaultAclType, boolean>> = {};
  for (const a of dacl.acls) if ((DEFAULT_ACL_TYPES as readonly string[]).includes(a.acltype)) defaultACLAccess[a.acltype as DefaultAclType] = a.allow;

  return {
    defaultACLAccess,
    clients: clients.clients.map((c) => ({
      username: c.username,
      ...(c.clientid !== undefined ? { clientid: c.clientid } : {}),
      ...(c.textname !== undefined ? { textname: c.textname } : {}),
      ...(c.textdescription !== undefined ? { textdescription: c.textdescription } : {}),
      disabled: c.disabled === true,
      roles: c.roles.map((r) => (r.priority === undefined ? { rolename: r.rolename } : { rolename: r.rolename, priority: r.priority })),
      groups: c.groups.map((g) => (g.priority === undefined ? { groupname: g.groupname } : { groupname: g.groupname, priority: g.priority })),
    })),
    roles: roles.roles.map((r) => ({
      rolename: r.rolename,
      ...(r.textname !== undefined ? { textname: r.textname } : {}),
      ...(r.textdescription !== undefined ? { textdescription: r.textdescription } : {}),
      acls: r.acls.map((a) => ({ acltype: a.acltype, topic: a.topic, priority: a.priority, allow: a.allow })),
    })),
    groups: groups.groups.map((g) => ({
      groupname: g.groupname,
      ...(g.textname !== undefined ? { textname: g.textname } : {}),
      ...(g.textdescription !== undefined ? { textdescription: g.textdescription } : {}),
      roles: g.roles.map((r) => (r.priority === undefined ? { rolename: r.rolename } : { rolename: r.rolename, priority: r.priority })),
      clients: g.clients.map((c) => c.username),
    })),
  };
}

export const READ_COMMANDS = [
  { command: 'listClients', verbose: true },
  { command: 'listRoles', verbose: true },
  { command: 'listGroups', verbose: true },
  { command: 'getDefaultACLAccess' },
] as const;

/** The broker's whole dynsec state in ONE request (listClients/listRoles/listGroups verbose + getDefaultACLAccess). */
export async function readDynsecState(client: ControlClient): Promise<DynsecState> {
  const responses = await client.request(DYNSEC_API, READ_COMMANDS.map((c) => ({ ...c })));
  return parseDynsecState(responses);
}
