/**
 * Inventory form of the desired dynamic-security state:
 *
 *   mqtt_default_acl_access: { subscribe: false, publishClientSend: false }
 *   mqtt_roles:  [{ rolename: sensors, textname: Sensors, acls: [{ acltype: publishClientSend, topic: "sensors/#", allow: true, priority: 1 }] }]
 *   mqtt_groups: [{ groupname: field, roles: [sensors, { rolename: ops, priority: 2 }] }]
 *   mqtt_users:  [{ username: bob, password: "{{ lookup('env','BOB_PW') }}", roles: [sensors], groups: [field], disabled: false }]
 *
 * Role references may be a plain rolename or `{ rolename, priority }`. Passwords may be strings or
 * `Secret`s (env/file lookups); both become `Secret`.
 */
import { z } from 'zod';
import { Secret } from '../secrets.js';
import { zMqttName } from '../inventory/schema.js';
import { topicFilterProblem } from './topic.js';
import { ACL_TYPES, DEFAULT_ACL_TYPES, type DesiredAuth } from './types.js';

const name = zMqttName;

/** A free-text label: JSON carries any character, but the broker keeps it as a C string (a NUL would never converge). */
const textname = z.string().refine((s) => !s.includes('\u0000'), 'expected a text without NUL characters');

/** A topic filter, checked here so that the broker never refuses one half-way through a change set. */
export const topicFilterSchema = z.string().superRefine((t, ctx) => {
  const problem = topicFilterProblem(t);
  if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected a valid MQTT topic filter, not ${problem}` });
});

export const secretSchema = z
  .union([z.string().min(1, 'password must not be empty'), z.instanceof(Secret)])
  .transform((v) => (typeof v === 'string' ? new Secret(v) : v))
  .refine((s) => s.reveal().length > 0, 'password must not be empty')
  // mosquitto_passwd reads the password as one line; the broker keeps it as a C string.
  .refine((s) => !/[\r\n\u0000]/.test(s.reveal()), 'expected a password without CR, LF or NUL characters');

export const roleRefSchema = z
  .union([
    name,
    z
      .object({
        rolename: name,
        priority: z.number().int().optional(),
      })
      .strict(),
  ])
  .transform((v) => (typeof v === 'string' ? { rolename: v } : v));

export const mqttAclSchema = z
  .object({
    acltype: z.enum(ACL_TYPES),
    topic: topicFilterSchema,
    allow: z.boolean().default(true),
    priority: z.number().int().optional(),
  })
  .strict();

export const mqttUserSchema = z
  .object({
    username: name,
    password: secretSchema,
    textname: textname.optional(),
    roles: z.array(roleRefSchema).default([]),
    groups: z.array(name).optional(),
    disabled: z.boolean().optional(),
  })
  .strict();

export const mqttRoleSchema = z
  .object({
    rolename: name,
    textname: textname.optional(),
    acls: z.array(mqttAclSchema).default([]),
  })
  .strict();

export const mqttGroupSchema = z
  .object({
    groupname: name,
    roles: z.array(roleRefSchema).default([]),
  })
  .strict();

export const mqttDefaultAclAccessSchema = z
  .object(Object.fromEntries(DEFAULT_ACL_TYPES.map((k) => [k, z.boolean().optional()])) as Record<(typeof DEFAULT_ACL_TYPES)[number], z.ZodOptional<z.ZodBoolean>>)
  .strict();

/** Duplicates are refused where the list is read (at load time, at the duplicate's line), not first by the broker. */
function unique<T>(key: (item: T) => string, what: string) {
  return (list: T[], ctx: z.RefinementCtx) => {
    const seen = new Set<string>();
    list.forEach((item, i) => {
      const k = key(item);
      if (seen.has(k)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [i], message: `expected each ${what} once: duplicate ${what} "${k}"` });
      seen.add(k);
    });
  };
}

export const mqttUsersSchema = z.array(mqttUserSchema).superRefine(unique((u) => u.username, 'username'));
export const mqttRolesSchema = z
  .array(mqttRoleSchema)
  .superRefine(unique((r) => r.rolename, 'rolename'))
  .superRefine((roles, ctx) =>
    roles.forEach((r, i) => {
      const seen = new Set<string>();
      r.acls.forEach((a, j) => {
        const k = `${a.acltype} ${a.topic}`;
        if (seen.has(k)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [i, 'acls', j], message: `expected one entry per acltype and topic: duplicate ACL ${k}` });
        seen.add(k);
      });
    }),
  );
export const mqttGroupsSchema = z.array(mqttGroupSchema).superRefine(unique((g) => g.groupname, 'groupname'));

/** The four inventory variables together; duplicates are refused by the list schemas, unknown roles/groups by planDynsec. */
export const dynsecInventorySchema = z
  .object({
    mqtt_users: mqttUsersSchema.default([]),
    mqtt_roles: mqttRolesSchema.default([]),
    mqtt_groups: mqttGroupsSchema.default([]),
    mqtt_default_acl_access: mqttDefaultAclAccessSchema.optional(),
  });

export type DynsecInventory = z.infer<typeof dynsecInventorySchema>;

/**
 * Builds `DesiredAuth` from the inventory variables (already parsed or raw). `protectedNames` are
 * never deleted (default: the admin client and role). Unknown role/group references are reported by
 * `planDynsec`, which also knows what exists on the broker.
 */
export function desiredAuthFromInventory(vars: Record<string, unknown> | DynsecInventory, protectedNames: string[] = ['admin']): DesiredAuth {
  const v = dynsecInventorySchema.parse({
    mqtt_users: vars.mqtt_users,
    mqtt_roles: vars.mqtt_roles,
    mqtt_groups: vars.mqtt_groups,
    mqtt_default_acl_access: vars.mqtt_default_acl_access,
  });
  return {
    defaultACLAccess: v.mqtt_default_acl_access,
    clients: v.mqtt_users.map((u) => ({
      username: u.username,
      password: u.password,
      textname: u.textname,
      roles: u.roles,
      groups: u.groups,
      disabled: u.disabled,
    })),
    roles: v.mqtt_roles.map((r) => ({ rolename: r.rolename, textname: r.textname, acls: r.acls })),
    groups: v.mqtt_groups.map((g) => ({ groupname: g.groupname, roles: g.roles })),
    protected: [...protectedNames],
  };
}
