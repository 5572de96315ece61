import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder holding package.json: roles/, playbooks/ and dist/ live there. */
export function projectDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || dir.endsWith('/dist')) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the provision project folder');
    dir = up;
  }
  return dir;
}

/** True when running the compiled JavaScript (dist/), false under vitest/tsx on the TypeScript sources. */
export function runningCompiled(): boolean {
  return fileURLToPath(import.meta.url).includes('/dist/');
}
