// Runs a program on the controller (no shell: arguments are an array) and streams its output line by line.
import { spawn } from 'node:child_process';

export interface LocalResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface LocalOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Every complete output line (stdout and stderr), as it arrives. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

/** Resolves with the exit status whatever it is; rejects only when the program cannot be started. */
export function runLocal(cmd: string, args: string[], o: LocalOptions = {}): Promise<LocalResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: o.env ?? process.env, cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = { stdout: '', stderr: '' };
    const rest = { stdout: '', stderr: '' };
    const feed = (stream: 'stdout' | 'stderr') => (chunk: string) => {
      out[stream] = (out[stream] + chunk).slice(-1_000_000);
      const lines = (rest[stream] + chunk).split(/\r?\n|\r/);
      rest[stream] = lines.pop() ?? '';
      for (const l of lines) if (l.trim()) o.onLine?.(l, stream);
    };
    child.stdout.setEncoding('utf8').on('data', feed('stdout'));
    child.stderr.setEncoding('utf8').on('data', feed('stderr'));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      for (const s of ['stdout', 'stderr'] as const) if (rest[s].trim()) o.onLine?.(rest[s], s);
      resolve({ code, signal, ...out });
    });
  });
}
