import { randomBytes } from 'node:crypto';
import { CommandError } from '../errors.js';
import type { Transport } from '../transport/types.js';
import type { FactQuery, FactResults } from './types.js';

/** Runs many fact queries as one script: one round trip however many facts a phase needs. */
export async function gatherFacts(t: Transport, queries: FactQuery[]): Promise<FactResults> {
  const unique = new Map<string, FactQuery>();
  for (const q of queries) if (!unique.has(q.key)) unique.set(q.key, q);
  const list = [...unique.values()];
  const results = new Map<string, unknown>();
  if (list.length > 0) {
    const tag = randomBytes(6).toString('hex');
    const script = list
      .map((q, i) => `printf '\\n@@${tag} %d\\n' ${i}\n( ${q.script}\n) </dev/null 2>/dev/null\nprintf '\\n@@${tag} end %d %d\\n' ${i} $?`)
      .join('\n');
    const r = await t.script(script);
    const outputs = splitBatch(r.stdout, tag);
    list.forEach((q, i) => {
      const o = outputs.get(i);
      if (!o) throw new CommandError(`fact ${q.key}`, r.code, r.stderr, r.stdout, t.host);
      results.set(q.key, q.parse(o.stdout, o.code));
    });
  }
  return {
    get<T>(q: FactQuery<T>): T {
      if (!results.has(q.key)) throw new Error(`fact ${q.key} was not gathered: declare it in the step's facts`);
      return results.get(q.key) as T;
    },
  };
}

function splitBatch(out: string, tag: string): Map<number, { stdout: string; code: number }> {
  const map = new Map<number, { stdout: string; code: number }>();
  const re = new RegExp(`\\n@@${tag} (\\d+)\\n([\\s\\S]*?)\\n@@${tag} end \\1 (\\d+)\\n`, 'g');
  for (const m of `\n${out}`.matchAll(re)) map.set(Number(m[1]), { stdout: m[2] ?? '', code: Number(m[3]) });
  return map;
}
