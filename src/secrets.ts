/**
 * A value that must never be shown. Anything printed, logged or reported goes through `redact()`,
 * which masks every secret value created during this run.
 */
const known = new Set<string>();
/** Encoded forms (a password's hex inside a packet's bytes): masked wherever they occur, even inside a longer word. */
const embedded = new Set<string>();
/** The tool's own message templates: never masked, even where a secret happens to be one of their words. */
const own = new Set<string>();
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

/** `inside`: the value is an encoded form that sits within longer text (hex in hex): mask it wherever it occurs. */
export function registerSecretValue(value: string, o: { inside?: boolean } = {}): void {
  if (value.length < 4) return;
  known.add(value);
  if (o.inside) embedded.add(value);
}

/**
 * Masks every secret value where it stands as a whole value: not preceded or followed by a letter or digit where the
 * value itself begins or ends with one (a password "pass" leaves "password" and "bypass" alone), and never inside one
 * of the tool's own message templates (a become password "wrong" must not turn "wrong ansible_become_password?" into
 * "******** ansible_become_password?", which would also tell the reader the password).
 */
export function redact(text: string): string {
  if (known.size === 0) return text;
  const protectedRanges: [number, number][] = [];
  for (const t of own) for (let at = text.indexOf(t); at >= 0; at = text.indexOf(t, at + t.length)) protectedRanges.push([at, at + t.length]);
  const hits: [number, number][] = [];
  for (const s of known) {
    for (let at = text.indexOf(s); at >= 0; at = text.indexOf(s, at + 1)) {
      const end = at + s.length;
      if (embedded.has(s)) {
        if (!protectedRanges.some(([a, b]) => at >= a && end <= b)) hits.push([at, end]);
        continue;
      }
      if (ALNUM.test(s[0]!) && at > 0 && ALNUM.test(text[at - 1]!)) continue;
      if (ALNUM.test(s.at(-1)!) && end < text.length && ALNUM.test(text[end]!)) continue;
      if (protectedRanges.some(([a, b]) => at >= a && end <= b)) continue;
      hits.push([at, end]);
    }
  }
  if (hits.length === 0) return text;
  // Overlapping hits (one secret inside another) merge into one mask.
  hits.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  let out = '';
  let pos = 0;
  for (const [a, b] of hits) {
    if (b <= pos) continue;
    out += text.slice(pos, Math.max(a, pos)) + MASK;
    pos = b;
  }
  return out + text.slice(pos);
}

const ALNUM = /[A-Za-z0-9]/;

/** Declares a constant message of the tool's own (no value in it): redact() leaves its words alone. */
export function ownText<T extends string>(text: T): T {
  own.add(text);
  return text;
}

export function containsSecret(text: string): boolean {
  for (const s of known) if (text.includes(s)) return true;
  return false;
}

export function reveal(v: string | Secret): string {
  return typeof v === 'string' ? v : v.reveal();
}
