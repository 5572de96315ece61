/**
 * A subset of Python's `ast.literal_eval`, which Ansible applies to INI values: numbers, strings,
 * True/False/None, and lists, tuples, sets and dicts of those. Anything else is not a literal and
 * Ansible keeps the text as a string: `{ ok: false }`.
 */
export type PyLiteral = { ok: true; value: unknown } | { ok: false };

type Tok =
  | { t: 'num'; v: number }
  | { t: 'str'; v: string }
  | { t: 'name'; v: string }
  | { t: 'op'; v: string };

class NotLiteral extends Error {}

export function parsePyLiteral(source: string): PyLiteral {
  try {
    const toks = tokenize(source.replace(/^[ \t]+/, ''));
    if (toks.length === 0) return { ok: false };
    const p = new Parser(toks);
    const value = p.expression(true);
    if (!p.done()) return { ok: false };
    return { ok: true, value };
  } catch (e) {
    if (e instanceof NotLiteral) return { ok: false };
    throw e;
  }
}

const NUMBER =
  /^(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:\d(?:_?\d)*)?\.\d(?:_?\d)*(?:[eE][+-]?\d(?:_?\d)*)?|\d(?:_?\d)*\.(?:\d(?:_?\d)*)?(?:[eE][+-]?\d(?:_?\d)*)?|\d(?:_?\d)*[eE][+-]?\d(?:_?\d)*|[1-9](?:_?\d)*|0(?:_?0)*)/;

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === ' ' || c === '\t' || c === '\f') {
      i++;
      continue;
    }
    if (c === '#') break; // a Python comment ends the expression
    if (c === '\n' || c === '\r') throw new NotLiteral();
    const rest = src.slice(i);
    const num = /^[0-9.]/.test(c) ? NUMBER.exec(rest) : null;
    if (num && num[0] !== '.') {
      const text = num[0];
      i += text.length;
      if (/^[A-Za-z0-9_.]/.test(src.slice(i, i + 1))) throw new NotLiteral(); // 56L, 1.2.3, 0777, 10abc
      out.push({ t: 'num', v: parseNumber(text.replace(/_/g, '')) });
      continue;
    }
    const prefixed = /^([rRuUbB]|[bB][rR]|[rR][bB])?(['"])/.exec(rest);
    if (prefixed) {
      const raw = (prefixed[1] ?? '').toLowerCase().includes('r');
      i += (prefixed[1] ?? '').length;
      const [value, next] = readString(src, i, raw);
      out.push({ t: 'str', v: value });
      i = next;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
    if (name) {
      out.push({ t: 'name', v: name[0] });
      i += name[0].length;
      continue;
    }
    if ('[](){},:+-'.includes(c)) {
      out.push({ t: 'op', v: c });
      i++;
      continue;
    }
    throw new NotLiteral();
  }
  return out;
}

function parseNumber(text: string): number {
  const lower = text.toLowerCase();
  if (lower.startsWith('0x')) return parseInt(text.slice(2), 16);
  if (lower.startsWith('0o')) return parseInt(text.slice(2), 8);
  if (lower.startsWith('0b')) return parseInt(text.slice(2), 2);
  return Number(text);
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v', '0': '\0', '\n': '' };

function readString(src: string, at: number, raw: boolean): [string, number] {
  const triple = src.startsWith(src[at].repeat(3), at);
  const quote = triple ? src[at].repeat(3) : src[at];
  let i = at + quote.length;
  let out = '';
  while (i < src.length) {
    if (src.startsWith(quote, i)) return [out, i + quote.length];
    const c = src[i];
    if (!triple && (c === '\n' || c === '\r')) break;
    if (c === '\\' && i + 1 < src.length) {
      const d = src[i + 1];
      if (raw) {
        out += c + d;
        i += 2;
        continue;
      }
      const hex = d === 'x' ? 2 : d === 'u' ? 4 : d === 'U' ? 8 : 0;
      if (hex) {
        const digits = src.slice(i + 2, i + 2 + hex);
        if (!new RegExp(`^[0-9a-fA-F]{${hex}}$`).test(digits)) throw new NotLiteral();
        out += String.fromCodePoint(parseInt(digits, 16));
        i += 2 + hex;
      } else if (/[0-7]/.test(d)) {
        const oct = /^[0-7]{1,3}/.exec(src.slice(i + 1))![0];
        out += String.fromCharCode(parseInt(oct, 8));
        i += 1 + oct.length;
      } else if (d in ESCAPES) {
        out += ESCAPES[d];
        i += 2;
      } else {
        out += c + d;
        i += 2;
      }
      continue;
    }
    out += c;
    i++;
  }
  throw new NotLiteral(); // unterminated
}

class Parser {
  #i = 0;
  constructor(private readonly toks: Tok[]) {}

  done(): boolean {
    return this.#i >= this.toks.length;
  }

  /** `a, b` at the top level is a tuple, as in Python. */
  expression(top: boolean): unknown {
    const first = this.atom();
    if (!top || !this.#isOp(',')) return first;
    const items = [first];
    while (this.#eatOp(',')) {
      if (this.done()) break;
      items.push(this.atom());
    }
    return items;
  }

  atom(): unknown {
    const tok = this.toks[this.#i++];
    if (!tok) throw new NotLiteral();
    if (tok.t === 'num') return tok.v;
    if (tok.t === 'str') {
      let s = tok.v;
      while (this.toks[this.#i]?.t === 'str') s += (this.toks[this.#i++] as { v: string }).v; // 'a' 'b' → 'ab'
      return s;
    }
    if (tok.t === 'name') {
      if (tok.v === 'True') return true;
      if (tok.v === 'False') return false;
      if (tok.v === 'None') return null;
      throw new NotLiteral();
    }
    switch (tok.v) {
      case '-':
      case '+': {
        const n = this.toks[this.#i++];
        if (n?.t !== 'num') throw new NotLiteral();
        return tok.v === '-' ? -n.v : n.v;
      }
      case '[':
        return this.#sequence(']');
      case '(': {
        if (this.#eatOp(')')) return [];
        const first = this.atom();
        if (this.#eatOp(')')) return first; // parenthesised value, not a tuple
        if (!this.#eatOp(',')) throw new NotLiteral();
        const rest = this.#sequence(')');
        return [first, ...rest];
      }
      case '{':
        return this.#braces();
      default:
        throw new NotLiteral();
    }
  }

  #sequence(close: string): unknown[] {
    const items: unknown[] = [];
    while (!this.#eatOp(close)) {
      items.push(this.atom());
      if (this.#eatOp(close)) break;
      if (!this.#eatOp(',')) throw new NotLiteral();
    }
    return items;
  }

  #braces(): unknown {
    if (this.#eatOp('}')) return {};
    const first = this.atom();
    if (this.#eatOp(':')) {
      const dict: Record<string, unknown> = {};
      let key = first;
      for (;;) {
        if (key !== null && typeof key === 'object') throw new NotLiteral(); // unhashable key
        setKey(dict, String(key === true ? 'True' : key === false ? 'False' : key === null ? 'None' : key), this.atom());
        if (this.#eatOp('}')) return dict;
        if (!this.#eatOp(',')) throw new NotLiteral();
        if (this.#eatOp('}')) return dict;
        key = this.atom();
        if (!this.#eatOp(':')) throw new NotLiteral();
      }
    }
    // a set: Ansible turns it into a list
    const items = [first];
    while (!this.#eatOp('}')) {
      if (!this.#eatOp(',')) throw new NotLiteral();
      if (this.#eatOp('}')) break;
      items.push(this.atom());
    }
    return items;
  }

  #isOp(v: string): boolean {
    const t = this.toks[this.#i];
    return t?.t === 'op' && t.v === v;
  }

  #eatOp(v: string): boolean {
    if (!this.#isOp(v)) return false;
    this.#i++;
    return true;
  }
}

export function setKey(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
}
