import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunReport } from '../../src/engine/records.js';

export const PROJECT = join(import.meta.dirname, '..', '..');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  report?: RunReport;
}

/** A run that outlives this is ended (SIGTERM, then SIGKILL) so the test fails with its output, not a silent hook timeout. */
export const CLI_TIMEOUT_MS = 420_000;

/** Runs the real CLI (compiled, as users run it) and reads its --json report when asked for one. */
export function provision(args: string[], o: { env?: NodeJS.ProcessEnv; json?: string; onStdout?: (s: string) => void; timeoutMs?: number } = {}): Promise<CliResult> {
  const argv = [join(PROJECT, 'bin', 'provision.js'), ...args, ...(o.json ? ['--json', o.json] : [])];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { cwd: PROJECT, env: { ...process.env, CI: '1', NO_COLOR: '1', ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      o.onStdout?.(d.toString());
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const limit = o.timeoutMs ?? CLI_TIMEOUT_MS;
    let killer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      stderr += `\n[test support] provision ${args.join(' ')} still running after ${limit / 1000} s: ended with SIGTERM\n`;
      child.kill('SIGTERM');
      killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    }, limit);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      clearTimeout(killer);
      let report: RunReport | undefined;
      if (o.json) {
        try {
          report = JSON.parse(readFileSync(o.json, 'utf8')) as RunReport;
        } catch {
          report = undefined;
        }
      }
      resolve({ code: code ?? -1, stdout, stderr, ...(report ? { report } : {}) });
    });
  });
}

export function changedCount(r: RunReport): number {
  return r.hosts.reduce((n, h) => n + h.changed, 0);
}
