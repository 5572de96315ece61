/**
 * The stand-in for sapcc/mosquitto-exporter (GitHub is out of reach here): a local git repository of
 * test/fixtures/mosquitto-exporter tagged v0.8.0, for `provision demo` and the tests.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** The tag the fixture repository carries, mirroring sapcc/mosquitto-exporter's release. */
export const EXPORTER_FIXTURE_REF = 'v0.8.0';

/** Fixed identity and dates: the same sources always give the same commit (and tag) hash. */
const FIXED_GIT_ENV = {
  GIT_AUTHOR_NAME: 'provision fixture',
  GIT_AUTHOR_EMAIL: 'fixture@provision.invalid',
  GIT_AUTHOR_DATE: '2021-06-01T12:00:00Z',
  GIT_COMMITTER_NAME: 'provision fixture',
  GIT_COMMITTER_EMAIL: 'fixture@provision.invalid',
  GIT_COMMITTER_DATE: '2021-06-01T12:00:00Z',
  // Ignore the developer's ~/.gitconfig and /etc/gitconfig (signing, hooks, templates …).
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_TERMINAL_PROMPT: '0',
};

/** test/fixtures/mosquitto-exporter, from the TS source (src/exporter) or compiled (dist/src/exporter). */
export function exporterFixtureDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const rel of ['../../test/fixtures/mosquitto-exporter', '../../../test/fixtures/mosquitto-exporter']) {
    const p = resolve(here, rel);
    if (existsSync(join(p, 'main.go'))) return p;
  }
  throw new Error(`mosquitto-exporter fixture sources not found near ${here}`);
}

async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await execFileP('git', ['-c', 'init.defaultBranch=main', ...args], {
    cwd,
    env: { ...process.env, ...FIXED_GIT_ENV },
  });
  return stdout.trim();
}

async function createRepo(into: string, sources: string): Promise<string> {
  await mkdir(into, { recursive: true });
  for (const name of await readdir(sources)) {
    if (name === 'bin' || name === '.git') continue; // never commit build output
    await cp(join(sources, name), join(into, name), { recursive: true });
  }
  await git(into, 'init', '-q');
  await git(into, 'add', '-A');
  await git(into, 'commit', '-q', '--no-gpg-sign', '--no-verify', '-m', 'mosquitto-exporter test fixture (stands in for sapcc/mosquitto-exporter v0.8.0)');
  await git(into, 'tag', '-a', '-m', 'v0.8.0', EXPORTER_FIXTURE_REF);
  return git(into, 'rev-parse', `${EXPORTER_FIXTURE_REF}^{commit}`);
}

async function tagCommit(repo: string): Promise<string | undefined> {
  if (!existsSync(join(repo, '.git'))) return undefined;
  try {
    return await git(repo, 'rev-parse', '--verify', '--quiet', `refs/tags/${EXPORTER_FIXTURE_REF}^{commit}`);
  } catch {
    return undefined;
  }
}

/**
 * Creates (idempotently) a local git repository holding the exporter fixture, committed with a fixed author and
 * date and tagged v0.8.0. A repository already in `dir` is kept when it holds exactly the same commit, and
 * replaced when the fixture sources changed.
 */
export async function makeExporterGitRepo(dir: string): Promise<{ url: string; ref: string }> {
  const target = resolve(dir);
  const url = pathToFileURL(target).href;
  const sources = exporterFixtureDir();

  // Build a candidate next to the target, then keep whichever is right: cheap (a few small files) and never
  // leaves a half-made repository in `dir`.
  const candidate = `${target}.new-${process.pid}-${Date.now()}`;
  await rm(candidate, { recursive: true, force: true });
  try {
    const wanted = await createRepo(candidate, sources);
    const existing = await tagCommit(target);
    if (existing === wanted) return { url, ref: EXPORTER_FIXTURE_REF };
    await rm(target, { recursive: true, force: true });
    await mkdir(dirname(target), { recursive: true });
    await rename(candidate, target);
    return { url, ref: EXPORTER_FIXTURE_REF };
  } finally {
    await rm(candidate, { recursive: true, force: true });
  }
}
