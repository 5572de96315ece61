// Issue 13: a no-op run asks the controller build for the binary it built last time; that answer must come from
// the cache without any git or go process. Every process the build module starts goes through node:child_process'
// spawn, wrapped here to record its command.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

const spawned: string[] = [];
/** Set: `go build` fails at once (a test that only needs to see that a rebuild was started). */
let failGoBuild = false;
vi.mock('node:child_process', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:child_process')>();
  return {
    ...real,
    spawn: (cmd: string, args: readonly string[], opts: object) => {
      spawned.push([cmd, ...args].join(' '));
      if (failGoBuild && cmd === 'go' && args[0] === 'build') return real.spawn('false', [], opts);
      return real.spawn(cmd, args, opts);
    },
  };
});

const { buildExporterOnController, sha256File, TAG_RECHECK_MS } = await import('../../../src/exporter/controller-build.js');
const { makeExporterGitRepo } = await import('../../support/exporter-fixture.js');

let root = '';
let repo: { url: string; ref: string };
let cacheDir = '';
let commit = '';

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'provision-exporter-noop-'));
  cacheDir = join(root, 'cache');
  repo = await makeExporterGitRepo(join(root, 'repo'));
  commit = (await promisify(execFile)('git', ['-C', join(root, 'repo'), 'rev-parse', `${repo.ref}^{commit}`])).stdout.trim();
  // A binary for (commit, amd64) as a finished build leaves it (no Go build in this test): its metadata and file.
  const bin = join(cacheDir, 'bin', `mosquitto_exporter-${commit}-amd64`);
  await mkdir(join(cacheDir, 'bin'), { recursive: true, mode: 0o700 });
  await writeFile(bin, 'stand-in binary\n', { mode: 0o755 });
  await writeFile(`${bin}.json`, JSON.stringify({ commit, ref: repo.ref, arch: 'amd64', version: '0.8.0', sha256: await sha256File(bin) }));
}, 60_000);

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

const lookup = () => buildExporterOnController({ repoUrl: repo.url, ref: repo.ref, version: '0.8.0', cacheDir, goarch: 'amd64' });

describe('the exporter cache lookup of a no-op run', () => {
  it('asks git once (the first lookup resolves the tag), then answers from the cache without starting a process', async () => {
    spawned.length = 0;
    const first = await lookup();
    expect(first).toMatchObject({ cached: true, commit });
    expect(spawned.some((c) => c.startsWith('git '))).toBe(true);

    spawned.length = 0;
    const again = await lookup();
    expect(again).toMatchObject({ cached: true, commit, sha256: first.sha256, binaryPath: first.binaryPath });
    expect(spawned).toEqual([]);
  }, 60_000);

  it('asks the repository again once the tag was resolved longer ago than TAG_RECHECK_MS (a moved tag is noticed)', async () => {
    await lookup();
    const pins = join(cacheDir, 'pins');
    const [pinFile] = (await import('node:fs')).readdirSync(pins);
    const pin = JSON.parse(await readFile(join(pins, pinFile!), 'utf8')) as { resolvedAt: number };
    await writeFile(join(pins, pinFile!), JSON.stringify({ ...pin, resolvedAt: Date.now() - TAG_RECHECK_MS - 1 }));
    spawned.length = 0;
    expect(await lookup()).toMatchObject({ cached: true, commit });
    expect(spawned.some((c) => c.includes(' fetch '))).toBe(true);
  }, 60_000);

  it('hashes the binary again when it was rewritten since its digest was recorded, and does not reuse a changed one', async () => {
    const r = await lookup();
    const meta = JSON.parse(await readFile(`${r.binaryPath}.json`, 'utf8')) as { stat?: string };
    expect(meta.stat).toBeTruthy(); // the digest's file identity was recorded by the lookups above
    await writeFile(r.binaryPath, 'tampered\n');
    const past = new Date(Date.now() - 60_000);
    await utimes(r.binaryPath, past, past); // even with an old mtime: the rewrite changed the size and ctime
    const lines: string[] = [];
    spawned.length = 0;
    failGoBuild = true;
    try {
      await expect(buildExporterOnController({ repoUrl: repo.url, ref: repo.ref, version: '0.8.0', cacheDir, goarch: 'amd64', onProgress: (l) => lines.push(l) })).rejects.toThrow(/go build/);
    } finally {
      failGoBuild = false;
    }
    expect(lines.some((l) => /does not match its recorded sha256; rebuilding/.test(l))).toBe(true);
    expect(spawned.some((c) => c.startsWith('go build'))).toBe(true);
  }, 120_000);
});

describe('the first build\'s progress (go build -v package lines)', () => {
  it('turns package lines into "compiled N of TOTAL" at most every 5 %, and passes other lines through', async () => {
    const { compileCounter } = await import('../../../src/exporter/controller-build.js');
    const lines: string[] = [];
    const feed = compileCounter(40, (l) => lines.push(l));
    for (let i = 1; i <= 40; i++) feed(i === 40 ? 'github.com/sapcc/mosquitto-exporter' : `internal/pkg${i}`);
    feed('./main.go:3:2: cannot find package "x"');
    expect(lines[0]).toBe('compiled 2 of 40 packages (5 %): internal/pkg2');
    expect(lines).toHaveLength(21);
    expect(lines.at(-2)).toBe('compiled 40 of 40 packages (100 %): github.com/sapcc/mosquitto-exporter');
    expect(lines.at(-1)).toBe('./main.go:3:2: cannot find package "x"');
    const unknown: string[] = [];
    compileCounter(undefined, (l) => unknown.push(l))('fmt');
    expect(unknown).toEqual(['compiled 1 packages (fmt)']);
  });
});
