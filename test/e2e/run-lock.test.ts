/**
 * The run lock on a real host: while one run provisions, a second run on the same inventory exits 5 naming it;
 * a second run with --wait-lock waits, then runs after the first and finds nothing left to change (the two never
 * interleave).
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sandboxDown, sandboxUp, type Sandbox } from '../../src/sandbox/index.js';
import { changedCount, provision } from '../support/cli.js';

const NAME = 'b-lock';
const PLAYBOOK = 'test/fixtures/playbooks/engine.yaml';
let sb: Sandbox;
let work: string;
let args: string[];
const env = { SELFTEST_TOKEN: 'S3cr3t-T0ken-value' };

const until = async (cond: () => boolean, what: string) => {
  const deadline = Date.now() + 120_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('run lock on a sandbox host', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'b-e2e-lock-'));
    sb = await sandboxUp({ name: NAME, count: 1 });
    const binary = join(work, 'tool');
    writeFileSync(binary, '#!/bin/sh\necho tool\n', { mode: 0o755 });
    const inv = join(work, 'inventory.yaml');
    writeFileSync(inv, `all:\n  vars:\n    selftest_secret: "{{ lookup('env', 'SELFTEST_TOKEN') }}"\n`);
    // The sandbox inventory first: the lock lives beside it.
    args = ['-i', sb.inventoryPath, '-i', inv, '--playbook', PLAYBOOK, '-e', `selftest_copy_src=${binary}`];
  });
  afterAll(async () => {
    await sandboxDown({ name: NAME });
  });

  it('a second run exits 5 naming the first; --wait-lock waits and then finds the host converged', async () => {
    const lockFile = join(dirname(sb.inventoryPath), 'provision.lock');
    expect(existsSync(lockFile)).toBe(false);
    const first = provision(args, { env, json: join(work, 'first.json') });
    await until(() => existsSync(lockFile), 'the first run to take the lock');

    const refused = await provision(args, { env });
    expect(refused.code, refused.stderr).toBe(5);
    expect(refused.stderr).toMatch(/another run holds the run lock .*provision\.lock: held by pid \d+ since .*: provision -i /);
    expect(refused.stdout).not.toContain('PLAY RECAP');

    const waiting = provision([...args, '--wait-lock=600'], { env, json: join(work, 'second.json') });
    const a = await first;
    expect(a.code, a.stdout + a.stderr).toBe(0);
    expect(changedCount(a.report!)).toBeGreaterThan(0);
    const b = await waiting;
    expect(b.code, b.stdout + b.stderr).toBe(0);
    expect(b.stderr).toContain('waiting for the run lock');
    // It ran strictly after the first: nothing was left to change.
    expect(changedCount(b.report!), b.stdout).toBe(0);
    expect(Date.parse(b.report!.startedAt)).toBeGreaterThanOrEqual(Date.parse(a.report!.startedAt) + a.report!.durationMs - 1000);
    expect(existsSync(lockFile)).toBe(false);
  });
});
