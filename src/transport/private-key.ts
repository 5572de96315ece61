import { statSync } from 'node:fs';
import { InputError } from '../errors.js';
import type { ConnectionSpec } from '../inventory/connection.js';
import type { InventoryHost } from '../inventory/types.js';

/**
 * What is wrong with a private key file before it is used, as OpenSSH judges it (sshkey_perm_ok): a key owned
 * by the user running provision that group or others can access is refused, whatever it holds — a key others
 * can read is no longer private. A key owned by another user (root using a deploy user's key) is not judged,
 * as in OpenSSH. Returns undefined when the file is fine to use.
 */
export function privateKeyFileProblem(file: string): string | undefined {
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `private key file ${file} does not exist` : `cannot read private key file ${file} (${code ?? (e as Error).message})`;
  }
  if (!st.isFile()) return `private key file ${file} is not a regular file`;
  const mode = st.mode & 0o777;
  if (st.uid === process.getuid?.() && (mode & 0o077) !== 0) {
    return (
      `UNPROTECTED PRIVATE KEY FILE: permissions ${octal(mode)} for '${file}' are too open; ` +
      `a private key must not be accessible by group or others, so it is refused (as OpenSSH does). Fix: chmod 600 '${file}'`
    );
  }
  return undefined;
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}

/**
 * Every private key file a host's connection names, judged before any host is touched: a missing or
 * unprotected key is an input error at the variable that names it (exit 4), not a host found unreachable later.
 */
export function checkPrivateKeyFiles(host: InventoryHost, spec: ConnectionSpec, inventoryFile: string): void {
  const keyVar = lastSet(host, ['ansible_private_key_file', 'ansible_ssh_private_key_file']);
  const keys: { file: string; variable: string }[] = [];
  if (spec.privateKeyPath) keys.push({ file: spec.privateKeyPath, variable: keyVar ?? 'ansible_ssh_private_key_file' });
  const jumpKey = spec.jump?.privateKeyPath;
  if (jumpKey && jumpKey !== spec.privateKeyPath) {
    keys.push({ file: jumpKey, variable: lastSet(host, ['provision_jump_private_key_file', 'ansible_ssh_extra_args', 'ansible_ssh_common_args']) ?? 'provision_jump_private_key_file' });
  }
  for (const k of keys) {
    const problem = privateKeyFileProblem(k.file);
    if (!problem) continue;
    const loc = host.varSources[k.variable]?.locate([]);
    throw new InputError(`${problem} (host ${host.name})`, loc?.file ?? inventoryFile, loc?.line || undefined, loc?.column || undefined, k.variable);
  }
}

function lastSet(host: InventoryHost, names: string[]): string | undefined {
  return names.filter((n) => host.vars[n] !== undefined && host.vars[n] !== null).at(-1);
}
