import { ownText } from '../secrets.js';
import { shq } from './shell-quote.js';

/** Markers that let us answer sudo's password prompt and know when the real command starts reading stdin. */
export const SUDO_PROMPT = '[provision:sudo-password]';
export const READY_MARKER = '[provision:ready]';

// The tool's own words: a become password that happens to be one of them ("wrong") must not be masked here.
const WRONG_PASSWORD = ownText('sudo refused the become password (wrong ansible_become_password?)');
const NO_PASSWORD = ownText('sudo asks for a password: set ansible_become_password (e.g. from an environment variable)');

export function wrapWithSudo(command: string, becomeUser: string): string {
  const inner = `printf '%s\\n' ${shq(READY_MARKER)} >&2; ${command}`;
  return `sudo -H -S -p ${shq(SUDO_PROMPT)} -u ${shq(becomeUser)} -- sh -c ${shq(inner)}`;
}

/**
 * Watches stderr of a sudo-wrapped command. Returns what to write to stdin (the password) and whether
 * the command is now running (so the real input may follow). Strips the markers from what the user sees.
 */
export class SudoHandshake {
  #buffer = '';
  #prompts = 0;
  ready = false;
  constructor(private readonly password: string | undefined) {}

  feed(chunk: string): { write?: string; error?: string; passthrough: string } {
    if (this.ready) return { passthrough: chunk };
    this.#buffer += chunk;
    if (this.#buffer.includes(SUDO_PROMPT)) {
      this.#buffer = this.#buffer.replace(SUDO_PROMPT, '');
      this.#prompts++;
      if (this.#prompts > 1) return { error: WRONG_PASSWORD, passthrough: '' };
      if (this.password === undefined)
        return { error: NO_PASSWORD, passthrough: '' };
      return { write: `${this.password}\n`, passthrough: '' };
    }
    const at = this.#buffer.indexOf(READY_MARKER);
    if (at >= 0) {
      this.ready = true;
      const rest = this.#buffer.slice(at + READY_MARKER.length).replace(/^\n/, '');
      this.#buffer = '';
      return { passthrough: rest };
    }
    return { passthrough: '' };
  }

  /** Whatever sudo itself printed before failing (e.g. "user is not in the sudoers file"). */
  leftover(): string {
    return this.#buffer;
  }
}
