/**
 * One run at a time per inventory directory: `provision.lock` beside `pki/` and `secrets/`.
 *
 * - Created atomically: the owner record is written to a private temporary file which is then hard-linked to the
 *   lock name (link fails with EEXIST when the lock exists), so a lock file is never seen half-written.
 * - Stale when its owner is gone: same machine and the PID no longer runs, or runs a different process (the
 *   recorded start time, with the boot id, differs: a reused PID or a reboot). A lock taken on another machine
 *   (an inventory on a shared file system) cannot be checked from here and is never taken over.
 * - Released on exit: normally, on error (the caller's `finally`), on process.exit() and on SIGINT/SIGTERM/SIGHUP.
 *   A SIGKILLed run leaves the file, which the next run recognises as stale.
 */
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { RunLockedError } from '../errors.js';
import { processAlive, processStartId } from './process-info.js';

export const RUN_LOCK_FILE = 'provision.lock';
/** `--wait-lock` without a value waits this long. */
export const DEFAULT_LOCK_WAIT_SECONDS = 300;

export interface LockOwner {
  pid: number;
  /** Boot id and start time of the owner process (see processStartId). */
  start: string;
  host: string;
  /** ISO time the lock was taken. */
  since: string;
  /** The owner's command line, with values that could be secrets masked. */
  command: string;
}

export interface RunLock {
  readonly file: string;
  release(): void;
}

export interface AcquireOptions {
  /** Shown to a second run: who holds the lock. Must already be masked (see describeCommand). */
  command: string;
  /** Seconds to wait for a held lock; 0 (default) fails at once. */
  waitSeconds?: number;
  /** A progress line while waiting (first at once, then every `progressEveryMs`). */
  progress?: (line: string) => void;
  progressEveryMs?: number;
  pollMs?: number;
}

export async function acquireRunLock(dir: string, o: AcquireOptions): Promise<RunLock> {
  const file = join(dir, RUN_LOCK_FILE);
  const me: LockOwner = { pid: process.pid, start: processStartId(process.pid) ?? '', host: hostname(), since: new Date().toISOString(), command: o.command };
  const started = Date.now();
  const waitMs = (o.waitSeconds ?? 0) * 1000;
  let lastProgress = -Infinity;
  for (;;) {
    const holder = tryCreate(file, me);
    if (!holder) return holdUntilExit(file, me);
    if (holder !== 'gone' && isStale(holder)) {
      removeIfUnchanged(file, holder);
      continue;
    }
    if (holder === 'gone') continue; // released between our attempt and our read: try again at once
    const waited = Date.now() - started;
    if (waited >= waitMs) throw new RunLockedError(file, describeOwner(holder), waitMs > 0 ? Math.round(waited / 1000) : undefined);
    if (o.progress && Date.now() - lastProgress >= (o.progressEveryMs ?? 10_000)) {
      lastProgress = Date.now();
      o.progress(`waiting for the run lock ${file}: held by ${describeOwner(holder)} (${Math.round(waited / 1000)} s of at most ${Math.round(waitMs / 1000)} s)`);
    }
    await new Promise((r) => setTimeout(r, Math.min(o.pollMs ?? 250, Math.max(1, waitMs - waited))));
  }
}

/** `argv` as shown to a second run: extra-vars values masked (they may carry passwords), file references kept. */
export function describeCommand(argv: string[]): string {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if ((a === '-e' || a === '--extra-vars') && i + 1 < argv.length) {
      out.push(a, maskExtraVars(argv[++i]!));
    } else if (a.startsWith('--extra-vars=')) {
      out.push(`--extra-vars=${maskExtraVars(a.slice('--extra-vars='.length))}`);
    } else if (a.startsWith('-e') && a.length > 2 && !a.startsWith('--')) {
      out.push(`-e${maskExtraVars(a.slice(2))}`);
    } else {
      out.push(a);
    }
  }
  return out.map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(' ');
}

function maskExtraVars(value: string): string {
  if (value.startsWith('@')) return value; // a file name, not a value
  const trimmed = value.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) return '********';
  // k=v pairs (Ansible's key=value form): keep the keys, mask every value.
  const keys = [...value.matchAll(/(?:^|\s)([A-Za-z_][\w.]*)=/g)].map((m) => `${m[1]}=********`);
  return keys.length ? keys.join(' ') : '********';
}

export function describeOwner(o: LockOwner): string {
  const ago = Math.max(0, Math.round((Date.now() - Date.parse(o.since)) / 1000));
  const where = o.host === hostname() ? '' : ` on ${o.host}`;
  return `pid ${o.pid}${where} since ${o.since} (${ago} s ago): ${o.command || '(command unknown)'}`;
}

/** undefined: we hold it now. A LockOwner: someone else does. 'gone': it vanished before we could read it. */
function tryCreate(file: string, me: LockOwner): LockOwner | 'gone' | undefined {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(me)}\n`, { mode: 0o644 });
  try {
    linkSync(tmp, file);
    return undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(tmp);
  }
  return readOwner(file);
}

function readOwner(file: string): LockOwner | 'gone' {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw err;
  }
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    if (typeof o.pid === 'number' && typeof o.host === 'string') {
      return { pid: o.pid, start: String(o.start ?? ''), host: o.host, since: String(o.since ?? ''), command: String(o.command ?? '') };
    }
  } catch {
    // fall through: not written by us (the link makes our own files complete)
  }
  // Unreadable content: treat as held by an unknown process on this machine that is gone (pid 0).
  return { pid: 0, start: '', host: hostname(), since: '', command: `(unreadable lock file: ${JSON.stringify(text.slice(0, 60))})` };
}

export function isStale(o: LockOwner): boolean {
  if (o.host !== hostname()) return false;
  if (!processAlive(o.pid)) return true;
  const start = processStartId(o.pid);
  return o.start !== '' && start !== undefined && start !== o.start;
}

/**
 * Removes a stale lock, but only the one we judged: it is moved aside first, and if what was moved is not that
 * record (another run replaced it meanwhile) it is linked back.
 */
function removeIfUnchanged(file: string, judged: LockOwner): void {
  const aside = `${file}.${process.pid}.stale`;
  try {
    renameSync(file, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const moved = readOwner(aside);
  if (moved !== 'gone' && (moved.pid !== judged.pid || moved.start !== judged.start || moved.since !== judged.since)) {
    try {
      linkSync(aside, file);
    } catch {
      // a third run took the lock meanwhile; the one moved aside is live but loses the race (rare, documented)
    }
  }
  unlinkSync(aside);
}

function holdUntilExit(file: string, me: LockOwner): RunLock {
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.off('exit', release);
    for (const [sig, h] of handlers) process.off(sig, h);
    const now = readOwner(file);
    // Only our own lock: never remove one a later run took after ours was (wrongly) judged stale.
    if (now !== 'gone' && now.pid === me.pid && now.since === me.since) {
      try {
        unlinkSync(file);
      } catch {
        // already gone
      }
    }
  };
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((sig) => {
    const h = () => {
      release();
      // Nobody else handles it: die of the signal as if we had not listened.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  process.on('exit', release);
  return { file, release };
}
