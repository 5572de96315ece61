import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The real Ansible (Debian's ansible-core 2.14), run on the controller only: nothing connects to a host. */
const CFG_DIR = mkdtempSync(path.join(os.tmpdir(), 'provision-real-ansible-cfg-'));
writeFileSync(path.join(CFG_DIR, 'ansible.cfg'), '[defaults]\n'); // no user or system config changes what we compare
const ENV = { ...process.env, ANSIBLE_CONFIG: path.join(CFG_DIR, 'ansible.cfg'), ANSIBLE_NOCOLOR: '1', ANSIBLE_RETRY_FILES_ENABLED: 'False', ANSIBLE_LOCALHOST_WARNING: 'False', ANSIBLE_INVENTORY_UNPARSED_WARNING: 'False' };

/** `ansible-inventory -i … <args>` output. */
export function ansibleInventory(inventories: string[], args: string[], extraEnv: NodeJS.ProcessEnv = {}): string {
  return execFileSync('ansible-inventory', [...inventories.flatMap((i) => ['-i', i]), ...args], { encoding: 'utf8', env: { ...ENV, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Every host's templated values of `names`, as Ansible computes them in a play (a `debug` task runs on the controller):
 * host → name → value, or `{ failed: message }` when templating that variable fails.
 */
export function ansibleTemplatedVars(inventories: string[], names: string[], extraEnv: NodeJS.ProcessEnv = {}): Record<string, Record<string, unknown>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'provision-real-ansible-'));
  const playbook = path.join(dir, 'vars.yml');
  // One task per variable, so one that fails does not hide the others. `[name]` looks the variable up the way a
  // template does (its value templated once, a bare `{{ x }}` keeping its type); `var: name` would template it twice.
  const tasks = names.map((n) => ({ name: n, 'ansible.builtin.debug': { msg: `{{ [${n}] }}` }, ignore_errors: true }));
  writeFileSync(playbook, JSON.stringify([{ hosts: 'all', gather_facts: false, tasks }]));
  let out: string;
  try {
    out = execFileSync('ansible-playbook', [...inventories.flatMap((i) => ['-i', i]), playbook], {
      encoding: 'utf8', env: { ...ENV, ANSIBLE_STDOUT_CALLBACK: 'json', ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20,
    });
  } catch (e) {
    out = (e as { stdout?: string }).stdout ?? '';
    if (!out.trim().startsWith('{')) throw e;
  }
  const report = JSON.parse(out.slice(out.indexOf('{'))) as { plays: { tasks: { task: { name: string }; hosts: Record<string, Record<string, unknown>> }[] }[] };
  const result: Record<string, Record<string, unknown>> = {};
  for (const t of report.plays[0]?.tasks ?? []) {
    for (const [host, r] of Object.entries(t.hosts)) {
      const name = t.task.name;
      result[host] ??= {};
      result[host][name] = r.failed ? { failed: String(r.msg) } : (r.msg as unknown[])[0];
    }
  }
  return result;
}

/**
 * The hosts each pattern selects, in Ansible's order: one play per pattern printing `ansible_play_hosts_all`
 * (`--list-hosts` of ansible-playbook prints them in set order, so it cannot be used to compare order).
 */
export function ansibleListHosts(inventories: string[], patterns: string[]): string[][] {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'provision-real-ansible-'));
  const playbook = path.join(dir, 'patterns.yml');
  const task = { 'ansible.builtin.debug': { msg: '{{ ansible_play_hosts_all }}' }, run_once: true };
  writeFileSync(playbook, JSON.stringify(patterns.map((p) => ({ hosts: p, gather_facts: false, tasks: [task] }))));
  const out = execFileSync('ansible-playbook', [...inventories.flatMap((i) => ['-i', i]), playbook], { encoding: 'utf8', env: { ...ENV, ANSIBLE_STDOUT_CALLBACK: 'json' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const report = JSON.parse(out.slice(out.indexOf('{'))) as { plays: { tasks: { hosts: Record<string, { msg: string[] }> }[] }[] };
  return report.plays.map((p) => Object.values(p.tasks[0]?.hosts ?? {})[0]?.msg ?? []);
}
