/**
 * The variable catalogue (src/cluster/variables.ts) is the one definition of every role variable: each role's
 * schema is made of the catalogue's own entries, every entry is read by some role and has a doc line, and
 * docs/variables.md documents exactly the catalogue, each variable with its default.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defaultOf, pick, VARIABLE_DOCS, VARIABLES, type VariableName } from '../../../src/cluster/variables.js';
import { availableRoles, loadRole } from '../../../src/engine/playbook.js';
import type { Role } from '../../../src/engine/types.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const names = Object.keys(VARIABLES) as VariableName[];

/** Rows of the tables headed `| name | type | default | …`: the names in the first cell, the default cell. */
export function documentedVariables(markdown: string): { names: string[]; default: string; line: number }[] {
  const rows: { names: string[]; default: string; line: number }[] = [];
  let inTable = false;
  markdown.split('\n').forEach((text, i) => {
    const cells = text.trim().startsWith('|') ? text.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim()) : null;
    if (!cells) return void (inTable = false);
    if (cells[0] === 'name') return void (inTable = cells[1] === 'type' && cells[2] === 'default');
    if (!inTable || /^-+$/.test(cells[0]!)) return;
    rows.push({ names: [...cells[0]!.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!), default: cells[2] ?? '', line: i + 1 });
  });
  return rows;
}

/** How docs/variables.md writes a default: the value in backticks, strings as they are, others as JSON. */
function asDocumented(value: unknown): string {
  return `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;
}

describe('variable catalogue', () => {
  let roles: Role[];
  beforeAll(async () => {
    roles = await Promise.all(availableRoles().map((r) => loadRole(r, join(ROOT, 'playbooks'), () => { throw new Error(`role ${r} not found`); })));
  });

  it('every role variable is the catalogue entry of that name (declared once, nowhere else)', () => {
    expect(roles.length).toBeGreaterThan(10);
    const local = roles.flatMap((r) => Object.entries(r.vars.shape as z.ZodRawShape).filter(([k, s]) => VARIABLES[k as VariableName] !== s).map(([k]) => `${r.name}.${k}`));
    expect(local).toEqual([]);
  });

  it('every catalogue entry is read by some role', () => {
    const read = new Set(roles.flatMap((r) => Object.keys(r.vars.shape as z.ZodRawShape)));
    expect(names.filter((n) => !read.has(n))).toEqual([]);
  });

  it('every entry has a doc line, and every doc line an entry', () => {
    expect(names.filter((n) => !VARIABLE_DOCS[n]?.trim())).toEqual([]);
    expect(Object.keys(VARIABLE_DOCS).filter((n) => !(n in VARIABLES))).toEqual([]);
  });

  it('pick and defaultOf read the catalogue', () => {
    expect(pick('mqtt_tls_port', 'cluster_mode')).toEqual({ mqtt_tls_port: VARIABLES.mqtt_tls_port, cluster_mode: VARIABLES.cluster_mode });
    expect(defaultOf('mqtt_tls_port')).toBe(8883);
    expect(defaultOf('verify_user')).toBe('provision-verify');
    expect(defaultOf('cluster_vip')).toBeUndefined();
  });
});

describe('docs/variables.md against the catalogue', () => {
  const rows = documentedVariables(readFileSync(join(ROOT, 'docs/variables.md'), 'utf8'));
  const documented = new Set(rows.flatMap((r) => r.names));

  it('reads the tables (parser check)', () => {
    expect(documentedVariables('| name | type | default |\n|---|---|---|\n| `a`, `b` | int | `1` |\n\n| name | default |\n|---|---|\n| `c` | x |\n\n| name | type | default |\n|---|---|---|\n| `d` | `x` \\| `y` | `y` |')).toEqual([{ names: ['a', 'b'], default: '`1`', line: 3 }, { names: ['d'], default: '`y`', line: 11 }]);
  });

  it('documents every catalogue variable', () => {
    expect(names.filter((n) => !documented.has(n))).toEqual([]);
  });

  it('documents no variable the catalogue lacks', () => {
    expect([...documented].filter((n) => !(n in VARIABLES))).toEqual([]);
  });

  it("gives each variable's default as the catalogue has it", () => {
    const wrong: string[] = [];
    for (const n of names) {
      const row = rows.find((r) => r.names.length === 1 && r.names[0] === n);
      if (!row) {
        wrong.push(`${n}: no row of its own`);
        continue;
      }
      const d = defaultOf(n);
      if (d === undefined ? row.default === '' : !row.default.includes(asDocumented(d))) wrong.push(`${n} (docs/variables.md:${row.line}): default ${d === undefined ? 'unset' : asDocumented(d)}, documented "${row.default}"`);
    }
    expect(wrong).toEqual([]);
  });
});
