import { InputError } from '../errors.js';
import { rootProblem, type ConnectionSpec } from './connection.js';
import type { Inventory, InventoryHost } from './types.js';

/**
 * The connection variables of every host about to be contacted, checked before any is: wrong types (ansible_port: 0)
 * and a connection that would not run as root (a non-root ansible_user without become). One error for all of them,
 * each problem once with the hosts it concerns. Returns the specs, by host.
 */
export function checkConnections(inventory: Inventory, hosts: string[], specFor: (host: InventoryHost) => ConnectionSpec): Map<string, ConnectionSpec> {
  const specs = new Map<string, ConnectionSpec>();
  const problems = new Map<string, { error: InputError; hosts: string[] }>();
  const add = (error: InputError, host: string) => {
    const problem = error.problem.replace(/ \(host [^)]+\)$/, '');
    const key = `${error.file}:${error.line}:${error.column} ${error.path} ${problem}`;
    const seen = problems.get(key) ?? { error: new InputError(problem, error.file, error.line, error.column, error.path), hosts: [] };
    seen.hosts.push(host);
    problems.set(key, seen);
  };
  for (const name of hosts) {
    const host = inventory.hosts.get(name)!;
    let spec: ConnectionSpec;
    try {
      spec = specFor(host);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      add(err, name);
      continue;
    }
    specs.set(name, spec);
    const problem = rootProblem(spec);
    if (!problem) continue;
    // Point at the variable that made it so: ansible_user (or become_user) where it is set, else the inventory.
    const variable = spec.become ? 'ansible_become_user' : host.varSources.ansible_user ? 'ansible_user' : 'ansible_ssh_user';
    const loc = host.varSources[variable]?.locate([]);
    add(new InputError(problem, loc?.file ?? inventory.files[0], loc?.line || undefined, loc?.column || undefined, loc ? variable : undefined), name);
  }
  const all = [...problems.values()].map(({ error, hosts: hs }) => {
    const who = ` (host${hs.length > 1 ? 's' : ''} ${hs.slice(0, 4).join(', ')}${hs.length > 4 ? `, … ${hs.length} in all` : ''})`;
    return new InputError(error.problem + who, error.file, error.line, error.column, error.path);
  });
  if (all.length === 1) throw all[0];
  if (all.length > 1) {
    const [first, ...rest] = all;
    throw new InputError(`${first!.problem}${rest.map((e) => `\n  also: ${e.message}`).join('')}`, first!.file, first!.line, first!.column, first!.path);
  }
  return specs;
}
