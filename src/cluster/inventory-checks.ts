/**
 * Load-time checks of the whole inventory against what the site playbook needs, run before any host is touched
 * (exit 4): every catalogue variable on every host (not only where a role happens to read it), references between
 * variables (a user's roles and groups, provision's own account names), the groups the plays run on, and host names
 * that must become certificate names. Problems are collected and reported together, each once (a value in
 * group_vars/all is one mistake, not one per host); warnings say what a run will do that the user may not expect.
 */
import { existsSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { dynsecInventorySchema } from '../dynsec/schema.js';
import type { Playbook } from '../engine/playbook.js';
import { InputError } from '../errors.js';
import type { Inventory, InventoryHost } from '../inventory/types.js';
import { closestName } from '../inventory/typos.js';
import { validateHostVars } from '../inventory/validate.js';
import { canonicalDnsName, canonicalIp } from '../pki/names.js';
import { DEFAULT_PKI_DIR } from './certificate.js';
import { VARIABLES, defaultOf, type VariableName } from './variables.js';

/** The group every broker play runs on, and the load balancers' (optional: brokers can serve clients directly). */
export const BROKERS_GROUP = 'brokers';
export const LOADBALANCERS_GROUP = 'loadbalancers';

export interface InventoryChecks {
  /** One line each: what the run will do that may surprise (shown, never fatal). */
  warnings: string[];
}

/** Throws one InputError listing every problem; returns the warnings otherwise. */
export function checkInventory(inventory: Inventory, playbook: Playbook, opts: { knownNames?: ReadonlySet<string> } = {}): InventoryChecks {
  const problems = new Problems();
  checkPlayGroups(inventory, playbook, problems);
  const known = new Set<string>([...Object.keys(VARIABLES), ...(opts.knownNames ?? [])]);
  for (const name of inventory.hostOrder) {
    const host = inventory.hosts.get(name)!;
    if (checkCatalogue(host, inventory, known, problems)) checkReferences(host, inventory, problems);
  }
  checkCertificateNames(inventory, problems);
  problems.throwIfAny();
  return { warnings: warnings(inventory) };
}

/** InputErrors keyed by where and what, so that one value inherited by many hosts is reported once. */
class Problems {
  readonly #byKey = new Map<string, { error: InputError; hosts: string[] }>();

  add(error: InputError, host?: string): void {
    const problem = error.problem.replace(/ \(host [^)]+\)$/, '');
    const key = `${error.file}:${error.line}:${error.column} ${error.path} ${problem}`;
    const seen = this.#byKey.get(key);
    if (seen) {
      if (host && !seen.hosts.includes(host)) seen.hosts.push(host);
      return;
    }
    this.#byKey.set(key, { error: new InputError(problem, error.file, error.line, error.column, error.path), hosts: host ? [host] : [] });
  }

  throwIfAny(): void {
    const all = [...this.#byKey.values()].map(({ error, hosts }) => {
      const who = hosts.length === 0 ? '' : ` (host${hosts.length > 1 ? 's' : ''} ${hosts.slice(0, 4).join(', ')}${hosts.length > 4 ? `, … ${hosts.length} in all` : ''})`;
      return new InputError(error.problem + who, error.file, error.line, error.column, error.path);
    });
    if (all.length === 0) return;
    const [first, ...rest] = all;
    if (rest.length === 0) throw first;
    const shown = rest.slice(0, 9).map((e) => `\n  also: ${e.message}`).join('');
    const more = rest.length > 9 ? `\n  … and ${rest.length - 9} more` : '';
    throw new InputError(`${first!.problem}${shown}${more}`, first!.file, first!.line, first!.column, first!.path);
  }
}

/** Each catalogue variable a host sets, on its own (so that every wrong one is reported); false when any was wrong. */
function checkCatalogue(host: InventoryHost, inventory: Inventory, known: ReadonlySet<string>, problems: Problems): boolean {
  const opts = { inventoryFile: inventory.files[0] ?? '(inventory)', knownNames: known };
  let ok = true;
  const attempt = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      ok = false;
      for (const e of splitCombined(err)) problems.add(e, host.name);
    }
  };
  attempt(() => validateHostVars(host, z.object({}), opts)); // typos of known names
  for (const name of Object.keys(host.vars)) {
    if (!Object.prototype.hasOwnProperty.call(VARIABLES, name)) continue;
    const schema = z.object({ [name]: VARIABLES[name as VariableName] as z.ZodTypeAny });
    attempt(() => validateHostVars(host, schema, { ...opts, knownNames: new Set() }));
  }
  return ok;
}

/** validateHostVars combines several problems into one error ("also: …"): the first is kept whole, as it names a location. */
function splitCombined(err: InputError): InputError[] {
  const [head] = err.problem.split('\n  also: ');
  return [new InputError(head!, err.file, err.line, err.column, err.path)];
}

/** Users' and groups' role and group names must be declared; no user may take one of provision's own account names. */
function checkReferences(host: InventoryHost, inventory: Inventory, problems: Problems): void {
  if (!['mqtt_users', 'mqtt_groups'].some((k) => k in host.vars)) return;
  const v = dynsecInventorySchema.parse({ mqtt_users: host.vars.mqtt_users, mqtt_roles: host.vars.mqtt_roles, mqtt_groups: host.vars.mqtt_groups });
  const file = inventory.files[0] ?? '(inventory)';
  const roles = new Set(v.mqtt_roles.map((r) => r.rolename));
  const groups = new Set(v.mqtt_groups.map((g) => g.groupname));
  const at = (variable: string, path: (string | number)[], problem: string) => {
    const loc = host.varSources[variable]?.locate(path);
    problems.add(new InputError(problem, loc?.file ?? file, loc?.line || undefined, loc?.column || undefined, formatPath(variable, path)), host.name);
  };
  const undeclared = (what: 'role' | 'group', name: string, declared: Set<string>) => {
    const list = what === 'role' ? 'mqtt_roles' : 'mqtt_groups';
    const guess = closestName(name, declared);
    const hint = guess ? ` — did you mean '${guess}'?` : declared.size ? ` (declared: ${[...declared].join(', ')})` : ` (${list} declares none)`;
    return `${what} '${name}' is not declared in ${list}${hint}`;
  };
  const own = ownAccounts(host);
  v.mqtt_users.forEach((u, i) => {
    u.roles.forEach((r, j) => {
      if (!roles.has(r.rolename)) at('mqtt_users', [i, 'roles', j], undeclared('role', r.rolename, roles));
    });
    (u.groups ?? []).forEach((g, j) => {
      if (!groups.has(g)) at('mqtt_users', [i, 'groups', j], undeclared('group', g, groups));
    });
    const taken = own.get(u.username);
    if (taken) at('mqtt_users', [i, 'username'], `username '${u.username}' is provision's own account (${taken}): choose another name, or set ${taken} to another one`);
  });
  v.mqtt_groups.forEach((g, i) =>
    g.roles.forEach((r, j) => {
      if (!roles.has(r.rolename)) at('mqtt_groups', [i, 'roles', j], undeclared('role', r.rolename, roles));
    }),
  );
}

/** provision's own MQTT logins on this host, by user name → the variable naming it. */
function ownAccounts(host: InventoryHost): Map<string, string> {
  const out = new Map<string, string>();
  for (const k of ['mqtt_admin_user', 'mqtt_health_user', 'exporter_user', 'verify_user'] as const) {
    const name = typeof host.vars[k] === 'string' ? (host.vars[k] as string) : defaultOf(k);
    out.set(name, k);
  }
  return out;
}

function formatPath(variable: string, path: (string | number)[]): string {
  return variable + path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('');
}

/** Groups the plays run on: `brokers` must exist and have hosts; a play group missing while a similar one exists is a typo. */
function checkPlayGroups(inventory: Inventory, playbook: Playbook, problems: Problems): void {
  const have = [...inventory.groups.keys()].filter((g) => g !== 'all' && g !== 'ungrouped');
  const file = inventory.files[0] ?? '(inventory)';
  const wanted = new Map<string, string[]>();
  for (const play of playbook.plays) {
    if (!/^[A-Za-z0-9_.-]+$/.test(play.hosts) || play.hosts === 'all' || inventory.hosts.has(play.hosts)) continue;
    wanted.set(play.hosts, [...(wanted.get(play.hosts) ?? []), `'${play.name}' (${play.file}:${play.line})`]);
  }
  for (const [group, plays] of wanted) {
    const g = inventory.groups.get(group);
    const required = group === BROKERS_GROUP;
    if (g && (g.hosts.length > 0 || !required)) continue;
    const runs = `the playbook runs ${plays.join(' and ')} on group '${group}'`;
    if (g) {
      const gloc = inventory.groupLocations?.get(group);
      problems.add(new InputError(`${runs}, which has no hosts: add the brokers to [${group}]`, gloc?.file ?? file, gloc?.line, gloc?.column));
      continue;
    }
    const guess = similarName(group, have);
    if (!guess && !required) continue; // like Ansible: a play whose group does not exist is skipped
    const groups = have.length ? `its groups: ${have.join(', ')}` : 'it has no groups';
    const hint = guess ? ` — did you mean '${guess}'? Rename [${guess}] to [${group}]` : ` — put the brokers in a group named [${group}]`;
    const loc = guess ? inventory.groupLocations?.get(guess) : undefined;
    problems.add(new InputError(`${runs}, which the inventory does not have (${groups})${hint}`, loc?.file ?? file, loc?.line, loc?.column));
  }
}

/** A close spelling, or a name containing the wanted one's stem (`mqtt_brokers`, `broker`). */
function similarName(wanted: string, names: string[]): string | undefined {
  const close = closestName(wanted, names);
  if (close) return close;
  const stem = wanted.replace(/s$/, '').toLowerCase();
  return names.find((n) => n.toLowerCase().includes(stem) || (n.length >= 4 && stem.includes(n.toLowerCase().replace(/s$/, ''))));
}

/** Brokers and load balancers get a certificate whose first name is the inventory name. */
function checkCertificateNames(inventory: Inventory, problems: Problems): void {
  const hosts = new Set([...(inventory.groups.get(BROKERS_GROUP)?.hosts ?? []), ...(inventory.groups.get(LOADBALANCERS_GROUP)?.hosts ?? [])]);
  for (const name of hosts) {
    if (canonicalDnsName(name) !== undefined || canonicalIp(name) !== undefined) continue;
    const loc = inventory.hosts.get(name)?.loc;
    problems.add(
      new InputError(
        `host name '${name}' cannot be a certificate name (DNS labels: letters, digits, '-' and '_', separated by '.'): rename the host and keep its address in ansible_host`,
        loc?.file ?? inventory.files[0], loc?.line || undefined, loc?.column || undefined,
      ),
    );
  }
}

function warnings(inventory: Inventory): string[] {
  const out: string[] = [];
  const brokers = inventory.groups.get(BROKERS_GROUP)?.hosts ?? [];
  const present = brokers.filter((h) => inventory.hosts.get(h)!.vars.state !== 'absent');
  const first = present[0] ? inventory.hosts.get(present[0])!.vars : {};
  const cedalo = first.cluster_backend === 'cedalo';
  if (cedalo && present.length < 3) {
    out.push(`cluster_backend: cedalo with ${present.length} broker${present.length === 1 ? '' : 's'}: Cedalo HA needs at least 3 to form a cluster that survives losing one`);
  } else if (present.length === 1 && (inventory.groups.get(LOADBALANCERS_GROUP)?.hosts.length ?? 0) > 0) {
    const mode = typeof first.cluster_mode === 'string' ? first.cluster_mode : defaultOf('cluster_mode');
    out.push(`cluster_mode ${mode} with 1 broker (${present[0]}): no failover — while it is down the load balancers have no broker to send clients to`);
  }
  out.push(...droppedHosts(inventory));
  return out;
}

/** Hosts with a certificate in pki/hosts/ (so provisioned before) that the inventory no longer has. */
function droppedHosts(inventory: Inventory): string[] {
  const anyHost = inventory.hostOrder[0] ? inventory.hosts.get(inventory.hostOrder[0])!.vars : {};
  const dir = resolve(inventory.baseDir, typeof anyHost.pki_dir === 'string' ? anyHost.pki_dir : DEFAULT_PKI_DIR, 'hosts');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((h) => !inventory.hosts.has(h) && existsSync(resolve(dir, h, 'server.crt')))
    .map(
      (h) =>
        `${h} was provisioned (it has a certificate in ${dir}/${h}) but is no longer in the inventory: the load balancers stop sending it ` +
        `clients, but it keeps running with its users as they are; to take it out of service put it back with state: absent for one run ` +
        `(if that was done already, remove ${dir}/${h})`,
    );
}
