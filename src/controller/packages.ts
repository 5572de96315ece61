/**
 * Debian packages on the controller (the sandbox's tools, Go and git for the exporter build, the demo's clients),
 * installed with apt-get in one place.
 *
 * Another apt or dpkg (unattended-upgrades, a user's apt) may hold a lock. apt ≥ 1.9 waits for the dpkg frontend
 * lock with `-o DPkg::Lock::Timeout=N`, but apt 2.6 fails at once on the lists lock (`apt-get update`) and the
 * archives lock (`apt-get install`), whatever that option says. So every apt-get runs with the option (a few
 * seconds per attempt) and, when it still fails on a lock, is retried until the bound; meanwhile a progress line names the lock and its holder, and
 * the final error says who held it.
 */
import { existsSync, unlinkSync, writeFileSync } from 'node:fs';
import { ProvisionError } from '../errors.js';
import { describeHolder, parseAptLockLine, type AptLockHolder } from './apt-lock-holder.js';
import { runLocal } from './local-command.js';

export const DEFAULT_APT_LOCK_TIMEOUT_SECONDS = 300;
/** DPkg::Lock::Timeout of one apt-get attempt. */
const ATTEMPT_LOCK_SECONDS = 5;

export class PackageInstallError extends ProvisionError {
  override readonly exitKind = 'failed';
}

export interface AptOptions {
  log?: (line: string) => void;
  /** How long to wait for other apt/dpkg processes in total (default 300 s). */
  lockTimeoutSeconds?: number;
  /** Base environment (tests point APT_CONFIG at a private apt state). */
  env?: NodeJS.ProcessEnv;
  /** A progress line while waiting: the first at once, then every this many ms (default 10 s). */
  progressEveryMs?: number;
}

export interface InstallOptions extends AptOptions {
  /** Keep packages' daemons from starting on this machine (a policy-rc.d for the install). */
  noServiceStart?: boolean;
}

/** The names that dpkg does not report as installed. */
export async function missingDebianPackages(names: string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const r = await runLocal('dpkg-query', ['-W', '-f=${Package} ${Status}\n', ...names]);
  const installed = new Set(r.stdout.split('\n').filter((l) => l.endsWith(' install ok installed')).map((l) => l.split(' ')[0]));
  return names.filter((n) => !installed.has(n));
}

/** Installs what is missing of `names` (apt-get update, then install); nothing when all are there. */
export async function installDebianPackages(names: string[], o: InstallOptions = {}): Promise<string[]> {
  const missing = await missingDebianPackages(names);
  if (missing.length === 0) return [];
  if (process.getuid?.() !== 0) {
    throw new PackageInstallError(`missing Debian packages on this machine: ${missing.join(' ')} (run as root, or: sudo apt-get install ${missing.join(' ')})`);
  }
  const deadline = Date.now() + (o.lockTimeoutSeconds ?? DEFAULT_APT_LOCK_TIMEOUT_SECONDS) * 1000;
  o.log?.(`installing ${missing.join(' ')} with apt-get`);
  await aptGet(['update', '-q'], { ...o, deadline });
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = o.noServiceStart && !existsSync(policy);
  if (ownPolicy) writeFileSync(policy, '#!/bin/sh\n# provision: no daemons started while installing controller packages\nexit 101\n', { mode: 0o755 });
  try {
    await aptGet(['install', '-y', '-q', '--no-install-recommends', ...missing], { ...o, deadline });
  } finally {
    if (ownPolicy) unlinkSync(policy);
  }
  const still = await missingDebianPackages(missing);
  if (still.length) throw new PackageInstallError(`still missing after apt-get install: ${still.join(' ')}`);
  o.log?.(`installed ${missing.join(' ')}`);
  return missing;
}

/** One apt-get command, waiting for other apt/dpkg processes until `deadline` (epoch ms). */
export async function aptGet(args: string[], o: AptOptions & { deadline?: number } = {}): Promise<void> {
  const started = Date.now();
  const deadline = o.deadline ?? started + (o.lockTimeoutSeconds ?? DEFAULT_APT_LOCK_TIMEOUT_SECONDS) * 1000;
  const bound = Math.round((deadline - started) / 1000);
  const env = { ...(o.env ?? process.env), DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' };
  const shown = `apt-get ${args.join(' ')}`;
  let lastProgress = -Infinity;
  const waiting = (h: AptLockHolder) => {
    if (Date.now() - lastProgress < (o.progressEveryMs ?? 10_000)) return;
    lastProgress = Date.now();
    o.log?.(`${shown}: waiting for ${describeHolder(h)} (${Math.round((Date.now() - started) / 1000)} s of at most ${bound} s)`);
  };
  for (;;) {
    // apt waits for the frontend lock itself, but in short slices: a failed attempt names the holder, so a progress
    // line appears even where apt prints nothing while it waits.
    const remaining = Math.min(ATTEMPT_LOCK_SECONDS, Math.max(0, Math.ceil((deadline - Date.now()) / 1000)));
    let holder: AptLockHolder | undefined;
    const r = await runLocal('apt-get', ['-o', `DPkg::Lock::Timeout=${remaining}`, ...args], {
      env,
      onLine: (line) => {
        const h = parseAptLockLine(line);
        if (h) {
          holder = h;
          waiting(h);
        }
      },
    }).catch((err: NodeJS.ErrnoException) => {
      throw new PackageInstallError(err.code === 'ENOENT' ? 'apt-get not found: installing controller packages needs a Debian/Ubuntu machine' : err.message);
    });
    if (r.code === 0) return;
    if (!holder) {
      const tail = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-10).join('\n');
      throw new PackageInstallError(`${shown} failed (exit ${r.code ?? r.signal})${tail ? `:\n${tail}` : ''}`);
    }
    if (Date.now() >= deadline) {
      throw new PackageInstallError(`${shown}: gave up after ${Math.round((Date.now() - started) / 1000)} s waiting for ${describeHolder(holder)}`);
    }
    await new Promise((res) => setTimeout(res, Math.min(1000, Math.max(0, deadline - Date.now()))));
  }
}
