import type { SourceLocation, VarSource } from './types.js';

/** Position of a value and, for mappings and lists, of each nested value. */
export interface LocNode {
  loc: SourceLocation;
  /** Where the key naming this value was written (mappings only). */
  keyLoc?: SourceLocation;
  kids?: Map<string | number, LocNode>;
}

/** A VarSource backed by a position tree: nested paths fall back to the nearest known node. */
export class TreeVarSource implements VarSource {
  constructor(readonly file: string, readonly root: LocNode) {}

  locate(path: (string | number)[]): SourceLocation {
    return this.#walk(path).loc;
  }

  /** Where the key of `path` was written (the variable name for `[]`); falls back to the value. */
  locateKey(path: (string | number)[]): SourceLocation {
    const node = this.#walk(path);
    return node.keyLoc ?? node.loc;
  }

  #walk(path: (string | number)[]): LocNode {
    let node = this.root;
    for (const step of path) {
      const next = node.kids?.get(step) ?? node.kids?.get(typeof step === 'number' ? String(step) : Number(step));
      if (!next) break;
      node = next;
    }
    return node;
  }
}

/** `mqtt_users[1].password` from ['mqtt_users', 1, 'password']. */
export function formatVarPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const step of path) {
    if (typeof step === 'number') out += `[${step}]`;
    else if (out === '') out = step;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(step)) out += `.${step}`;
    else out += `[${JSON.stringify(step)}]`;
  }
  return out;
}

export const NO_LOCATION = (file: string): SourceLocation => ({ file, line: 0, column: 0 });
