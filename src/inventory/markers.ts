import { InputError } from '../errors.js';
import type { SourceLocation } from './types.js';

/**
 * A value read from outside the inventory, resolved (to a Secret) only if it wins the precedence merge:
 * `{{ lookup('env', 'X') }}`, `{{ lookup('file', 'p') }}`, `{ from_env: X }`, `{ from_file: p }`.
 */
export class LookupRef {
  constructor(
    readonly kind: 'env' | 'file',
    readonly arg: string,
    /** Directory of the file that wrote the lookup: relative `file` paths start there. */
    readonly baseDir: string,
    readonly loc: SourceLocation,
    readonly fallback?: string,
    /** What the inventory says, for `provision inventory --list`: the template text, or `{ from_env: X }`. */
    readonly written?: unknown,
  ) {}

  describe(): string {
    return `lookup('${this.kind}', '${this.arg}')`;
  }
}

/** A `!vault |` value: decrypted (to a Secret) only if it wins the precedence merge, so one unused value needs no password. */
export class VaultRef {
  constructor(readonly ciphertext: string, readonly loc: SourceLocation) {}
}

/**
 * A variable whose template cannot be evaluated (an undefined name used, an unsupported construct): like Ansible,
 * this fails where the variable is used — reading it (validation, connection settings) throws `error` — not at load.
 */
export class UnresolvedVar {
  constructor(readonly error: InputError) {}
}

/** A string tagged `!unsafe`: never templated. */
export class UnsafeText {
  constructor(readonly text: string) {}
}

const LOOKUP =
  /^\s*\{\{-?\s*lookup\(\s*(['"])(?:ansible\.builtin\.)?(env|file)\1\s*,\s*(['"])(.*?)\3\s*(?:,\s*default\s*=\s*(['"])(.*?)\5\s*)?\)\s*-?\}\}\s*$/s;

export function parseLookupString(value: string, baseDir: string, loc: SourceLocation): LookupRef | undefined {
  const m = LOOKUP.exec(value);
  if (!m) return undefined;
  return new LookupRef(m[2] as 'env' | 'file', m[4], baseDir, loc, m[2] === 'env' && m[5] ? m[6] : undefined, value);
}

/** `{ from_env: NAME }` / `{ from_file: path }`: a mapping with exactly that one key and a string value. */
export function parseLookupMapping(value: Record<string, unknown>, baseDir: string, loc: SourceLocation): LookupRef | undefined {
  const keys = Object.keys(value);
  if (keys.length !== 1) return undefined;
  const key = keys[0];
  const arg = value[key];
  if (key !== 'from_env' && key !== 'from_file') return undefined;
  if (typeof arg !== 'string' || arg === '') {
    throw new InputError(`${key} needs a ${key === 'from_env' ? 'variable name' : 'file path'} (a non-empty string)`, loc.file, loc.line, loc.column);
  }
  return new LookupRef(key === 'from_env' ? 'env' : 'file', arg, baseDir, loc, undefined, { [key]: arg });
}
