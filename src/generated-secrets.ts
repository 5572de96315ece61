import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Secret } from './secrets.js';

const pending = new Map<string, Secret>();

/**
 * A password nobody has to invent: made once, kept beside the inventory in `secrets/<name>` (0600),
 * like Ansible's `password` lookup. In check mode a new one lives only in memory.
 */
export function generatedSecret(inventoryDir: string, name: string, check: boolean): Secret {
  const dir = join(inventoryDir, 'secrets');
  const file = join(dir, name);
  if (existsSync(file)) return new Secret(readFileSync(file, 'utf8').trim(), `file ${file}`);
  const key = file;
  let s = pending.get(key);
  if (!s) {
    s = new Secret(randomBytes(18).toString('base64url'), `generated ${file}`);
    pending.set(key, s);
  }
  if (!check) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${s.reveal()}\n`, { mode: 0o600 });
    renameSync(tmp, file);
  }
  return s;
}
