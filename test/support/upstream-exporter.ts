/**
 * The exporter the end-to-end tests build: the real sapcc/mosquitto-exporter at v0.8.0 where a copy of the
 * upstream repository sits beside the checkout (`../shared/upstream/sapcc-mosquitto-exporter.git`; CI has it),
 * else the stand-in of test/fixtures/mosquitto-exporter (same tag, same flags and environment).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { PROJECT } from './cli.js';
import { makeExporterGitRepo } from './exporter-fixture.js';

const execFileP = promisify(execFile);

/** v0.8.0 of the upstream repository. */
export const UPSTREAM_REF = 'v0.8.0';
export const UPSTREAM_COMMIT = 'e26806496667e6c2b5b704ee17e2bf01067e419b';
const UPSTREAM_NAME = 'sapcc-mosquitto-exporter.git';

/** The upstream copy: beside the checkout, or beside the directory of worktrees holding it. PROVISION_TEST_STANDIN=1: none. */
export function upstreamExporterDir(): string | undefined {
  if (process.env.PROVISION_TEST_STANDIN === '1') return undefined;
  for (const up of ['..', '../..']) {
    const p = resolve(PROJECT, up, 'shared', 'upstream', UPSTREAM_NAME);
    if (existsSync(join(p, 'objects'))) return p;
  }
  return undefined;
}

export interface ExporterSource {
  /** A git repository in `into` (bare for the real one). */
  dir: string;
  url: string;
  ref: string;
  /** True: the real upstream exporter; false: the stand-in. */
  real: boolean;
}

/**
 * A usable repository in `into`. The upstream copy is read-only and lacks the empty `refs/` directories git
 * needs to recognise a repository, so it is copied and completed.
 */
export async function exporterSource(into: string): Promise<ExporterSource> {
  const upstream = upstreamExporterDir();
  if (!upstream) {
    const { url, ref } = await makeExporterGitRepo(into);
    return { dir: resolve(into), url, ref, real: false };
  }
  const dir = resolve(into);
  await rm(dir, { recursive: true, force: true });
  await cp(upstream, dir, { recursive: true });
  await execFileP('chmod', ['-R', 'u+w,a+rX', dir]);
  await mkdir(join(dir, 'refs', 'heads'), { recursive: true });
  await mkdir(join(dir, 'refs', 'tags'), { recursive: true });
  await chmod(dir, 0o755);
  const { stdout } = await execFileP('git', ['--git-dir', dir, 'rev-parse', `${UPSTREAM_REF}^{commit}`]);
  if (stdout.trim() !== UPSTREAM_COMMIT) throw new Error(`${upstream}: ${UPSTREAM_REF} is ${stdout.trim()}, expected ${UPSTREAM_COMMIT}`);
  return { dir, url: pathToFileURL(dir).href, ref: UPSTREAM_REF, real: true };
}
