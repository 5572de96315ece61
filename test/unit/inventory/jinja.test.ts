import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectionSpecFor } from '../../../src/inventory/connection.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { UnresolvedVar } from '../../../src/inventory/markers.js';
import { isSecret } from '../../../src/secrets.js';
import { ansibleTemplatedVars } from '../../support/real-ansible.js';

const CORPUS = path.resolve('test/fixtures/ansible-corpus');

/** Values as JSON would show them: Secrets revealed, a failed template as `{ failed }`. */
function plain(v: unknown): unknown {
  if (isSecret(v)) return v.reveal();
  if (v instanceof UnresolvedVar) return { failed: v.error.message };
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

/** JSON with sorted keys (Ansible's json callback sorts them). */
function canonical(v: unknown): string {
  const sort = (x: unknown): unknown => (Array.isArray(x) ? x.map(sort) : x !== null && typeof x === 'object' ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, sort((x as Record<string, unknown>)[k])])) : x);
  return JSON.stringify(sort(v));
}

/** Every variable of every host, ours against ansible-playbook's; a failure on both sides counts as equal. */
async function compareWithAnsible(inventory: string, env: NodeJS.ProcessEnv = {}) {
  const inv = await loadInventory([inventory], { env });
  const names = [...new Set(inv.hostOrder.flatMap((h) => Object.keys(inv.hosts.get(h)!.vars)))];
  const real = ansibleTemplatedVars([inventory], names, env);
  const diffs: string[] = [];
  for (const h of inv.hostOrder) {
    for (const n of Object.keys(inv.hosts.get(h)!.vars)) {
      const ours = plain(inv.hosts.get(h)!.vars[n]);
      const theirs = real[h]?.[n];
      const bothFail = (x: unknown) => x !== null && typeof x === 'object' && 'failed' in (x as object);
      if (bothFail(ours) && bothFail(theirs)) continue;
      if (canonical(ours) !== canonical(theirs)) diffs.push(`${h} ${n}: ours ${JSON.stringify(ours)} ansible ${JSON.stringify(theirs)}`);
    }
  }
  return { inv, diffs };
}

describe('Jinja in inventory values, compared with the real Ansible', () => {
  it('filters, tests, expressions, groups/hostvars and result types equal ansible-playbook (jinja-filters corpus)', async () => {
    const { diffs } = await compareWithAnsible(path.join(CORPUS, 'jinja-filters/hosts.yml'));
    expect(diffs).toEqual([]);
  });
});

describe('Jinja: undefined names, unsupported constructs, lookups', () => {
  it('an undefined name fails only the variable that uses it, where Ansible fails too (jinja-lazy corpus, INI)', async () => {
    const env = { PROVISION_CORPUS_VALUE: 'corpus-Value-1' };
    const file = path.join(CORPUS, 'jinja-lazy/hosts.ini');
    const { inv, diffs } = await compareWithAnsible(file, env);
    expect(diffs).toEqual([]);
    const vars = inv.hosts.get('mq1')!.vars;
    expect(vars.uses_missing).toBeInstanceOf(UnresolvedVar);
    expect((vars.uses_missing as UnresolvedVar).error.message).toBe(`${file}:7:14 uses_missing: '{{ missing_var | lower }}': 'missing_var' is undefined`);
    expect((vars.attr_missing as UnresolvedVar).error.problem).toContain("'settings_missing' is undefined");
    expect(vars.safe_default).toBe('fallback');
    expect(vars.peer).toBe('192.0.2.12');
    expect(isSecret(vars.from_env) && vars.from_env.reveal()).toBe('corpus-Value-1-x'); // built from a lookup: a secret
    expect(isSecret(vars.from_file) && vars.from_file.reveal()).toBe('CA-FROM-FILE');
  });

  it('a construct provision does not support is an error naming file, line and the construct', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'provision-jinja-'));
    writeFileSync(path.join(dir, 'hosts.yml'), `all:
  hosts:
    h1:
      a: "{% include 'x.j2' %}"
      b: "{{ lookup('pipe', 'echo hi') }}"
      c: "{{ lookup('dig', 'example.com') }}"
      d: "{{ 'x'.zfill(3) }}"
`);
    const inv = await loadInventory([path.join(dir, 'hosts.yml')], { env: {} });
    const err = (n: string) => (inv.hosts.get('h1')!.vars[n] as UnresolvedVar).error.message;
    expect(err('a')).toMatch(/hosts\.yml:4:10 a: unsupported Jinja construct in '\{% include 'x\.j2' %\}'/);
    expect(err('b')).toMatch(/hosts\.yml:5:10 b: unsupported Jinja construct .*lookup\('pipe'\) runs commands on the controller and is off/);
    expect(err('c')).toMatch(/hosts\.yml:6:10 c: unsupported Jinja construct .*lookup\('dig'\)/);
    expect(err('d')).toMatch(/hosts\.yml:7:10 d: unsupported Jinja construct .*zfill\(\): no such function or method/);
    const piped = await loadInventory([path.join(dir, 'hosts.yml')], { env: { PROVISION_ALLOW_PIPE_LOOKUP: '1', PATH: process.env.PATH } });
    const b = piped.hosts.get('h1')!.vars.b;
    expect(isSecret(b) && b.reveal()).toBe('hi');
  });

  it('a template using a secret gives a secret; a role reading a failed variable gets its error', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'provision-jinja-'));
    writeFileSync(path.join(dir, 'hosts.yml'), 'all:\n  hosts:\n    h1:\n      db_password: Pw-0123456\n      dsn: "{{ \'app:\' ~ db_password | upper }}"\n      ansible_user: "{{ nobody_defined }}"\n');
    const inv = await loadInventory([path.join(dir, 'hosts.yml')], { env: {} });
    const dsn = inv.hosts.get('h1')!.vars.dsn;
    expect(isSecret(dsn) && dsn.reveal()).toBe('app:PW-0123456');
    expect(() => connectionSpecFor(inv.hosts.get('h1')!, path.join(dir, 'hosts.yml'))).toThrow(/hosts\.yml:6:21 ansible_user: '\{\{ nobody_defined \}\}': 'nobody_defined' is undefined/);
  });
});
