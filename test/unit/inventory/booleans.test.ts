/** Issue 10 item 1: boolean variables take what Ansible takes, from INI, YAML and -e k=v alike. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseExtraVars } from '../../../src/inventory/extra-vars.js';
import { pick } from '../../../src/cluster/variables.js';
import { mqttUsersSchema } from '../../../src/dynsec/schema.js';
import { InputError } from '../../../src/errors.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { validateHostVars } from '../../../src/inventory/validate.js';

const tmp = mkdtempSync(join(tmpdir(), 'provision-bool-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const schema = z.object(pick('persistence', 'set_tcp_nodelay', 'base_upgrade'));
const opts = (file: string) => ({ inventoryFile: file, knownNames: new Set(Object.keys(schema.shape)) });

async function ini(value: string, extra: Record<string, unknown> = {}) {
  const file = join(tmp, `h-${Math.random().toString(36).slice(2)}.ini`);
  writeFileSync(file, `[brokers]\nmq1\n\n[all:vars]\npersistence=${value}\n`);
  const inv = await loadInventory([file], { env: {}, extraVars: extra });
  return { host: inv.hosts.get('mq1')!, file };
}

describe('boolean variables', () => {
  it.each([
    ['true', true], ['True', true], ['TRUE', true], ['yes', true], ['On', true], ['1', true],
    ['false', false], ['False', false], ['no', false], ['OFF', false], ['0', false],
  ])('INI persistence=%s is %s', async (text, want) => {
    const { host, file } = await ini(text);
    expect(validateHostVars(host, schema, opts(file)).persistence).toBe(want);
  });

  it('-e k=v the same way (the -e value wins over the INI one)', async () => {
    const { host, file } = await ini('true', parseExtraVars(['persistence=no set_tcp_nodelay=Off base_upgrade=1']));
    expect(validateHostVars(host, schema, opts(file))).toEqual({ persistence: false, set_tcp_nodelay: false, base_upgrade: true });
  });

  it('anything else is refused with a message that does not contradict itself, at the value', async () => {
    const { host, file } = await ini('maybe');
    let e: unknown;
    try {
      validateHostVars(host, schema, opts(file));
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(InputError);
    expect((e as Error).message).toBe(`${file}:5:13 persistence: expected a boolean (true/false, yes/no, on/off, 1/0), got string "maybe" (host mq1)`);
  });

  it('booleans inside users and ACLs too', () => {
    expect(mqttUsersSchema.parse([{ username: 'a', password: 'p', disabled: 'yes' }])[0]!.disabled).toBe(true);
  });
});
