/**
 * `provision exec PATTERN -- COMMAND` (Ansible's `ansible PATTERN -m shell -a`) on two sandbox hosts: per-host
 * output in the pattern's order, the worst exit status, become to another user, a pattern part matching nothing.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sandboxDown, sandboxUp, type Sandbox } from '../../src/sandbox/index.js';
import { provision } from '../support/cli.js';

const NAME = 'f-exec';
let sb: Sandbox;
let inv: string[];

describe('provision exec on sandbox hosts', () => {
  beforeAll(async () => {
    sb = await sandboxUp({ name: NAME, count: 2 });
    const work = mkdtempSync(join(tmpdir(), 'f-e2e-exec-'));
    const groups = join(work, 'groups.ini');
    const [a, b] = sb.hosts.map((h) => h.name);
    // Each group in its own order: `second` lists the hosts the other way round.
    writeFileSync(groups, `[first]\n${a}\n${b}\n[second]\n${b}\n${a}\n`);
    inv = ['-i', sb.inventoryPath, '-i', groups];
  }, 300_000);
  afterAll(async () => {
    await sandboxDown({ name: NAME });
  });

  it('prints each host`s output under `host | CHANGED | rc=0 >>`, in the group`s order; exit 0', async () => {
    const [a, b] = sb.hosts.map((h) => h.name);
    const r = await provision(['exec', 'second', ...inv, '--', 'echo', 'hello from $(hostname)']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${b} | CHANGED | rc=0 >>\nhello from ${b}\n${a} | CHANGED | rc=0 >>\nhello from ${a}\n`);
  });

  it('a failing command on one host: FAILED with its status, exit 2; the other host still runs', async () => {
    const [a, b] = sb.hosts.map((h) => h.name);
    const r = await provision(['exec', 'first', ...inv, '--', `test "$(hostname)" = ${a} || { echo no >&2; exit 7; }`]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain(`${a} | CHANGED | rc=0 >>\n`);
    expect(r.stdout).toContain(`${b} | FAILED | rc=7 >>\nno\n`);
  });

  it('-b --become-user runs the command as that user; a pattern part matching nothing is a warning', async () => {
    const [a] = sb.hosts.map((h) => h.name);
    const r = await provision(['exec', `${a},nosuch`, ...inv, '-b', '--become-user', 'nobody', '--', 'id -un']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${a} | CHANGED | rc=0 >>\nnobody\n`);
    expect(r.stderr).toContain('Could not match supplied host pattern, ignoring: nosuch');
  });
});
