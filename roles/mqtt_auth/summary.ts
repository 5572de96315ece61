import type { DesiredAuth, DynsecChange } from '../../src/dynsec/index.js';

/** provision's own accounts (exporter, verify, health, bridge) as `kind:name`: kept apart from the user's in summaries. */
export type OwnAccounts = ReadonlySet<string>;

const isOwn = (own: OwnAccounts, c: DynsecChange) => own.has(`${c.target.kind}:${c.target.name}`);

/**
 * One line for the recap: the changes to the inventory's own users, roles and groups first and by name; provision's
 * own accounts only counted (a first run creates them everywhere, a reader looks for their own users).
 */
export function dynsecChangesSummary(changes: DynsecChange[], own: OwnAccounts): string {
  const mine = changes.filter((c) => !isOwn(own, c));
  const theirs = changes.length - mine.length;
  const listed = mine.slice(0, 6).map((c) => c.summary).join('; ') + (mine.length > 6 ? `; … ${mine.length - 6} more` : '');
  const ownPart = theirs ? `${theirs} change(s) to provision's own accounts` : '';
  if (mine.length === 0) return ownPart;
  return `${mine.length} change(s) to your users, roles and groups: ${listed}${ownPart ? `; plus ${ownPart}` : ''}`;
}

/** --check where the broker does not answer yet (bare hosts): what this run would create, in the inventory's names. */
export function notRunningSummary(desired: DesiredAuth, own: OwnAccounts): string {
  const names = (kind: 'client' | 'role' | 'group', list: { name: string }[]) => list.map((x) => x.name).filter((n) => !own.has(`${kind}:${n}`));
  const users = names('client', desired.clients.map((c) => ({ name: c.username })));
  const roles = names('role', desired.roles.map((r) => ({ name: r.rolename })));
  const groups = names('group', desired.groups.map((g) => ({ name: g.groupname })));
  const parts = [
    users.length && `user(s) ${users.join(', ')}`,
    roles.length && `role(s) ${roles.join(', ')}`,
    groups.length && `group(s) ${groups.join(', ')}`,
  ].filter(Boolean);
  return `the broker is not running yet (this run starts it): would create ${parts.length ? `${parts.join(', ')} and ` : ''}provision's own accounts`;
}
