import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectDir } from '../engine/project.js';

export function version(): string {
  return (JSON.parse(readFileSync(join(projectDir(), 'package.json'), 'utf8')) as { version: string }).version;
}
