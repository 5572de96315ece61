/** Issue 10 item 13: a --limit matching nothing is one answer (bad option, exit 5) for a run and for the listings. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT, exitCodeForError } from '../../../src/cli/exit-codes.js';
import { parseRunOptions } from '../../../src/cli/options.js';
import { runCommand } from '../../../src/commands/run.js';

const tmp = mkdtempSync(join(tmpdir(), 'provision-run-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('runCommand before any connection', () => {
  it.each([[['--list-hosts']], [['--list-tasks']], [['--check']], [[]]])('--limit nosuch %j: exit 5, the same message', async (extra) => {
    const inv = join(tmp, 'hosts.ini');
    writeFileSync(inv, '[brokers]\nmq1 ansible_user=root\n');
    const err = await runCommand(parseRunOptions(['-i', inv, '--limit', 'nosuch', ...extra])).then(() => undefined, (e: unknown) => e);
    expect(exitCodeForError(err)).toBe(EXIT.options);
    expect((err as Error).message).toMatch(/^--limit nosuch: /);
  });
});
