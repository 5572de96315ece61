import { readFileSync } from 'node:fs';
import { parse, type ScalarTag } from 'yaml';
import { OptionsError } from '../errors.js';
import { Secret } from '../secrets.js';
import { decryptFileText, VaultKeyring } from '../inventory/vault.js';

/** `-e k=v k2=v2`, `-e '{"k": 1}'` or `-e @vars.yaml`, merged left to right like ansible-playbook. */
export function parseExtraVars(items: string[], vault: VaultKeyring = new VaultKeyring()): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const item of items) {
    const text = item.trim();
    if (text.startsWith('@')) {
      let parsed: unknown;
      const file = text.slice(1);
      try {
        // A whole vault-encrypted file, or `!vault |` values in it (decrypted to Secrets).
        const vaultTag: ScalarTag = { tag: '!vault', resolve: (s: string) => new Secret(vault.decrypt(s, file), 'vault') as unknown as string };
        parsed = parse(decryptFileText(readFileSync(file, 'utf8'), file, vault), { customTags: [vaultTag] });
      } catch (err) {
        if ((err as { exitKind?: string }).exitKind === 'input') throw err;
        throw new OptionsError(`--extra-vars ${text}: ${(err as Error).message}`);
      }
      if (parsed === null || parsed === undefined) continue;
      if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new OptionsError(`--extra-vars ${text}: the file must hold a mapping of variable names to values`);
      Object.assign(out, parsed);
    } else if (text.startsWith('{')) {
      try {
        Object.assign(out, JSON.parse(text));
      } catch (err) {
        throw new OptionsError(`--extra-vars: invalid JSON: ${(err as Error).message}`);
      }
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

function coerce(v: string): unknown {
  if (/^-?\d+$/.test(v)) return Number(v);
  if (v === 'true' || v === 'True') return true;
  if (v === 'false' || v === 'False') return false;
  return v;
}
