// Who holds an apt/dpkg lock: apt names the holder in its message; /proc/locks is asked when it does not.
import { readFileSync, statSync } from 'node:fs';
import { processCommand } from './process-info.js';

export interface AptLockHolder {
  lock: string;
  pid?: number;
  /** The holder's command line (or the name apt gave when the process is already gone). */
  command?: string;
}

/**
 * Parses apt's lock messages, e.g. `E: Could not get lock /var/lib/apt/lists/lock. It is held by process 123 (apt-get)`
 * or `Waiting for cache lock: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 123 (python3)...`.
 */
export function parseAptLockLine(line: string): AptLockHolder | undefined {
  const m = /Could not get lock (\/\S+?)\.?(?: It is held by process (\d+)(?: \(([^)]*)\))?|\s-\s|$)/.exec(line);
  if (!m) return undefined;
  const lock = m[1]!;
  const pid = m[2] ? Number(m[2]) : posixLockOwner(lock);
  if (pid === undefined) return { lock };
  return { lock, pid, command: processCommand(pid) || m[3] || '(gone)' };
}

export function describeHolder(h: AptLockHolder): string {
  return h.pid === undefined ? `${h.lock} (holder unknown)` : `${h.lock}, held by pid ${h.pid} (${h.command ?? '?'})`;
}

/** The PID holding a POSIX or flock lock on this file, from /proc/locks (matched by inode). */
function posixLockOwner(file: string): number | undefined {
  let ino: number;
  try {
    ino = statSync(file).ino;
  } catch {
    return undefined;
  }
  let table: string;
  try {
    table = readFileSync('/proc/locks', 'utf8');
  } catch {
    return undefined;
  }
  // "1: POSIX  ADVISORY  WRITE 4321 08:01:131090 0 EOF"
  for (const line of table.split('\n')) {
    const f = line.trim().split(/\s+/);
    const dev = f.find((x) => /^[0-9a-f]+:[0-9a-f]+:\d+$/.test(x));
    if (!dev || Number(dev.split(':')[2]) !== ino) continue;
    const pid = Number(f[f.indexOf(dev) - 1]);
    if (pid > 0) return pid;
  }
  return undefined;
}
