import { readFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isScalar } from 'yaml';
import { InputError } from '../errors.js';
import type { VarEntry } from './model.js';
import { decryptFileText, type VaultKeyring } from './vault.js';
import { checkFileSize, describeNode, deref, fail, locatedValue, mapEntries, parseYamlFile, posOf, stringKey } from './yaml-values.js';

const EXTENSIONS = ['.yml', '.yaml', '.json'];

/**
 * Ansible's host_group_vars plugin for one directory (`group_vars` or `host_vars`):
 * for a name, the first of `<name>`, `<name>.yml`, `<name>.yaml`, `<name>.json` that exists;
 * a directory is read recursively in lexical order (hidden files and `~` backups skipped). Later files win.
 */
export async function loadVarsFor(dir: string, name: string, vault?: VaultKeyring, warn?: (message: string) => void): Promise<Map<string, VarEntry> | undefined> {
  const files = await findVarsFiles(dir, name);
  if (files.length === 0) return undefined;
  const vars = new Map<string, VarEntry>();
  for (const file of files) {
    for (const [k, v] of await loadVarsFile(file, vault, warn)) vars.set(k, v);
  }
  return vars;
}

async function kind(p: string): Promise<'file' | 'dir' | undefined> {
  try {
    const s = await stat(p);
    return s.isDirectory() ? 'dir' : s.isFile() ? 'file' : undefined;
  } catch {
    return undefined;
  }
}

async function findVarsFiles(dir: string, name: string): Promise<string[]> {
  for (const ext of ['', ...EXTENSIONS]) {
    const p = path.join(dir, name + ext);
    const k = await kind(p);
    if (k === 'dir') return dirVarsFiles(p);
    if (k === 'file') return [p];
  }
  return [];
}

async function dirVarsFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  const names = (await readdir(dir)).sort();
  for (const n of names) {
    if (n.startsWith('.') || n.endsWith('~')) continue;
    const p = path.join(dir, n);
    const ext = path.extname(n);
    const k = await kind(p);
    if (k === 'dir' && !ext) found.push(...(await dirVarsFiles(p)));
    else if (k === 'file' && (!ext || EXTENSIONS.includes(ext))) found.push(p);
  }
  return found;
}

/** A vars file: a YAML/JSON mapping of variable names to values (empty file = no variables), vault-encrypted or not. */
export async function loadVarsFile(file: string, vault?: VaultKeyring, warn?: (message: string) => void): Promise<Map<string, VarEntry>> {
  let text: string;
  try {
    checkFileSize(file, (await stat(file)).size, 'the variables file');
    text = await readFile(file, 'utf8');
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`cannot read variables file: ${(e as Error).message}`, file);
  }
  const y = parseYamlFile(file, decryptFileText(text, file, vault), path.dirname(file), warn);
  const root = deref(y, y.doc.contents);
  const vars = new Map<string, VarEntry>();
  if (root === null || (isScalar(root) && root.value === null)) return vars;
  if (!isMap(root)) fail(`a variables file must be a mapping of variable names to values, got ${describeNode(root)}`, posOf(y, root));
  for (const e of mapEntries(y, root)) {
    const { name, loc } = stringKey(y, e.keyNode, 'a variable name');
    const r = locatedValue(y, e.value, loc);
    r.node.keyLoc = loc;
    vars.set(name, { value: r.value, node: r.node, file });
  }
  return vars;
}
