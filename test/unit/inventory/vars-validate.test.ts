import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InputError } from '../../../src/errors.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { zCidr, zHostName, zPort, zSecret } from '../../../src/inventory/schema.js';
import type { InventoryHost } from '../../../src/inventory/types.js';
import { validateHostVars } from '../../../src/inventory/validate.js';
import { MASK, Secret, isSecret, redact } from '../../../src/secrets.js';

const schema = z.object({
  max_keepalive: z.number().int().min(5).default(60),
  mqtt_auth_backend: z.enum(['dynsec', 'password_file']).default('dynsec'),
  mqtt_tls_port: zPort.default(8883),
  mqtt_users: z.array(z.object({ name: z.string().min(1), password: zSecret, acl: z.array(z.string()).default([]) }).strict()).default([]),
  prometheus_cidr: z.array(zCidr).default([]),
  broker_label: z.string().optional(),
});
const known = new Set([...Object.keys(schema.shape), 'exporter_port', 'haproxy_maxconn']);

async function host(text: string, file = 'hosts.yml'): Promise<{ h: InventoryHost; file: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'provision-vars-'));
  const p = path.join(dir, file);
  writeFileSync(p, text);
  const inv = await loadInventory([p], { env: {} });
  return { h: inv.hosts.get(inv.hostOrder[0])!, file: p };
}

function fails(h: InventoryHost, file: string, s: z.ZodTypeAny = schema): InputError {
  try {
    validateHostVars(h, s, { inventoryFile: file, knownNames: known });
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return e as InputError;
  }
  throw new Error('expected validation to fail');
}

const yaml = (vars: string) => `all:\n  hosts:\n    mq1:\n${vars.replace(/^/gm, '      ')}\n`;

describe('validateHostVars', () => {
  it('returns typed values with defaults, passing only the variables the schema names', async () => {
    const { h, file } = await host(yaml('max_keepalive: 30\nmqtt_tls_port: "8884"\nunrelated: 1\nansible_host: 10.0.0.1'));
    const out = validateHostVars(h, schema.strict(), { inventoryFile: file, knownNames: known });
    expect(out).toEqual({ max_keepalive: 30, mqtt_auth_backend: 'dynsec', mqtt_tls_port: 8884, mqtt_users: [], prometheus_cidr: [] });
  });

  it('reports a wrong type at the exact line and column, with what was expected and found', async () => {
    const { h, file } = await host(yaml('max_keepalive: abc'));
    const e = fails(h, file);
    expect([e.file, e.line, e.column, e.path]).toEqual([file, 4, 22, 'max_keepalive']);
    expect(e.problem).toContain('expected a number, got string "abc"');
    expect(e.message).toContain(`${file}:4:22 max_keepalive: expected a number, got string "abc"`);
  });

  it('reports a nested value by its variable path (mqtt_users[1].password)', async () => {
    const { h, file } = await host(yaml('mqtt_users:\n  - name: a\n    password: pw-one\n  - name: b\n    password: [42]'));
    const e = fails(h, file);
    expect(e.path).toBe('mqtt_users[1].password');
    expect([e.line, e.column]).toEqual([8, 21]);
    expect(e.problem).toContain('expected a non-empty secret string, got a list of 1 item');
  });

  it('reports bounds, enums, ports and CIDRs in words', async () => {
    const cases: [string, string][] = [
      ['max_keepalive: 2', 'expected a number >= 5, got number 2'],
      ['max_keepalive: 2.5', 'expected an integer, got number 2.5'],
      ['mqtt_auth_backend: ldap', "expected one of 'dynsec', 'password_file', got string \"ldap\""],
      ['mqtt_tls_port: 70000', 'expected a port from 1 to 65535, got number 70000'],
      ['prometheus_cidr: [10.0.0.0/8, 10.1.0.0/33]', 'expected an IPv4/IPv6 CIDR such as 10.0.0.0/8 or 2001:db8::/32, got string "10.1.0.0/33"'],
      ['mqtt_users: [{name: "", password: x}]', 'expected at least 1 character, got string ""'],
    ];
    for (const [vars, message] of cases) {
      const { h, file } = await host(yaml(vars));
      expect(fails(h, file).problem).toContain(message);
    }
  });

  it('reports unknown keys of strict nested objects at the key, with a suggestion', async () => {
    const { h, file } = await host(yaml('mqtt_users:\n  - name: a\n    passwrd: x'));
    const e = fails(h, file);
    expect(e.path).toBe('mqtt_users[0].passwrd');
    expect([e.line, e.column]).toEqual([6, 11]);
    expect(e.problem).toContain("unknown key 'passwrd' — did you mean 'password'?");
    expect(e.problem).toContain("also: ");
    expect(e.problem).toContain("mqtt_users[0].password: required key 'password' is missing");
  });

  it('detects typos of known variable names at their key', async () => {
    const { h, file } = await host(yaml('max_keepalive: 10\nmax_keepalve: 30'));
    const e = fails(h, file);
    expect(e.problem).toContain("unknown variable 'max_keepalve' — did you mean 'max_keepalive'?");
    expect([e.file, e.line, e.column, e.path]).toEqual([file, 5, 7, 'max_keepalve']);
    const swapped = await host(yaml('haproxy_maxcon: 10'));
    expect(fails(swapped.h, swapped.file).problem).toContain("did you mean 'haproxy_maxconn'?");
  });

  it('ignores ansible_/provision_ names and names far from any known one', async () => {
    const { h, file } = await host(yaml('ansible_prot: 22\nprovision_max_keepalve: 1\nmy_own_thing: 3\nexporter_prt_x: 1'));
    expect(() => validateHostVars(h, schema, { inventoryFile: file, knownNames: known })).not.toThrow();
  });

  it('turns secrets into Secrets and never prints them', async () => {
    const { h, file } = await host(yaml('mqtt_users:\n  - name: a\n    password: hunter2-pw'));
    const out = validateHostVars(h, schema, { inventoryFile: file, knownNames: known });
    expect(isSecret(out.mqtt_users[0].password)).toBe(true);
    const s = await host(yaml('broker_label: x\nbroker_secret_x: y'));
    const label = z.object({ broker_label: z.string() });
    s.h.vars.broker_label = new Secret('do-not-print-me');
    const e = fails(s.h, s.file, label);
    expect(e.message).not.toContain('do-not-print-me');
    expect(e.problem).toContain('got a secret value');
  });

  it('names the inventory file for a required variable that is not set', async () => {
    const { h, file } = await host(yaml('x: 1'));
    const e = fails(h, file, z.object({ cluster_name: z.string() }));
    expect(e.file).toBe(file);
    expect(e.problem).toContain("required variable 'cluster_name' is not set");
  });

  it('reports the first problem precisely and lists the others', async () => {
    const { h, file } = await host(yaml('max_keepalive: abc\nmqtt_tls_port: 0'));
    const e = fails(h, file);
    expect(e.path).toBe('max_keepalive');
    expect(e.problem).toMatch(/also: .*hosts\.yml:5:22 mqtt_tls_port: expected a port from 1 to 65535, got number 0/);
  });

  it('locates INI values on their line', async () => {
    const { h, file } = await host('[mqtt]\nmq1 max_keepalive=abc\n', 'hosts');
    const e = fails(h, file);
    expect([e.line, e.column]).toEqual([2, 19]);
  });
});

describe('schema pieces', () => {
  it('zSecret wraps and registers strings, keeps Secrets', () => {
    const s = zSecret.parse('zs-secret-value');
    expect(isSecret(s)).toBe(true);
    expect(String(s)).toBe(MASK);
    expect(redact('x zs-secret-value')).toBe(`x ${MASK}`);
    const already = new Secret('abcd-1234');
    expect(zSecret.parse(already)).toBe(already);
    expect(zSecret.parse(123456).reveal()).toBe('123456'); // unquoted YAML password
    for (const bad of ['', true, null, { a: 1 }]) expect(zSecret.safeParse(bad).success).toBe(false);
  });

  it('zPort accepts 1-65535 integers and digit strings', () => {
    expect(zPort.parse(1883)).toBe(1883);
    expect(zPort.parse('8883')).toBe(8883);
    for (const bad of [0, 65536, 1.5, 'http', -1]) expect(zPort.safeParse(bad).success).toBe(false);
  });

  it('zCidr accepts IPv4/IPv6 networks only', () => {
    for (const ok of ['10.0.0.0/8', '192.168.1.7/32', '0.0.0.0/0', '2001:db8::/32', '::1/128']) expect(zCidr.safeParse(ok).success).toBe(true);
    for (const bad of ['10.0.0.0/33', '10.0.0.1', 'abc/8', '2001:db8::/129', '10.0.0/8']) expect(zCidr.safeParse(bad).success).toBe(false);
  });

  it('zHostName accepts DNS names and IP addresses', () => {
    for (const ok of ['mq1', 'mq1.example.com', '10.0.0.1', 'fe80::1']) expect(zHostName.safeParse(ok).success).toBe(true);
    for (const bad of ['', 'bad_host', '-x.example', 'a b']) expect(zHostName.safeParse(bad).success).toBe(false);
  });
});
