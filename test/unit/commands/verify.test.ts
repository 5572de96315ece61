/**
 * issue 9 item 8: `provision verify` through the common parser: ansible.cfg's inventory, --limit narrowing the hosts
 * checked (a pattern matching nothing is a bad option, exit 5), and its exit code from the mapping (2 when a check
 * failed). The hosts are loopback ports nothing listens on, so every connecting check fails at once.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, exitCodeFor, exitCodeForError } from '../../../src/cli/exit-codes.js';
import { dispatch } from '../../../src/cli/main.js';
import { ensureCa } from '../../../src/pki/index.js';
import { captureStdout } from '../../support/capture-stdout.js';

let tmp: string;
let inventory: string;
let closedPort: number;

/** A loopback port that was just free: connecting to it is refused. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'provision-verify-'));
  closedPort = await freePort();
  const dir = join(tmp, 'inv');
  mkdirSync(dir);
  await ensureCa({ dir: join(dir, 'pki'), check: false });
  inventory = join(dir, 'hosts.yaml');
  const host = `{ ansible_host: 127.0.0.1, ansible_user: root, ansible_port: ${closedPort}, mqtt_tls_port: ${closedPort}, ansible_timeout: 2 }`;
  writeFileSync(
    inventory,
    `all:\n  vars:\n    verify_password: v-pw\n    mqtt_admin_password: a-pw\n  children:\n    brokers:\n      hosts:\n        mq1: ${host}\n        mq2: ${host}\n`,
  );
}, 60_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('provision verify', () => {
  it('reads the inventory from ansible.cfg; a failed check exits 2 (the mapping), every check in --json', async () => {
    const cfg = join(tmp, 'ansible.cfg');
    writeFileSync(cfg, `[defaults]\ninventory = ${inventory}\n`);
    const json = join(tmp, 'all.json');
    const before = process.env.ANSIBLE_CONFIG;
    process.env.ANSIBLE_CONFIG = cfg;
    try {
      const { value, out } = await captureStdout(() => dispatch(['verify', '--json', json, '--known-hosts', join(tmp, 'known_hosts')]));
      expect(exitCodeFor(value)).toBe(EXIT.failed);
      expect(out).toMatch(/checks failed\n$/);
    } finally {
      if (before === undefined) delete process.env.ANSIBLE_CONFIG;
      else process.env.ANSIBLE_CONFIG = before;
    }
    const report = JSON.parse(readFileSync(json, 'utf8')) as { ok: boolean; checks: { name: string; ok: boolean }[] };
    expect(report.ok).toBe(false);
    const names = report.checks.map((c) => c.name).join('\n');
    expect(names).toContain('exporter metrics on mq1');
    expect(names).toContain('exporter metrics on mq2');
  });

  it('--limit narrows the hosts checked', async () => {
    const json = join(tmp, 'limited.json');
    const { value } = await captureStdout(() => dispatch(['verify', '-i', inventory, '-l', 'mq2', '--json', json, '--known-hosts', join(tmp, 'known_hosts')]));
    expect(exitCodeFor(value)).toBe(EXIT.failed);
    const names = (JSON.parse(readFileSync(json, 'utf8')) as { checks: { name: string }[] }).checks.map((c) => c.name).join('\n');
    expect(names).toContain('exporter metrics on mq2');
    expect(names).not.toMatch(/\bmq1\b/);
  });

  it('a --limit matching nothing is a bad option (exit 5), as for a run, before any host is contacted', async () => {
    const e = await dispatch(['verify', '-i', inventory, '-l', 'nosuch']).then(() => undefined, (x: unknown) => x);
    expect(exitCodeForError(e)).toBe(EXIT.options);
    expect((e as Error).message).toMatch(/^--limit nosuch: /);
  });
});
