import { readFileSync, statSync } from 'node:fs';
import { parse, type ScalarTag } from 'yaml';
import { InputError, OptionsError } from '../errors.js';
import { Secret } from '../secrets.js';
import { decryptFileText, VaultKeyring } from './vault.js';
import { YAML_LIMITS, ansibleTags, checkFileSize } from './yaml-values.js';
import type { VarEntry } from './model.js';
import { NO_LOCATION } from './var-source.js';
import { loadVarsFile } from './vars-files.js';

/**
 * -e as the inventory loader takes it: `@file` items read like a group_vars file (YAML 1.1, vault, `{ from_env: X }`
 * and lookups, file:line positions for errors), the others as parseExtraVars reads them; later items win.
 */
export async function loadExtraVars(items: string[], vault: VaultKeyring = new VaultKeyring()): Promise<Map<string, VarEntry>> {
  const out = new Map<string, VarEntry>();
  const loc = NO_LOCATION('(extra vars)');
  for (const item of items) {
    const text = item.trim();
    if (text.startsWith('@')) {
      parseExtraVars([item], vault); // its checks and messages (a missing file, an alias bomb, not a mapping) are exit 5, bad options
      for (const [k, v] of await loadVarsFile(text.slice(1), vault)) out.set(k, v);
      continue;
    }
    for (const [k, value] of Object.entries(parseExtraVars([item], vault))) out.set(k, { value, node: { loc }, file: loc.file });
  }
  return out;
}

/** `-e k=v k2=v2`, `-e '{"k": 1}'` or `-e @vars.yaml`, merged left to right like ansible-playbook. */
export function parseExtraVars(items: string[], vault: VaultKeyring = new VaultKeyring()): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const item of items) {
    const text = item.trim();
    if (text.startsWith('@')) {
      let parsed: unknown;
      const file = text.slice(1);
      try {
        checkFileSize(file, statSync(file).size, 'the --extra-vars file');
        // A whole vault-encrypted file, or `!vault |` values in it (decrypted to Secrets).
        const vaultTag: ScalarTag = { tag: '!vault', resolve: (s: string) => new Secret(vault.decrypt(s, file), 'vault') as unknown as string };
        // maxAliasCount: the yaml package's own alias-bomb guard (its default, stated here because we rely on it).
        // Typed like the inventory's YAML (PyYAML 1.1, duplicate keys: the last wins), as ansible-playbook reads -e @file.
        parsed = parse(decryptFileText(readFileSync(file, 'utf8'), file, vault), {
          version: '1.1', customTags: (tags) => ansibleTags(tags).concat([vaultTag]), uniqueKeys: false, maxAliasCount: 100,
        });
      } catch (err) {
        if (err instanceof InputError || (err as { exitKind?: string }).exitKind === 'input') throw err;
        const deep = err instanceof RangeError || /Maximum call stack/.test((err as Error).message);
        const bomb = /Excessive alias count/.test((err as Error).message);
        const why = deep
          ? `nested too deeply (values may nest at most ${YAML_LIMITS.depth} levels)`
          : bomb
            ? 'YAML aliases expand too much (an alias bomb?; the yaml maxAliasCount limit is 100)'
            : (err as Error).message;
        throw new OptionsError(`--extra-vars ${text}: ${why}`);
      }
      checkDepth(parsed, `--extra-vars ${text}`);
      if (parsed === null || parsed === undefined) continue;
      if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new OptionsError(`--extra-vars ${text}: the file must hold a mapping of variable names to values`);
      Object.assign(out, parsed);
    } else if (text.startsWith('{')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        throw new OptionsError(`--extra-vars: invalid JSON: ${(err as Error).message}`);
      }
      checkDepth(parsed, '--extra-vars');
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new OptionsError('--extra-vars: the JSON must be an object of variable names to values');
      Object.assign(out, parsed);
    } else {
      for (const word of text.match(/(?:[^\s"']+|"[^"]*"|'[^']*')+/g) ?? []) {
        const m = word.match(/^([A-Za-z_][A-Za-z0-9_]*)=(?:"([^"]*)"|'([^']*)'|(.*))$/);
        if (!m) throw new OptionsError(`--extra-vars: '${word}' is not name=value (names are letters, digits and _)`);
        out[m[1]!] = m[2] ?? m[3] ?? coerce(m[4] ?? '');
      }
    }
  }
  return out;
}

/** Later stages (variable resolution) recurse per level: refuse what is deeper than inventory values may be. Iterative. */
function checkDepth(value: unknown, what: string): void {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (d > YAML_LIMITS.depth) throw new OptionsError(`${what}: nested too deeply (values may nest at most ${YAML_LIMITS.depth} levels)`);
    if (v && typeof v === 'object') for (const k of Object.values(v)) stack.push([k, d + 1]);
  }
}

function coerce(v: string): unknown {
  if (/^-?\d+$/.test(v)) return Number(v);
  if (v === 'true' || v === 'True') return true;
  if (v === 'false' || v === 'False') return false;
  return v;
}
