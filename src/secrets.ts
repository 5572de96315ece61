/**
 * A value that must never be shown. Anything printed, logged or reported goes through `redact()`,
 * which masks every secret value created during this run.
 */
const known = new Set<string>();
export const MASK = '********';

export class Secret {
  readonly #value: string;
  constructor(value: string, readonly origin = 'inventory') {
    this.#value = value;
    if (value.length >= 4) known.add(value);
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return MASK;
  }
  toJSON(): string {
    return MASK;
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Secret(${MASK})`;
  }
}

export function isSecret(v: unknown): v is Secret {
  return v instanceof Secret;
}

export function registerSecretValue(value: string): void {
  if (value.length >= 4) known.add(value);
}

export function redact(text: string): string {
  let out = text;
  for (const s of known) if (out.includes(s)) out = out.split(s).join(MASK);
  return out;
}

export function containsSecret(text: string): boolean {
  for (const s of known) if (text.includes(s)) return true;
  return false;
}

export function reveal(v: string | Secret): string {
  return typeof v === 'string' ? v : v.reveal();
}
