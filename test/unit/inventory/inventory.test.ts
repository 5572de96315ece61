import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/errors.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { UnresolvedVar } from '../../../src/inventory/markers.js';
import { ansibleInventory, ansibleListHosts } from '../../support/real-ansible.js';
import type { Inventory } from '../../../src/inventory/types.js';
import { MASK, isSecret, redact } from '../../../src/secrets.js';

const FIX = 'test/fixtures/inventories';
const ENV = { DASHBOARD_PASSWORD: 'dash-Pa55word' };

/** Write `files` (relative path → content) under a fresh temporary directory and return it. */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'provision-inv-'));
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(dir, rel);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
  return dir;
}

/** Vars with Secrets replaced by `{ secret: value }`, for deep comparisons. */
function plain(v: unknown): unknown {
  if (isSecret(v)) return { secret: v.reveal() };
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

async function load(files: Record<string, string>, main = 'hosts.yml', opts: Parameters<typeof loadInventory>[1] = {}) {
  const dir = tree(files);
  return loadInventory([path.join(dir, main)], { env: {}, ...opts });
}

const v = (inv: Inventory, host: string, name: string) => inv.hosts.get(host)!.vars[name];

async function inputError(p: Promise<unknown>): Promise<InputError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(InputError);
  return e as InputError;
}

describe('YAML and INI formats', () => {
  it('read the same inventory identically', async () => {
    const yml = await loadInventory([`${FIX}/same/hosts.yml`], { env: ENV });
    const ini = await loadInventory([`${FIX}/same/hosts.ini`], { env: ENV });
    expect(yml.hostOrder).toEqual(['bastion', 'mq1', 'mq2', 'mq3', 'lb1']);
    expect(ini.hostOrder).toEqual(yml.hostOrder);
    expect(Object.fromEntries(ini.groups)).toEqual(Object.fromEntries(yml.groups));
    for (const h of yml.hostOrder) {
      expect(ini.hosts.get(h)!.groups).toEqual(yml.hosts.get(h)!.groups);
      expect(plain(ini.hosts.get(h)!.vars)).toEqual(plain(yml.hosts.get(h)!.vars));
    }
    expect(yml.groups.get('prod')).toEqual({ name: 'prod', children: ['mqtt', 'loadbalancers'], hosts: ['mq1', 'mq2', 'mq3', 'lb1'], directHosts: [] });
    expect(yml.groups.get('all')!.children).toEqual(['ungrouped', 'prod']);
    expect(yml.groups.get('ungrouped')!.hosts).toEqual(['bastion']);
    expect(yml.hosts.get('mq2')!.groups).toEqual(['all', 'prod', 'mqtt']);
    expect(yml.hosts.get('bastion')!.groups).toEqual(['all', 'ungrouped']);
    expect(plain(yml.hosts.get('lb1')!.vars)).toMatchObject({
      ansible_port: 2222, ansible_host: '10.0.0.21', haproxy_maxconn: 4096, haproxy_label: 'edge lb', ntp_server: 'pool.ntp.org',
    });
    expect(v(yml, 'mq1', 'mqtt_retain')).toBe(true);
    expect(v(yml, 'mq1', 'max_keepalive')).toBe(60);
    expect(yml.baseDir).toBe(path.resolve(`${FIX}/same`));
    expect(yml.files).toEqual([path.normalize(`${FIX}/same/hosts.yml`)]);
  });

  it('types INI values like Ansible (Python literals on host lines and in :vars)', async () => {
    const inv = await load({
      hosts: [
        `h1 a=5 b=True c=true d="x y" e=0777 f=1.5 g='[1, "two"]' h="{'k': 'v'}" i=None j=10.0.0.1 k=-3 l="'quoted'" m=1_000 n=56L`,
        '[g]', 'h1',
        '[g:vars]', 'p=42', 'q=False   # a comment', 'r=http://x # kept: not a literal', 's="spaced value"', 't = yes',
      ].join('\n'),
    }, 'hosts');
    const vars = inv.hosts.get('h1')!.vars;
    expect(vars).toMatchObject({
      a: 5, b: true, c: 'true', d: 'x y', e: '0777', f: 1.5, g: [1, 'two'], h: { k: 'v' }, i: null, j: '10.0.0.1', k: -3, l: 'quoted', m: 1000, n: '56L',
      p: 42, q: false, r: 'http://x # kept: not a literal', s: 'spaced value', t: 'yes',
    });
  });

  it('reads YAML as YAML 1.1 like PyYAML (yes/no booleans, but y/n are strings)', async () => {
    const inv = await load({ 'hosts.yml': 'all:\n  hosts:\n    h1:\n      ansible_become: yes\n      y: n\n      on_call: off\n      when: 2024-01-01\n' });
    expect(inv.hosts.get('h1')!.vars).toEqual({ ansible_become: true, y: 'n', on_call: false, when: '2024-01-01' });
  });

  it('expands host ranges (numeric, zero-padded, stepped, alphabetic) and host:port', async () => {
    const yml = await load({ 'hosts.yml': 'all:\n  hosts:\n    db[08:10]:\n    web[1:5:2].example.com:\n    "[a:c]-node":\n    edge:2200:\n' });
    expect(yml.hostOrder).toEqual(['db08', 'db09', 'db10', 'web1.example.com', 'web3.example.com', 'web5.example.com', 'a-node', 'b-node', 'c-node', 'edge']);
    expect(v(yml, 'edge', 'ansible_port')).toBe(2200);
    const ini = await load({ hosts: 'mq[1:2]:2222 ansible_user=x\n[g]\nn[a:b]\n' }, 'hosts');
    expect(ini.hostOrder).toEqual(['mq1', 'mq2', 'na', 'nb']);
    expect(v(ini, 'mq2', 'ansible_port')).toBe(2222);
  });

  it('accepts hosts in several groups, groups declared in several places, nested children at any depth', async () => {
    const inv = await load({
      'hosts.yml': `all:
  children:
    eu:
      children:
        eu_west:
          children:
            paris:
              hosts: {mq1: , mq2: }
    brokers:
      hosts:
        mq1:
        mq3:
    paris:
      hosts:
        mq4:
      vars: {city: Paris}
`,
    });
    expect(inv.groups.get('eu')!.hosts).toEqual(['mq1', 'mq2', 'mq4']);
    expect(inv.hosts.get('mq1')!.groups).toEqual(['all', 'brokers', 'eu', 'eu_west', 'paris']);
    expect(v(inv, 'mq4', 'city')).toBe('Paris');
    expect(inv.groups.get('ungrouped')!.hosts).toEqual([]);
  });

  it('detects the format of extension-less files from their content', async () => {
    const yml = await load({ inventory: '# yaml without extension\nall:\n  hosts:\n    h1:\n' }, 'inventory');
    expect(yml.hostOrder).toEqual(['h1']);
    const ini = await load({ inventory: 'h1\nh2 x=1\n' }, 'inventory');
    expect(ini.hostOrder).toEqual(['h1', 'h2']);
  });

  it('merges several -i files like Ansible, with the group_vars beside each', async () => {
    const dir = tree({
      'a/hosts.ini': '[mqtt]\nmq1 role=a only_a=1\n',
      'a/group_vars/mqtt.yml': 'from_a: 1\nshared: a\n',
      'b/hosts.yml': 'all:\n  children:\n    mqtt:\n      hosts:\n        mq1: {role: b}\n        mq2:\n    lb:\n      hosts: {mq1: }\n',
      'b/group_vars/mqtt.yml': 'shared: b\n',
    });
    const inv = await loadInventory([path.join(dir, 'a/hosts.ini'), path.join(dir, 'b/hosts.yml')], { env: {} });
    expect(inv.hostOrder).toEqual(['mq1', 'mq2']);
    expect(inv.hosts.get('mq1')!.vars).toMatchObject({ role: 'b', only_a: 1, from_a: 1, shared: 'b' });
    expect(inv.hosts.get('mq1')!.groups).toEqual(['all', 'lb', 'mqtt']);
    expect(inv.baseDir).toBe(path.join(dir, 'a'));
  });

  it('loads a directory source (its files but those Ansible ignores, .ini too) and an Ansible host list', async () => {
    const dir = tree({
      'inv/01-brokers': '[mqtt]\nmq1\n',
      'inv/03-old.ini': '[mqtt]\nmq9\n',
      'inv/04-old.cfg': '[mqtt]\nmq8\n',
      'inv/02-lb.yml': 'all:\n  children:\n    lb:\n      hosts: {lb1: }\n',
      'inv/README.md': 'not an inventory',
      'inv/group_vars/all.yml': 'site: dc1\n',
    });
    const inv = await loadInventory([path.join(dir, 'inv')], { env: {} });
    // Ansible's order of `all`: YAML's `all: children: lb` makes lb a child of all while parsing, the INI group
    // joins all only at the end; `.ini` and `.cfg` files are in Ansible's INVENTORY_IGNORE_EXTS (checked with ansible 2.14).
    expect(inv.hostOrder).toEqual(['lb1', 'mq1']);
    expect(JSON.parse(ansibleInventory([path.join(dir, 'inv')], ['--list'])).mqtt.hosts).toEqual(['mq1']);
    expect(v(inv, 'lb1', 'site')).toBe('dc1');
    const list = await loadInventory(['10.0.0.1,mq2:2222,'], { env: {} });
    expect(list.hostOrder).toEqual(['10.0.0.1', 'mq2']);
    expect(v(list, 'mq2', 'ansible_port')).toBe(2222);
  });

  it('names a missing inventory file', async () => {
    const e = await inputError(loadInventory(['nowhere/hosts.yml']));
    expect(e.file).toBe('nowhere/hosts.yml');
    expect(e.message).toContain('nowhere/hosts.yml');
    expect(e.message).toContain('not found');
  });
});

describe('group_vars/ and host_vars/', () => {
  it('reads <name>.yml files, <name>/ directories in lexical order, and host_vars', async () => {
    const inv = await loadInventory([`${FIX}/same/hosts.yml`], { env: ENV });
    expect(v(inv, 'mq2', 'max_queued_messages')).toBe(5000); // 02-override.yml after 01-base.yml
    expect(v(inv, 'mq1', 'mqtt_node_id')).toBe(1);
    expect(v(inv, 'mq2', 'mqtt_node_id')).toBeUndefined();
    expect(v(inv, 'lb1', 'mqtt_users')).toBeUndefined();
    expect(v(inv, 'bastion', 'mqtt_admin_user')).toBe('admin');
  });

  it('follows Ansible for file names: extension-less files, first match only, hidden and backup files skipped', async () => {
    const inv = await load({
      'hosts.yml': 'all:\n  children:\n    g:\n      hosts: {h1: }\n',
      'group_vars/g': 'a: plain\n',
      'group_vars/g.yml': 'a: ignored_because_g_exists\nb: 1\n',
      'group_vars/all/.hidden.yml': 'c: hidden\n',
      'group_vars/all/main.yml~': 'c: backup\n',
      'group_vars/all/main.json': '{"c": "json"}',
      'group_vars/all/notes.txt': 'c: txt\n',
      'host_vars/h1/nested/deeper.yaml': 'd: deep\n',
    });
    expect(inv.hosts.get('h1')!.vars).toEqual({ a: 'plain', c: 'json', d: 'deep' });
  });
});

describe('variable precedence (lowest → highest)', () => {
  const hostInG = (extra = '') => `all:\n  vars: {v: inv_all}\n  children:\n    g:\n      vars: {v: inv_g}\n      hosts:\n        h1:${extra}\n`;

  it('inventory all < inventory child group', async () => {
    expect(v(await load({ 'hosts.yml': hostInG() }), 'h1', 'v')).toBe('inv_g');
  });

  it('inventory parent group < inventory child group (depth beats name)', async () => {
    const inv = await load({
      'hosts.yml': 'all:\n  children:\n    zzz_parent:\n      vars: {v: parent}\n      children:\n        aaa_child:\n          vars: {v: child}\n          hosts: {h1: }\n',
    });
    expect(v(inv, 'h1', 'v')).toBe('child');
    expect(inv.hosts.get('h1')!.groups).toEqual(['all', 'zzz_parent', 'aaa_child']);
  });

  it('same depth: ansible_group_priority, then name (later name wins)', async () => {
    const two = (prio: string) => `all:\n  children:\n    alpha:\n      vars: {v: alpha${prio}}\n      hosts: {h1: }\n    beta:\n      vars: {v: beta}\n      hosts: {h1: }\n`;
    expect(v(await load({ 'hosts.yml': two('') }), 'h1', 'v')).toBe('beta');
    const prio = await load({ 'hosts.yml': two(', ansible_group_priority: 10') });
    expect(v(prio, 'h1', 'v')).toBe('alpha');
    expect(v(prio, 'h1', 'ansible_group_priority')).toBeUndefined();
    const ini = await load({ hosts: '[alpha]\nh1\n[beta]\nh1\n[alpha:vars]\nv=alpha\nansible_group_priority=10\n[beta:vars]\nv=beta\n' }, 'hosts');
    expect(v(ini, 'h1', 'v')).toBe('alpha');
  });

  it("group_vars/all beats a child group's vars set in the inventory file (Ansible's documented surprise)", async () => {
    expect(v(await load({ 'hosts.yml': hostInG(), 'group_vars/all.yml': 'v: gv_all\n' }), 'h1', 'v')).toBe('gv_all');
  });

  it('group_vars/all < group_vars/<group>', async () => {
    const inv = await load({ 'hosts.yml': hostInG(), 'group_vars/all.yml': 'v: gv_all\n', 'group_vars/g.yml': 'v: gv_g\n' });
    expect(v(inv, 'h1', 'v')).toBe('gv_g');
  });

  it('group_vars of parent < child (depth), same depth by name', async () => {
    const inv = await load({
      'hosts.yml': 'all:\n  children:\n    zzz:\n      children:\n        aaa:\n          hosts: {h1: }\n    mmm:\n      hosts: {h1: }\n    nnn:\n      hosts: {h1: }\n',
      'group_vars/zzz.yml': 'v: zzz\nw: zzz\n',
      'group_vars/aaa.yml': 'v: aaa\n',
      'group_vars/mmm.yml': 'w: mmm\n',
      'group_vars/nnn.yml': 'w: nnn\n',
    });
    expect(v(inv, 'h1', 'v')).toBe('aaa');
    expect(v(inv, 'h1', 'w')).toBe('zzz'); // zzz (depth 1) vs mmm, nnn (depth 1): by name, zzz is last
  });

  it('group_vars/<group> < inventory host vars', async () => {
    expect(v(await load({ 'hosts.yml': hostInG(' {v: inv_host}'), 'group_vars/g.yml': 'v: gv_g\n' }), 'h1', 'v')).toBe('inv_host');
  });

  it('inventory host vars < host_vars/<host>', async () => {
    expect(v(await load({ 'hosts.yml': hostInG(' {v: inv_host}'), 'host_vars/h1.yml': 'v: hv\n' }), 'h1', 'v')).toBe('hv');
  });

  it('host_vars/<host> < extra vars', async () => {
    const inv = await load({ 'hosts.yml': hostInG(), 'host_vars/h1.yml': 'v: hv\n' }, 'hosts.yml', { extraVars: { v: 'extra' } });
    expect(v(inv, 'h1', 'v')).toBe('extra');
    expect(inv.hosts.get('h1')!.varSources.v.file).toBe('(extra vars)');
  });

  it('replaces whole values rather than merging mappings (hash_behaviour=replace)', async () => {
    const inv = await load({ 'hosts.yml': hostInG(), 'group_vars/all.yml': 'cfg: {a: 1, b: 2}\n', 'group_vars/g.yml': 'cfg: {a: 3}\n' });
    expect(v(inv, 'h1', 'cfg')).toEqual({ a: 3 });
  });

  it('keeps the source of the winning value', async () => {
    const inv = await load({ 'hosts.yml': hostInG(), 'group_vars/g.yml': '# g\nv: gv_g\n' });
    const src = inv.hosts.get('h1')!.varSources.v;
    expect(src.file).toMatch(/group_vars[/\\]g\.yml$/);
    expect(src.locate([])).toMatchObject({ line: 2, column: 4 });
  });
});

describe('host patterns', () => {
  const inv = () => load({
    'hosts.yml': `all:
  hosts:
    solo:
  children:
    prod:
      children:
        web:
          hosts: {w1: , w2: }
        db:
          hosts: {d1: , d2: }
    staging:
      hosts: {w3: , d1: }
`,
  });

  const PATTERNS = [
    'all', '*', 'web', 'prod', 'd2,w1', 'db:web', 'web,w1,web', 'prod:!db', '!prod', 'prod:&staging', 'w*', '~d\\d',
    'web[1]', 'prod[0:1]', 'prod[-1]', 'ungrouped', 'staging:!d*', 'staging,web', '~(?i)W[12]', 'web,nosuch',
  ];

  it('selects the same hosts in the same order as ansible-playbook --list-hosts', async () => {
    const i = await inv();
    const real = ansibleListHosts([i.files[0]!], PATTERNS);
    const ours = PATTERNS.map((p) => i.selectHosts(p, () => {}));
    expect(Object.fromEntries(PATTERNS.map((p, n) => [p, ours[n]]))).toEqual(Object.fromEntries(PATTERNS.map((p, n) => [p, real[n]])));
    // Each group keeps its own order: staging lists w3 before d1 although d1 appears first in the file.
    expect(i.groups.get('staging')!.hosts).toEqual(['w3', 'd1']);
  });

  it('warns about a part that matches nothing and refuses a pattern that matches nothing at all', async () => {
    const i = await inv();
    const warnings: string[] = [];
    expect(i.selectHosts('web,!nope,nosuch', (m) => warnings.push(m))).toEqual(['w1', 'w2']);
    expect(warnings).toEqual(['Could not match supplied host pattern, ignoring: nosuch', 'Could not match supplied host pattern, ignoring: nope']);
    // An out-of-range subscript stops Ansible 2.14 too: "No hosts matched the subscripted pattern 'web[7]'".
    expect(() => i.selectHosts('web[7],db', () => {})).toThrow("no hosts matched the subscripted pattern 'web[7]': index 7 is out of range (2 hosts)");
    expect(() => i.selectHosts('wbe', () => {})).toThrow(InputError);
    expect(() => i.selectHosts('zz*,qq', () => {})).toThrow("no host or group matches 'zz*,qq'");
  });
});

describe('secrets from outside the inventory', () => {
  it("turns lookup('env') / from_env and lookup('file') / from_file into Secrets", async () => {
    const inv = await loadInventory([`${FIX}/same/hosts.yml`], { env: ENV });
    const users = v(inv, 'mq1', 'mqtt_users') as { name: string; password: unknown }[];
    expect(isSecret(users[1].password)).toBe(true);
    expect((users[1].password as { reveal(): string }).reveal()).toBe('dash-Pa55word');
    expect(String(users[1].password)).toBe(MASK);
    const key = v(inv, 'mq1', 'ca_key');
    expect(isSecret(key)).toBe(true);
    expect(String(key)).toBe(MASK);
    expect((key as { reveal(): string }).reveal()).toBe('ca-key-material'); // path relative to group_vars/all.yml; trailing newlines stripped
    expect(redact('key=ca-key-material')).toBe(`key=${MASK}`);
  });

  it('supports lookup() in INI, with ansible.builtin. names, and a default', async () => {
    const inv = await load({
      hosts: `h1 api_key="{{ lookup('ansible.builtin.env', 'API_KEY') }}" other="{{ lookup('env', 'NOPE', default='fallback') }}"\n[all:vars]\ncert={{ lookup('file', 'c.pem') }}\n`,
      'c.pem': 'PEM\n',
    }, 'hosts', { env: { API_KEY: 'k-123456' } });
    const vars = inv.hosts.get('h1')!.vars as Record<string, { reveal(): string }>;
    expect(vars.api_key.reveal()).toBe('k-123456');
    expect(vars.other.reveal()).toBe('fallback');
    expect(vars.cert.reveal()).toBe('PEM');
  });

  it('makes values named like password/passwd/secret/token Secrets even when literal, at any depth', async () => {
    const inv = await loadInventory([`${FIX}/same/hosts.yml`], { env: ENV });
    const users = v(inv, 'mq1', 'mqtt_users') as { name: string; password: unknown }[];
    expect(isSecret(users[0].password)).toBe(true);
    expect(users[0].name).toBe('sensor');
    expect(redact('sensor-pass')).toBe(MASK);
    const more = await load({ 'hosts.yml': 'all:\n  hosts:\n    h1:\n      api_token: t0k3n-xyz\n      db_passwd: p4sswd-xyz\n      client_secret: s3cret-xyz\n      token_ttl: 3600\n' });
    const vars = more.hosts.get('h1')!.vars;
    expect([vars.api_token, vars.db_passwd, vars.client_secret].every(isSecret)).toBe(true);
    expect(vars.token_ttl).toBe(3600);
  });

  it('only reads the lookup that wins (an overridden missing env var is not an error)', async () => {
    const inv = await load({
      'hosts.yml': "all:\n  vars:\n    db_password: \"{{ lookup('env', 'UNSET_VARIABLE') }}\"\n  hosts:\n    h1: {db_password: literal-pw}\n",
    });
    expect((v(inv, 'h1', 'db_password') as { reveal(): string }).reveal()).toBe('literal-pw');
  });
});

describe('{{ var }} references', () => {
  it('resolves simple references per host after merging, keeping the type of a whole-value reference', async () => {
    const inv = await loadInventory([`${FIX}/same/hosts.yml`], { env: ENV });
    expect(v(inv, 'mq2', 'broker_url')).toBe('mqtts://mq2:8883');
    const more = await load({
      'hosts.yml': `all:
  vars:
    port: 1883
    ports: ["{{ port }}", 8883]
    first: "{{ ports[0] }}"
    cfg: {host: "{{ inventory_hostname_short }}", tls: true}
    tls: "{{ cfg.tls }}"
    label: "{{ cfg['host'] }}-{{ port }}-{{ cfg.tls }}"
    names: "{{ group_names }}"
    fact: "{{ ansible_default_ipv4.address }}"
    jinja: "{{ port | int + 1 }}"
    block: "{% if true %}x{% endif %}"
    raw: !unsafe "{{ port }}"
  children:
    g:
      hosts:
        mq1.example.com: {port: 2000}
`,
    });
    // Ansible 2.14: a bare {{ name }} keeps a number/bool; other templates give text, read back only for lists, dicts, True/False.
    const vars = more.hosts.get('mq1.example.com')!.vars;
    expect(vars).toMatchObject({
      ports: [2000, 8883], first: '2000', tls: true, label: 'mq1-2000-True', names: ['g'], jinja: '2001', block: 'x', raw: '{{ port }}',
    });
    // A fact is not known when the inventory is read: an error where it is used, never the literal text.
    expect(vars.fact).toBeInstanceOf(UnresolvedVar);
    expect((vars.fact as UnresolvedVar).error.message).toMatch(/hosts\.yml:10:11 fact: '\{\{ ansible_default_ipv4\.address \}\}': 'ansible_default_ipv4' is undefined/);
  });

  it('keeps a reference to a secret secret', async () => {
    const inv = await load({ 'hosts.yml': 'all:\n  vars:\n    db_password: pw-ABCDEF\n    dsn: "postgres://app:{{ db_password }}@db"\n    copy: "{{ db_password }}"\n  hosts: {h1: }\n' });
    expect(isSecret(v(inv, 'h1', 'dsn'))).toBe(true);
    expect((v(inv, 'h1', 'dsn') as { reveal(): string }).reveal()).toBe('postgres://app:pw-ABCDEF@db');
    expect(isSecret(v(inv, 'h1', 'copy'))).toBe(true);
  });
});

describe('locating values', () => {
  it('points at nested YAML values and INI lines', async () => {
    const inv = await loadInventory([`${FIX}/same/hosts.yml`], { env: ENV });
    const src = inv.hosts.get('mq1')!.varSources.mqtt_users;
    expect(src.file).toMatch(/group_vars[/\\]mqtt[/\\]01-base\.yml$/);
    expect(src.locate([0, 'password'])).toMatchObject({ line: 3, column: 15 });
    expect(src.locate([1, 'name'])).toMatchObject({ line: 4, column: 11 });
    expect(src.locate([1, 'nope', 'deeper'])).toMatchObject({ line: 4, column: 5 }); // nearest known node
    const ini = await loadInventory([`${FIX}/same/hosts.ini`], { env: ENV });
    expect(ini.hosts.get('lb1')!.varSources.haproxy_label.locate([])).toMatchObject({ line: 12, column: 68 });
    expect(ini.hosts.get('mq1')!.varSources.max_keepalive.locate([])).toMatchObject({ line: 8, column: 15 });
  });
});

/** Bad inventories: [file under bad/, line, column, message fragment]. */
const BAD: [string, number, number, string][] = [
  ['syntax-error.yml', 5, 5, 'YAML syntax error'],
  ['hosts-as-list.yml', 5, 9, "'hosts' of group 'mqtt' must be a mapping, got a list"],
  ['host-name-not-string.yml', 6, 9, 'host name in group \'mqtt\' must be a string, got number 1234'],
  ['group-name-not-string.yml', 3, 5, 'group name in the children of \'all\' must be a string, got boolean true'],
  ['children-cycle.yml', 9, 17, "group 'a' cannot be a child of 'c': that makes a cycle (c → a → b → c)"],
  ['host-and-group.yml', 6, 5, "'mq1' is used as both a host and a group"],
  ['unexpected-group-key.yml', 4, 7, "unexpected key 'host' in group 'mqtt'"],
  ['bad-range.yml', 3, 5, "host range 'mq[01:5]' must use equal-length begin and end"],
  ['missing-env.yml', 7, 19, 'environment variable PROVISION_TEST_UNSET_VAR is not set'],
  ['missing-file.yml', 4, 28, "lookup('file', 'certs/does-not-exist.key'): no such file"],
  ['reference-cycle.yml', 4, 8, 'variable references form a cycle: a → b → a'],
  ['from-env-not-string.yml', 4, 17, 'from_env needs a variable name'],
  ['plugin-config.yml', 1, 1, 'inventory plugin configuration files'],
  ['invalid-section.ini', 4, 1, "invalid section '[my group]'"],
  ['unknown-section-type.ini', 3, 1, "unknown type 'child'"],
  ['host-var-without-value.ini', 3, 31, "expected key=value host variable assignment, got 'become'"],
  ['unclosed-quote.ini', 2, 1, 'No closing quotation'],
  ['undefined-child.ini', 6, 1, "section [prod:children] names group 'loadbalancers', which is not declared"],
  ['vars-for-undefined-group.ini', 4, 1, "section [mqt:vars] is for group 'mqt', which is not declared"],
  ['children-cycle.ini', 5, 1, "group 'a' cannot be a child of 'b': that makes a cycle"],
  ['bad-port.ini', 3, 1, "invalid port 'ssh' in host 'mq2:ssh'"],
  ['host-and-group.ini', 4, 2, "'db' is used as both a host and a group (it is also a host at"],
  ['vars-file-not-mapping/hosts', 2, 1, 'a variables file must be a mapping'],
];

describe('bad inventories', () => {
  it.each(BAD)('%s → :%i:%i %s', async (file, line, column, fragment) => {
    const e = await inputError(loadInventory([`${FIX}/bad/${file}`], { env: {} }));
    const expectedFile = file.endsWith('/hosts') ? `${FIX}/bad/${path.dirname(file)}/group_vars/mqtt.yml` : `${FIX}/bad/${file}`;
    expect(`${e.file}:${e.line}:${e.column}`).toBe(`${path.normalize(expectedFile)}:${line}:${column}`);
    expect(e.problem).toContain(fragment);
    expect(e.message.startsWith(`${path.normalize(expectedFile)}:${line}:${column}`)).toBe(true);
  });

  it('a duplicate YAML key is a warning naming file:line:column, and the last value wins (as Ansible)', async () => {
    const warnings: string[] = [];
    const inv = await loadInventory([`${FIX}/duplicate-key.yml`], { env: {}, warn: (m) => warnings.push(m) });
    expect(inv.hosts.get('mq1')!.vars.ansible_host).toBe('10.0.0.2');
    expect(warnings).toEqual([`${FIX}/duplicate-key.yml:5:7: found a duplicate dict key (ansible_host). Using last defined value only.`]);
  });

  it('an inline !vault value without a password fails where it is used, naming file:line:column', async () => {
    const inv = await loadInventory([`${FIX}/bad/vault-value.yml`], { env: {} });
    const e = (inv.hosts.get('mq1')!.vars.db_password as UnresolvedVar).error;
    expect(e.message).toMatch(/vault-value\.yml:3:25 db_password: this value is vault-encrypted but no vault password was given/);
  });

  it('names the variable path of errors inside values', async () => {
    // An undefined name is an error where the variable is used (here: read by a role), not when the inventory loads.
    const inv = await loadInventory([`${FIX}/bad/undefined-reference.yml`], { env: {} });
    const listeners = inv.hosts.get('mq1')!.vars.listeners as UnresolvedVar;
    expect(listeners).toBeInstanceOf(UnresolvedVar);
    const file = path.normalize(`${FIX}/bad/undefined-reference.yml`);
    expect(listeners.error.message).toBe(`${file}:7:19 listeners[1].cafile: '{{ pki_dir }}/ca.crt': 'pki_dir' is undefined`);
    expect(listeners.error.path).toBe('listeners[1].cafile');
  });
});
