import { createHash } from 'node:crypto';
import type { FactQuery } from './query.js';
import { shq } from '../transport/shell-quote.js';
import { keyValues } from './sections.js';

export interface Guards {
  /** Run only when this path does not exist. */
  creates?: string;
  /** Run only when this path exists. */
  removes?: string;
  /** sh snippet: exit 0 = skip. */
  unless?: string;
  /** sh snippet: exit 0 = run. */
  onlyIf?: string;
}

export interface GuardResults {
  createsExists?: boolean;
  removesExists?: boolean;
  unlessCode?: number;
  onlyIfCode?: number;
}

/** The guards of a command, evaluated read-only with the phase's other facts (their output is discarded). */
export function guardsFact(g: Guards): FactQuery<GuardResults> {
  const lines: string[] = [];
  if (g.creates !== undefined) lines.push(`if [ -e ${shq(g.creates)} ]; then echo creates=1; else echo creates=0; fi`);
  if (g.removes !== undefined) lines.push(`if [ -e ${shq(g.removes)} ]; then echo removes=1; else echo removes=0; fi`);
  if (g.unless !== undefined) lines.push(`( ${g.unless}\n) >/dev/null 2>&1; echo "unless=$?"`);
  if (g.onlyIf !== undefined) lines.push(`( ${g.onlyIf}\n) >/dev/null 2>&1; echo "onlyif=$?"`);
  const digest = createHash('sha256').update(JSON.stringify(g)).digest('hex').slice(0, 16);
  return {
    key: `guards:${digest}`,
    script: lines.join('\n') || 'true',
    parse: (stdout) => {
      const kv = keyValues(stdout);
      const num = (k: string) => (kv.has(k) ? Number(kv.get(k)) : undefined);
      return {
        createsExists: kv.has('creates') ? kv.get('creates') === '1' : undefined,
        removesExists: kv.has('removes') ? kv.get('removes') === '1' : undefined,
        unlessCode: num('unless'),
        onlyIfCode: num('onlyif'),
      };
    },
  };
}
