// Careful file-system helpers: never delete through a mount point.
import { existsSync, readFileSync } from 'node:fs';
import { exec, run } from './exec.js';

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points of the controller's mount namespace at or below dir, deepest first. */
export function mountsUnder(dir: string): string[] {
  const prefix = dir.replace(/\/+$/, '');
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f.length < 5) continue;
    const mp = unescapeMount(f[4]);
    if (mp === prefix || mp.startsWith(prefix + '/')) out.push(mp);
  }
  return [...new Set(out)].sort((a, b) => b.length - a.length);
}

export function isMountPoint(dir: string): boolean {
  const d = dir.replace(/\/+$/, '');
  return mountsUnder(d).includes(d);
}

/** Unmounts everything at or below dir (lazy unmount as a fallback). */
export async function unmountUnder(dir: string): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const mps = mountsUnder(dir);
    if (mps.length === 0) return;
    for (const mp of mps) {
      const r = await exec('umount', [mp]);
      if (r.code !== 0) await exec('umount', ['-l', mp]);
    }
  }
  const left = mountsUnder(dir);
  if (left.length > 0) throw new Error(`cannot unmount ${left.join(', ')}`);
}

/** Removes a directory tree after unmounting whatever is mounted inside it; stays on one file system. */
export async function removeTree(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  await unmountUnder(dir);
  await run('rm', ['-rf', '--one-file-system', '--', dir]);
}
