// Machine-wide exclusive locks (several test runs and a demo may drive sandboxes at the same time).
// A lock is held by a small `flock` child process: the kernel releases it when that child exits,
// which also happens when this Node process dies (its stdin pipe closes), so locks never go stale.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { LOCK_DIR } from './paths.js';

export async function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  mkdirSync(LOCK_DIR, { recursive: true, mode: 0o700 });
  const file = join(LOCK_DIR, `${name}.lock`);
  const child = spawn('flock', ['-x', file, 'sh', '-c', 'echo locked; exec cat >/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let buf = '';
    let errBuf = '';
    child.stderr.on('data', (b: Buffer) => (errBuf += b.toString()));
    child.stdout.on('data', (b: Buffer) => {
      buf += b.toString();
      if (buf.includes('locked')) resolve();
    });
    child.on('error', reject);
    child.on('close', (code) => reject(new Error(`cannot take lock ${file} (flock exit ${code}): ${errBuf.trim()}`)));
  });
  try {
    return await fn();
  } finally {
    child.stdin.end();
    await exited;
  }
}

/** Lock serialising every change to one sandbox. */
export function withSandboxLock<T>(sandbox: string, fn: () => Promise<T>): Promise<T> {
  return withLock(`sandbox-${sandbox}`, fn);
}

/** Lock for machine-wide resources: subnet index allocation, the apt proxy, the nft table. */
export function withGlobalLock<T>(fn: () => Promise<T>): Promise<T> {
  return withLock('global', fn);
}
