import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CASES, inventory, type HostileCase } from '../fixtures/hostile/cases.js';
import { PROJECT } from '../support/cli.js';

/** The build under test: this checkout, or another one (E_CORPUS_ROOT=/path, to measure an older build). */
const CLI_ROOT = process.env.E_CORPUS_ROOT ?? PROJECT;
/** Bound per case: a case that needs longer is a hang (the slowest case takes about 2 s). */
const CASE_TIMEOUT_MS = 30_000;
const STACK_TRACE = /^\s+at .+:\d+:\d+\)?$|Node\.js v\d+|Unhandled 'error' event/m;

let server: Server;
let port = 0;
let connections = 0;
const root = mkdtempSync(join(tmpdir(), 'e-hostile-'));

beforeAll(async () => {
  // Every inventory points its host here: a connection means the CLI touched a host.
  server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(root, { recursive: true, force: true });
});

function materialise(c: { name: string; files: HostileCase['files'] }): string {
  const dir = join(root, c.name);
  mkdirSync(dir, { recursive: true });
  for (const [rel, content] of Object.entries(c.files)) {
    const text = (typeof content === 'function' ? content() : content).replaceAll('@PORT@', String(port)).replaceAll('@DIR@', dir);
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return dir;
}

function run(args: string[]): Promise<{ code: number | null; out: string; timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(CLI_ROOT, 'bin', 'provision.js'), ...args], {
      cwd: CLI_ROOT,
      env: { ...process.env, CI: '1', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, CASE_TIMEOUT_MS);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, timedOut });
    });
  });
}

describe('hostile-input corpus (real CLI, loopback listener as the only host)', () => {
  it('has at least 50 cases with unique names', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(50);
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
  });

  it('the listener sees a connection when the input is valid (the detector works)', async () => {
    const dir = materialise({ name: 'control-valid', files: { 'inventory.yml': inventory() } });
    const before = connections;
    await run(['-i', join(dir, 'inventory.yml'), '--check', '--phase', 'configure']);
    expect(connections).toBeGreaterThan(before);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const dir = materialise(c);
    const args = (c.args ?? ['-i', '@DIR@/inventory.yml', '--check']).map((a) => a.replaceAll('@DIR@', dir).replaceAll('@PORT@', String(port)));
    const before = connections;
    const r = await run(args);
    const touched = connections - before;
    if (process.env.E_CORPUS_REPORT) {
      // One line per case for the figures in docs/security.md: held = refused before any host, no hang, no trace.
      const held = !r.timedOut && !STACK_TRACE.test(r.out) && touched === 0 && (r.code === 4 || r.code === 5);
      const verdict = { name: c.name, area: c.area, held, code: r.code, hung: r.timedOut, trace: STACK_TRACE.test(r.out), touched, exact: r.code === c.exit && c.message.test(r.out) };
      appendFileSync(process.env.E_CORPUS_REPORT, `${JSON.stringify(verdict)}\n`);
    }
    const shown = r.out.length > 2000 ? `${r.out.slice(0, 2000)}…` : r.out;
    expect(r.timedOut, `hung (killed after ${CASE_TIMEOUT_MS} ms)`).toBe(false);
    expect(r.out, 'a stack trace').not.toMatch(STACK_TRACE);
    expect({ code: r.code, out: shown }).toMatchObject({ code: c.exit });
    expect(r.out).toMatch(c.message);
    if (c.at) expect(r.out).toContain(join(dir, c.at));
    for (const secret of c.never ?? []) expect(r.out).not.toContain(secret);
    expect(touched, 'a connection reached the host').toBe(0);
  });
});
