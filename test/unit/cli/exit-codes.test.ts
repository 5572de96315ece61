/**
 * issue 9 item 8: every command returns a result and src/cli/exit-codes.ts alone turns it (or an error) into the
 * exit code; the commands hold no exit numbers.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT, exitCodeFor, exitCodeForError, exitCodeForReport } from '../../../src/cli/exit-codes.js';
import { dispatch } from '../../../src/cli/main.js';
import { reportOutcome, worstOutcome } from '../../../src/commands/result.js';
import type { RunReport } from '../../../src/engine/records.js';
import { BecomeError, CommandError, InputError, OptionsError, ProvisionError, RunLockedError, UnreachableError } from '../../../src/errors.js';
import { captureStdout } from '../../support/capture-stdout.js';

const report = (...states: ('ok' | 'failed' | 'unreachable')[]) => ({ hosts: states.map((state, i) => ({ host: `h${i}`, state })) }) as unknown as RunReport;

describe('exit codes, one mapping for every command', () => {
  it('results: ok 0, failed 2, unreachable 3, input 4, options and locked 5, internal 1', () => {
    expect(['ok', 'internal', 'failed', 'unreachable', 'input', 'options', 'locked'].map((r) => exitCodeFor(r as 'ok'))).toEqual([0, 1, 2, 3, 4, 5, 5]);
    expect(EXIT).toEqual({ ok: 0, internal: 1, failed: 2, unreachable: 3, input: 4, options: 5, locked: 5 });
  });

  it('sandbox keeps its own: a usage mistake 2, no such sandbox 1, `sandbox exec` the host command\'s status', () => {
    expect(exitCodeFor('usage')).toBe(2);
    expect(exitCodeFor('not-found')).toBe(1);
    expect(exitCodeFor({ status: 7 })).toBe(7);
  });

  it('a run and exec: a failed host outweighs an unreachable one', () => {
    expect([report(), report('ok', 'ok'), report('ok', 'unreachable'), report('unreachable', 'failed', 'ok')].map(exitCodeForReport)).toEqual([0, 0, 3, 2]);
    expect(reportOutcome(report('failed', 'unreachable'))).toBe('failed');
    expect(worstOutcome(['ok', 'unreachable', 'ok'])).toBe('unreachable');
    expect(worstOutcome(['failed', 'unreachable'])).toBe('failed');
    expect(worstOutcome([])).toBe('ok');
  });

  it('errors: their kind decides; anything else is internal', () => {
    const errors = [new InputError('x', 'f', 1), new OptionsError('x'), new CommandError('c', 1, ''), new BecomeError('h', 'x'), new UnreachableError('h', 'x'), new RunLockedError('l', 'pid 1'), new ProvisionError('x'), new Error('x'), 'thrown text'];
    expect(errors.map(exitCodeForError)).toEqual([4, 5, 2, 2, 3, 5, 1, 1, 1]);
  });

  it('no command spells an exit number or exits the process itself', () => {
    const dir = join(import.meta.dirname, '../../../src/commands');
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
      const text = readFileSync(join(dir, f), 'utf8');
      expect(text, f).not.toMatch(/process\.exit|process\.argv\.slice\(2\)\)?\s*\)|return\s+\d+\s*;|EXIT\./);
      expect(text, f).not.toMatch(/from '\.\.\/cli\//);
    }
  });
});

describe('dispatch: parse, call, and the result the mapping turns into the exit code', () => {
  it('help for every command is ok (0); `provision sandbox` alone prints its usage and is a usage mistake (2)', async () => {
    for (const [argv, usage] of [[['--help'], 'Usage:'], [['verify', '--help'], 'provision verify'], [['exec', '--help'], 'provision exec PATTERN'], [['inventory', '-h'], 'provision inventory -i'], [['pki', '--help'], 'usage: provision pki rotate-ca'], [['sandbox', 'help'], 'usage: provision sandbox']] as [string[], string][]) {
      const { value, out } = await captureStdout(() => dispatch(argv));
      expect(exitCodeFor(value), argv.join(' ')).toBe(0);
      expect(out).toContain(usage);
    }
    const { value, out } = await captureStdout(() => dispatch(['sandbox']));
    expect(exitCodeFor(value)).toBe(2);
    expect(out).toContain('usage: provision sandbox');
    expect((await captureStdout(() => dispatch(['--version']))).out).toMatch(/^provision \d+\.\d+\.\d+\n$/);
  });

  it('a sandbox usage mistake is 2 with the usage on stderr; a bad option elsewhere is an OptionsError (5)', async () => {
    const error = console.error;
    let err = '';
    console.error = (s: string) => void (err += s);
    try {
      expect(exitCodeFor(await dispatch(['sandbox', 'up']))).toBe(2);
    } finally {
      console.error = error;
    }
    expect(err).toMatch(/^provision sandbox: missing host count N\n\nusage: provision sandbox/);
    for (const argv of [['--forks', '0', '-i', 'h'], ['verify', '-i', 'h', '-T', '0'], ['exec', 'all', '-i', 'h'], ['inventory', '-i', 'h'], ['pki', 'rotate-ca', 'nope', '-i', 'h']]) {
      const e = await dispatch(argv).then(() => undefined, (x: unknown) => x);
      expect(exitCodeForError(e), argv.join(' ')).toBe(EXIT.options);
    }
  });
});
