import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Secret } from './secrets.js';

/** file → its secret, read or made once per run; `onDisk` marks those known to be stored. */
const cache = new Map<string, Secret>();
const onDisk = new Set<string>();

/**
 * A password nobody has to invent: made once, kept beside the inventory in `secrets/<name>` (0600),
 * like Ansible's `password` lookup. In check mode a new one lives only in memory.
 */
export function generatedSecret(inventoryDir: string, name: string, check: boolean): Secret {
  const dir = join(inventoryDir, 'secrets');
  const file = join(dir, name);
  let s = cache.get(file);
  if (!s) {
    if (existsSync(file)) {
      s = new Secret(readFileSync(file, 'utf8').trim(), `file ${file}`);
      onDisk.add(file);
    } else s = new Secret(randomBytes(18).toString('base64url'), `generated ${file}`);
    cache.set(file, s);
  }
  if (!check && !onDisk.has(file)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${s.reveal()}\n`, { mode: 0o600 });
    renameSync(tmp, file);
    onDisk.add(file);
  }
  return s;
}
