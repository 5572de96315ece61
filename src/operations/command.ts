import type { Step } from '../engine/types.js';
import { type Guards, guardsFact } from '../facts/command.js';

export interface CommandOptions extends Guards {
  name: string;
  /** POSIX sh run as root over stdin (may hold secrets). */
  script: string;
  timeoutMs?: number;
  okCodes?: number[];
  notify?: string[];
  tags?: string[];
}

/**
 * A script run only when its guards say so; changed only when it ran. The guards are facts, so a guarded
 * command whose work is done costs nothing. Without any guard it runs on every run and always reports
 * changed (as Ansible's command does): roles should always give creates/removes/unless/onlyIf.
 */
export function command(o: CommandOptions): Step {
  const guarded = o.creates !== undefined || o.removes !== undefined || o.unless !== undefined || o.onlyIf !== undefined;
  const fact = guarded ? guardsFact(o) : undefined;
  return {
    name: o.name,
    factsOnly: true,
    notify: o.notify,
    tags: o.tags,
    facts: fact ? [fact] : [],
    plan(_ctx, facts) {
      if (fact) {
        const g = facts.get(fact);
        const why =
          g.createsExists === true ? `${o.creates} exists`
          : g.removesExists === false ? `${o.removes} does not exist`
          : g.unlessCode === 0 ? 'unless condition holds'
          : g.onlyIfCode !== undefined && g.onlyIfCode !== 0 ? 'onlyIf condition fails'
          : undefined;
        if (why) return { changes: [], message: `not run: ${why}` };
      }
      const action = { script: o.script, ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}), ...(o.okCodes ? { okCodes: o.okCodes } : {}) };
      return { changes: [{ summary: `run ${o.name}`, actions: [action] }] };
    },
  };
}
