import path from 'node:path';
import { createDecipheriv, createHmac, pbkdf2Sync, timingSafeEqual } from 'node:crypto';
import { InputError } from '../errors.js';
import { registerSecretValue } from '../secrets.js';

/**
 * Ansible Vault, formats 1.1 and 1.2 (1.2 adds a vault id to the header), cipher AES256:
 *   header `$ANSIBLE_VAULT;1.1;AES256` or `$ANSIBLE_VAULT;1.2;AES256;<vault id>`, then lines of hex that decode to
 *   `hex(salt) \n hex(hmac) \n hex(ciphertext)`; keys = PBKDF2-SHA256(password, salt, 10000 iterations, 80 bytes) split
 *   into 32 bytes AES key, 32 bytes HMAC key, 16 bytes CTR counter; HMAC-SHA256 over the ciphertext; AES-256-CTR;
 *   PKCS#7 padding to 16 bytes.
 * Written on node:crypto rather than the `ansible-vault` npm package: that package compares the HMAC with
 * Buffer.compare (not constant time) and silently returns nothing when the header's vault id differs from the one
 * asked for, while Ansible then tries every password it has; the cryptography itself is these few lines.
 */
export const VAULT_HEADER = '$ANSIBLE_VAULT';
export const DEFAULT_VAULT_ID = 'default';

export interface VaultSecret {
  /** The label of `--vault-id label@source`; `default` for --vault-password-file / --ask-vault-pass. */
  id: string;
  password: Buffer;
  /** Where the password came from, for messages (never the password). */
  source: string;
}

export function isVaultText(text: string): boolean {
  return text.trimStart().startsWith(`${VAULT_HEADER};`);
}

interface Envelope {
  version: string;
  cipher: string;
  vaultId?: string;
  salt: Buffer;
  hmac: Buffer;
  ciphertext: Buffer;
}

/** Thrown for a malformed envelope; the caller adds file and line. */
class VaultFormatError extends Error {}

function parseEnvelope(text: string): Envelope {
  const lines = text.trim().split(/\r?\n/).map((l) => l.trim());
  const header = lines[0].split(';').map((p) => p.trim());
  const [, version = '', cipher = '', vaultId] = header;
  if (version !== '1.1' && version !== '1.2') throw new VaultFormatError(`unsupported vault format version '${version}' (1.1 and 1.2 are supported)`);
  if (cipher !== 'AES256') throw new VaultFormatError(`unsupported vault cipher '${cipher}' (only AES256 exists in Ansible)`);
  const body = lines.slice(1).join('');
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(body)) throw new VaultFormatError('the encrypted text is not hexadecimal (was it cut or re-indented?)');
  const parts = Buffer.from(body, 'hex').toString('latin1').split('\n');
  if (parts.length !== 3 || parts.some((p) => !/^(?:[0-9a-fA-F]{2})+$/.test(p))) throw new VaultFormatError('the encrypted text does not hold salt, HMAC and ciphertext');
  const [salt, hmac, ciphertext] = parts.map((p) => Buffer.from(p, 'hex'));
  return { version, cipher, vaultId: version === '1.2' ? vaultId : undefined, salt, hmac, ciphertext };
}

/** The plaintext, or undefined when this password does not fit (HMAC mismatch). */
function tryDecrypt(env: Envelope, password: Buffer): Buffer | undefined {
  const keys = pbkdf2Sync(password, env.salt, 10000, 80, 'sha256');
  const mac = createHmac('sha256', keys.subarray(32, 64)).update(env.ciphertext).digest();
  if (mac.length !== env.hmac.length || !timingSafeEqual(mac, env.hmac)) return undefined;
  const d = createDecipheriv('aes-256-ctr', keys.subarray(0, 32), keys.subarray(64, 80));
  const padded = Buffer.concat([d.update(env.ciphertext), d.final()]);
  const pad = padded.length ? padded[padded.length - 1] : 0;
  if (pad < 1 || pad > 16 || pad > padded.length) throw new VaultFormatError('bad padding after decryption');
  return padded.subarray(0, padded.length - pad);
}

/** The vault passwords of one run, tried like Ansible: those whose id matches the header's first, then all others. */
export class VaultKeyring {
  readonly #secrets: VaultSecret[];
  readonly #cache = new Map<string, string>();

  constructor(secrets: VaultSecret[] = []) {
    this.#secrets = secrets;
  }

  get size(): number {
    return this.#secrets.length;
  }

  /**
   * Decrypt vault text written in `file` (at `line` for an inline `!vault` value). The plaintext is registered for
   * masking. Any failure is one InputError naming the place.
   */
  decrypt(text: string, file: string, line?: number, column?: number, varPath?: string): string {
    const cached = this.#cache.get(text);
    if (cached !== undefined) return cached;
    const what = line === undefined ? 'this file is vault-encrypted' : 'this value is vault-encrypted';
    if (this.#secrets.length === 0) {
      throw new InputError(`${what} but no vault password was given (use --vault-password-file FILE, --ask-vault-pass, --vault-id LABEL@SOURCE or ANSIBLE_VAULT_PASSWORD_FILE)`, file, line, column, varPath);
    }
    let env: Envelope;
    try {
      env = parseEnvelope(text);
    } catch (e) {
      throw new InputError(`${what} but cannot be read: ${(e as Error).message}`, file, line, column, varPath);
    }
    const ordered = [...this.#secrets.filter((s) => s.id === env.vaultId), ...this.#secrets.filter((s) => s.id !== env.vaultId)];
    for (const s of ordered) {
      let plain: Buffer | undefined;
      try {
        plain = tryDecrypt(env, s.password);
      } catch (e) {
        throw new InputError(`${what} but cannot be read: ${(e as Error).message}`, file, line, column, varPath);
      }
      if (plain === undefined) continue;
      const out = plain.toString('utf8');
      registerSecretValue(out);
      this.#cache.set(text, out);
      return out;
    }
    const idNote = env.vaultId ? ` (vault id '${env.vaultId}')` : '';
    const tried = this.#secrets.map((s) => `${s.id}@${s.source}`).join(', ');
    throw new InputError(`${what}${idNote} and none of the vault passwords given decrypts it (wrong password? tried ${tried})`, file, line, column, varPath);
  }
}

/**
 * A file's text, decrypted when the whole file is vault-encrypted (inventory, group_vars/host_vars file, `-e @file`).
 * Every value of a decrypted file is registered for masking, one line at a time (`key: value`, `key=value`).
 */
export function decryptFileText(text: string, file: string, vault: VaultKeyring | undefined): string {
  if (!isVaultText(text)) return text;
  const plain = (vault ?? new VaultKeyring()).decrypt(text, file);
  DECRYPTED_FILES.add(path.resolve(file));
  for (const line of plain.split(/\r?\n/)) {
    const m = /^[^#;]*?[:=]\s*(.+?)\s*$/.exec(line);
    const value = m?.[1]?.replace(/^(["'])(.*)\1$/, '$2');
    // Numbers and booleans are not masked: "8883" would otherwise vanish from every line of output.
    if (value && !/^(-?[\d.]+|true|false|yes|no|on|off|null|~|[[{|>].*)$/i.test(value)) registerSecretValue(value);
  }
  return plain;
}

/** Files that were vault-encrypted: `provision inventory --list` masks their values. */
export const DECRYPTED_FILES = new Set<string>();
