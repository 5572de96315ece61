import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/errors.js';
import { inventoryList } from '../../../src/inventory/ansible-inventory-output.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { ansibleInventory } from '../../support/real-ansible.js';

/** Inventory sources beyond YAML and INI files: scripts, TOML, the JSON ansible-inventory prints. */
function dir(files: Record<string, string>, executable: string[] = []): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'f-sources-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(d, name), text);
  for (const name of executable) chmodSync(path.join(d, name), 0o755);
  return d;
}

async function inputError(p: Promise<unknown>): Promise<InputError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(InputError);
  return e as InputError;
}

describe('ansible-inventory --list output saved to a file', () => {
  it('reads as a static inventory with the same hosts, groups and variables (Ansible reads it only from a script)', async () => {
    const d = dir({
      'src.ini': '[brokers]\nmq2 weight=2\nmq1 ansible_host=10.0.0.1\n[lb]\nlb1\n[mqtt:children]\nbrokers\nlb\n[all:vars]\nsite="dc 1"\n',
    });
    const listed = ansibleInventory([path.join(d, 'src.ini')], ['--list']);
    writeFileSync(path.join(d, 'inv.json'), listed);
    const inv = await loadInventory([path.join(d, 'inv.json')], { env: {} });
    expect(JSON.parse(inventoryList(inv))).toEqual(JSON.parse(listed));
    expect(inv.selectHosts('brokers')).toEqual(['mq2', 'mq1']);
    expect(inv.hosts.get('mq1')!.vars.ansible_host).toBe('10.0.0.1');
  });
});

describe('inventory scripts', () => {
  it('a failing script is one error naming the script, its exit status and its last stderr line', async () => {
    const d = dir({ 'inv.sh': '#!/bin/sh\necho "cannot reach the CMDB" >&2\nexit 3\n' }, ['inv.sh']);
    const e = await inputError(loadInventory([path.join(d, 'inv.sh')], { env: {} }));
    expect(e.message).toBe(`${path.join(d, 'inv.sh')}: inventory script \`inv.sh --list\` exited with status 3: cannot reach the CMDB`);
  });

  it('output that is not JSON is an error naming the script', async () => {
    const d = dir({ 'inv.sh': '#!/bin/sh\necho "[brokers]"\n' }, ['inv.sh']);
    const e = await inputError(loadInventory([path.join(d, 'inv.sh')], { env: {} }));
    expect(e.message).toMatch(/inv\.sh: inventory script output of --list is not JSON/);
  });

  it('a file with #! but no execute bit is run as a script too, as Ansible selects it (and fails to run it)', async () => {
    const d = dir({ 'inv.sh': '#!/bin/sh\necho "{}"\n' });
    const e = await inputError(loadInventory([path.join(d, 'inv.sh')], { env: {} }));
    expect(e.message).toMatch(/inv\.sh: inventory script `inv\.sh --list` could not be run .*execute bit/);
  });
});

describe('TOML inventories', () => {
  it('a syntax error names file, line and column', async () => {
    const d = dir({ 'hosts.toml': '[brokers.hosts]\nmq1 = { a = }\n' });
    const e = await inputError(loadInventory([path.join(d, 'hosts.toml')], { env: {} }));
    expect(e.message).toMatch(new RegExp(`^${path.join(d, 'hosts.toml')}:2:\\d+: TOML syntax error`));
  });

  it('a plugin configuration is refused with the way out', async () => {
    const d = dir({ 'aws.toml': 'plugin = "aws_ec2"\n' });
    const e = await inputError(loadInventory([path.join(d, 'aws.toml')], { env: {} }));
    expect(e.message).toMatch(/plugin configuration files \(plugin = …\) are not supported.*ansible-inventory --list > inventory\.json/);
  });

  it('unexpected keys are refused naming the group', async () => {
    const d = dir({ 'hosts.toml': '[brokers]\nhost = "mq1"\n' });
    const e = await inputError(loadInventory([path.join(d, 'hosts.toml')], { env: {} }));
    expect(e.message).toMatch(/unexpected key 'host' in group 'brokers'/);
  });
});

describe('YAML inventory plugin configurations', () => {
  it('plugin: constructed is refused with the way out', async () => {
    const d = dir({ 'inv.yml': 'plugin: constructed\nstrict: false\n' });
    const e = await inputError(loadInventory([path.join(d, 'inv.yml')], { env: {} }));
    expect(e.message).toMatch(/inv\.yml:1:1: inventory plugin configuration files \(plugin: …\) are not supported/);
  });
});
