// Controller-side process helpers (no shell involved: arguments are passed as an array).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface ExecOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
}

/** Runs a command and resolves with its output and exit code (never rejects for a non-zero exit). */
export function exec(cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    if (opts.timeoutMs) {
      timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, opts.timeoutMs);
    }
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      let stderr = Buffer.concat(err).toString('utf8');
      if (timedOut) stderr += `\n[timed out after ${opts.timeoutMs} ms]`;
      resolve({
        stdout: Buffer.concat(out).toString('utf8'),
        stderr,
        code: code ?? (signal ? 128 + signalNumber(signal) : 1),
      });
    });
    child.stdin.on('error', () => {
      /* command may exit before reading its input */
    });
    child.stdin.end(opts.input ?? '');
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  const map: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return map[signal] ?? 1;
}

export class CommandError extends Error {
  constructor(
    readonly cmd: string,
    readonly result: ExecResult,
  ) {
    super(`command failed (exit ${result.code}): ${cmd}\n${(result.stderr || result.stdout).trim()}`);
    this.name = 'CommandError';
  }
}

/** Runs a command and returns its stdout; throws CommandError on a non-zero exit. */
export async function run(cmd: string, args: string[], opts: ExecOptions = {}): Promise<string> {
  const r = await exec(cmd, args, opts);
  if (r.code !== 0) throw new CommandError([cmd, ...args].join(' '), r);
  return r.stdout;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** True when a process with this PID exists (and is not a zombie). */
export function pidAlive(pid: number | undefined): boolean {
  if (!pid || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** The command line of a process as an argv array ([] when it does not exist). */
export function pidCmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s) => s.length > 0);
  } catch {
    return [];
  }
}

/** True when the process is alive and its command line contains every given fragment. */
export function pidMatches(pid: number | undefined, ...fragments: string[]): boolean {
  if (!pid || !pidAlive(pid)) return false;
  const cmd = pidCmdline(pid).join('\0');
  return fragments.every((f) => cmd.includes(f));
}

/** Waits until the condition returns true; throws with the message after the timeout. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  message: string,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(message);
    await sleep(intervalMs);
  }
}
