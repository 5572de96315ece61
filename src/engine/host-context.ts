/**
 * The one place a HostContext is made: by the runner for a connected host, and by offline-context.ts for
 * planning without one (where the transport refuses every call, so `run` refuses with it).
 */
import { CommandError } from '../errors.js';
import type { HostFacts } from '../facts/host-facts.js';
import { redact } from '../secrets.js';
import { describeScript } from '../transport/describe.js';
import type { Transport } from '../transport/types.js';
import type { Phase } from './phase.js';
import type { HostContext, PlayContext, RoleContext } from './types.js';

export interface HostContextParts {
  host: string;
  /** The host's facts; a getter where a step may refresh them (refreshesHostFacts). */
  facts: () => HostFacts;
  transport: Transport;
  phase: Phase;
  play: PlayContext;
  /** Hosts of the current serial batch (default: all of the play's hosts). */
  batch?: string[];
  /** Frees this host's fork slot while it waits for others (default: just waits). */
  waitForOthers?: HostContext['waitForOthers'];
  progress?: (line: string) => void;
}

export function makeHostContext(p: HostContextParts): HostContext;
/** With a role's validated variables: what a role's phase builder is called with. */
export function makeHostContext<V>(p: HostContextParts, vars: V): RoleContext<V>;
export function makeHostContext<V>(p: HostContextParts, vars?: V): HostContext | RoleContext<V> {
  const { host, transport } = p;
  return {
    ...(vars !== undefined ? { vars } : {}),
    name: host,
    host: p.play.inventory.hosts.get(host)!,
    get facts() {
      return p.facts();
    },
    transport,
    phase: p.phase,
    play: p.play,
    check: p.play.options.check,
    diff: p.play.options.diff,
    batch: p.batch ?? p.play.hosts,
    waitForOthers: p.waitForOthers ?? ((wait) => wait()),
    progress: p.progress ?? (() => undefined),
    run: async (script, opts) => {
      const r = await transport.script(script, { timeoutMs: opts?.timeoutMs });
      if (!(opts?.okCodes ?? [0]).includes(r.code)) {
        throw new CommandError(redact(describeScript(script)), r.code, redact(r.stderr), redact(r.stdout), host);
      }
      return r.stdout;
    },
  };
}
