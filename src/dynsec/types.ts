import type { Secret } from '../secrets.js';

/** ACL types of a role (`addRoleACL`). */
export const ACL_TYPES = [
  'publishClientSend',
  'publishClientReceive',
  'subscribeLiteral',
  'subscribePattern',
  'unsubscribeLiteral',
  'unsubscribePattern',
] as const;
export type AclType = (typeof ACL_TYPES)[number];

/** ACL types of `setDefaultACLAccess` / `getDefaultACLAccess`. */
export const DEFAULT_ACL_TYPES = ['publishClientSend', 'publishClientReceive', 'subscribe', 'unsubscribe'] as const;
export type DefaultAclType = (typeof DEFAULT_ACL_TYPES)[number];

/** Priority the plugin stores when a client/group role is given none; it omits the key when listing. */
export const NO_PRIORITY = -1;

export interface RoleRef {
  rolename: string;
  priority?: number;
}

export interface DesiredAcl {
  acltype: string;
  topic: string;
  allow: boolean;
  /** Default 0 (as the plugin stores it). */
  priority?: number;
}

export interface DesiredClient {
  username: string;
  password: Secret;
  /** Left untouched when undefined. */
  textname?: string;
  roles: RoleRef[];
  /** Group memberships (undefined = none). */
  groups?: string[];
  /** Undefined = enabled. */
  disabled?: boolean;
}

export interface DesiredRole {
  rolename: string;
  /** Left untouched when undefined. */
  textname?: string;
  acls: DesiredAcl[];
}

export interface DesiredGroup {
  groupname: string;
  roles: RoleRef[];
}

/** The complete authentication/authorisation state the inventory asks for. */
export interface DesiredAuth {
  /** Only the listed keys are managed. */
  defaultACLAccess?: Partial<Record<DefaultAclType, boolean>>;
  clients: DesiredClient[];
  roles: DesiredRole[];
  groups: DesiredGroup[];
  /** Names of clients/roles/groups that are never deleted (e.g. the admin client and role). */
  protected: string[];
}

/* ---- what the broker reports (listClients/listRoles/listGroups verbose, getDefaultACLAccess) ---- */

export interface CurrentClient {
  username: string;
  textname?: string;
  textdescription?: string;
  clientid?: string;
  disabled: boolean;
  /** `priority` is absent when the plugin stores -1 (none). */
  roles: RoleRef[];
  groups: { groupname: string; priority?: number }[];
}

export interface CurrentAcl {
  acltype: string;
  topic: string;
  priority: number;
  allow: boolean;
}

export interface CurrentRole {
  rolename: string;
  textname?: string;
  textdescription?: string;
  acls: CurrentAcl[];
}

export interface CurrentGroup {
  groupname: string;
  textname?: string;
  textdescription?: string;
  roles: RoleRef[];
  clients: string[];
}

export interface DynsecState {
  defaultACLAccess: Partial<Record<DefaultAclType, boolean>>;
  clients: CurrentClient[];
  roles: CurrentRole[];
  groups: CurrentGroup[];
}

/** One dynamic-security API command (JSON object; `password` values are `Secret`s, revealed only on the wire). */
export type DynsecCommand = { command: string } & Record<string, unknown>;

export interface DynsecChange {
  command: DynsecCommand;
  /** One line for humans; never contains a password. */
  summary: string;
  target: { kind: 'client' | 'role' | 'group' | 'defaultACLAccess'; name: string };
}
