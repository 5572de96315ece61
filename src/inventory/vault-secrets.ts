import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { OptionsError } from '../errors.js';
import { registerSecretValue } from '../secrets.js';
import { DEFAULT_VAULT_ID, VaultKeyring, type VaultSecret } from './vault.js';

export interface VaultOptions {
  /** `--vault-password-file F` (repeatable). */
  passwordFiles?: string[];
  /** `--ask-vault-pass`. */
  askVaultPass?: boolean;
  /** `--vault-id label@source` (repeatable); source is a file, an executable, or `prompt`. */
  vaultIds?: string[];
  env?: NodeJS.ProcessEnv;
  /** Reads a password without echo (default: from the terminal). */
  prompt?: (question: string) => Promise<string>;
}

/**
 * The vault passwords of a run, like ansible-playbook gathers them: `--vault-id` entries in the order given, then
 * `--vault-password-file`s, `--ask-vault-pass`, and `ANSIBLE_VAULT_PASSWORD_FILE` / `ANSIBLE_VAULT_IDENTITY_LIST`.
 */
export async function loadVaultKeyring(o: VaultOptions): Promise<VaultKeyring> {
  const env = o.env ?? process.env;
  const specs: { id: string; source: string }[] = [];
  for (const v of o.vaultIds ?? []) specs.push(splitVaultId(v));
  for (const f of o.passwordFiles ?? []) specs.push({ id: DEFAULT_VAULT_ID, source: f });
  if (o.askVaultPass) specs.push({ id: DEFAULT_VAULT_ID, source: 'prompt' });
  for (const v of (env.ANSIBLE_VAULT_IDENTITY_LIST ?? '').split(',').map((s) => s.trim()).filter(Boolean)) specs.push(splitVaultId(v));
  if (env.ANSIBLE_VAULT_PASSWORD_FILE) specs.push({ id: DEFAULT_VAULT_ID, source: env.ANSIBLE_VAULT_PASSWORD_FILE });
  const secrets: VaultSecret[] = [];
  for (const s of specs) {
    const text = s.source === 'prompt'
      ? (await (o.prompt ?? promptHidden)(s.id === DEFAULT_VAULT_ID ? 'Vault password: ' : `Vault password (${s.id}): `)).trim()
      : readPasswordSource(s.source, s.id, env);
    if (text === '') throw new OptionsError(`vault password for '${s.id}' from ${s.source} is empty`);
    registerSecretValue(text);
    secrets.push({ id: s.id, password: Buffer.from(text, 'utf8'), source: s.source });
  }
  return new VaultKeyring(secrets);
}

/** `label@source`, or just `source` (label `default`), as Ansible splits `--vault-id`. */
export function splitVaultId(spec: string): { id: string; source: string } {
  const at = spec.indexOf('@');
  if (at < 0) return { id: DEFAULT_VAULT_ID, source: spec };
  const id = spec.slice(0, at);
  const source = spec.slice(at + 1);
  if (!id || !source) throw new OptionsError(`--vault-id '${spec}': expected LABEL@SOURCE (SOURCE: a password file, an executable, or prompt)`);
  return { id, source };
}

/**
 * A password file's content with surrounding whitespace removed, or — for an executable — what it prints on stdout.
 * Executables named `*-client[.ext]` get `--vault-id LABEL`, as Ansible's client scripts do.
 */
function readPasswordSource(source: string, id: string, env: NodeJS.ProcessEnv): string {
  const file = source.startsWith('~/') ? path.join(env.HOME ?? os.homedir(), source.slice(2)) : source;
  try {
    statSync(file);
  } catch {
    throw new OptionsError(`vault password file not found: ${source}`);
  }
  if (isExecutable(file)) {
    const args = /-client(\.[^./]+)?$/.test(path.basename(file)) ? ['--vault-id', id] : [];
    const r = spawnSync(path.resolve(file), args, { encoding: 'utf8', env, stdio: ['inherit', 'pipe', 'pipe'] });
    if (r.error) throw new OptionsError(`vault password script ${source} could not be run: ${r.error.message}`);
    if (r.status !== 0) throw new OptionsError(`vault password script ${source} exited with ${r.status ?? r.signal}${r.stderr.trim() ? `: ${r.stderr.trim().split('\n').slice(-3).join(' ')}` : ''}`);
    return r.stdout.trim();
  }
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new OptionsError(`cannot read vault password file ${source}: ${(e as Error).message}`);
  }
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Reads one line from the terminal without echoing it; refuses when there is no terminal. */
export function promptHidden(question: string, instead = 'use --vault-password-file instead'): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) return Promise.reject(new OptionsError(`${question.replace(/:\s*$/, '')}: asked for, but stdin is not a terminal (${instead})`));
  return new Promise((resolve, reject) => {
    process.stderr.write(question);
    let typed = '';
    input.setRawMode(true);
    input.resume();
    input.setEncoding('utf8');
    const done = (err?: Error) => {
      input.setRawMode(false);
      input.pause();
      input.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(typed);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(new OptionsError('vault password prompt interrupted'));
        if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
        else typed += ch;
      }
    };
    input.on('data', onData);
  });
}
