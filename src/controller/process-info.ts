// What this controller machine says about a process: alive or not, when it started, what it runs (from /proc).
import { readFileSync } from 'node:fs';

/** True when a process with this PID exists and is not a zombie. */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const state = statFields(pid)?.[0];
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/**
 * The process's start time (clock ticks since boot, field 22 of /proc/<pid>/stat) prefixed with the boot id:
 * a PID reused by another process, or a reboot, gives a different value. undefined when the process is gone.
 */
export function processStartId(pid: number): string | undefined {
  const start = statFields(pid)?.[19];
  if (start === undefined) return undefined;
  return `${bootId()}:${start}`;
}

/** The command line of a process, words joined by spaces ('' when it is gone or unreadable). */
export function processCommand(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return '';
  }
}

/** Fields 3… of /proc/<pid>/stat (after the parenthesised name, which may itself contain spaces and parentheses). */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).trim().split(' ');
  } catch {
    return undefined;
  }
}

let boot: string | undefined;
function bootId(): string {
  try {
    boot ??= readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    boot = 'unknown-boot';
  }
  return boot;
}
