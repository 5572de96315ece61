import { offlineHostContext, offlinePlayContext, refusingTransport, type RefusedCall } from '../../src/engine/offline-context.js';
import type { FactQuery, FactResults, HostContext, Step, StepPlan } from '../../src/engine/types.js';
import type { HostFacts } from '../../src/facts/host-facts.js';

export interface RecordedOutput {
  stdout: string;
  code?: number;
}

export interface RecordedPlanOptions {
  check?: boolean;
  diff?: boolean;
  /** The SSH port of the pretend connection (default 22). */
  sshPort?: number;
  hostName?: string;
}

/**
 * Plans a step offline: each declared fact's recorded output goes through the query's own `parse`, as the
 * engine's batch would, so the parsers are exercised too. Any remote call from plan() throws.
 */
export async function planWithRecordedFacts(
  step: Step,
  hostFacts: HostFacts,
  recorded: Record<string, RecordedOutput>,
  opts: RecordedPlanOptions = {},
): Promise<StepPlan> {
  const results = new Map<string, unknown>();
  for (const q of step.facts ?? []) {
    const r = recorded[q.key];
    if (!r) throw new Error(`no recorded output for fact "${q.key}" (recorded: ${Object.keys(recorded).join(', ') || 'none'})`);
    results.set(q.key, q.parse(r.stdout, r.code ?? 0));
  }
  const facts: FactResults = {
    get<T>(q: FactQuery<T>): T {
      if (!results.has(q.key)) throw new Error(`fact ${q.key} was not gathered: declare it in the step's facts`);
      return results.get(q.key) as T;
    },
  };
  return step.plan(offlineContext(hostFacts, opts), facts);
}

const REFUSED: Record<RefusedCall, string> = { exec: 'run remote commands', script: 'run remote scripts', forward: 'open forwards', run: 'run remote commands' };
const refusal = (what: RefusedCall) => `plan() must not ${REFUSED[what]}: everything it needs comes from declared facts`;

export function offlineContext(hostFacts: HostFacts, opts: RecordedPlanOptions = {}): HostContext {
  const name = opts.hostName ?? hostFacts.hostname;
  const transport = refusingTransport(name, { sshPort: opts.sshPort, refusal });
  const host = { name, groups: ['all'], vars: {}, varSources: {} };
  const play = offlinePlayContext({
    name: 'test',
    inventory: {
      files: [],
      baseDir: process.cwd(),
      hosts: new Map([[name, host]]),
      groups: new Map([['all', { name: 'all', children: [], hosts: [name] }]]),
      hostOrder: [name],
      selectHosts: () => [name],
    },
    hosts: [name],
    facts: (h: string) => (h === name ? hostFacts : undefined),
    transport: (h: string) => (h === name ? transport : undefined),
    check: opts.check,
    diff: opts.diff,
    projectDir: process.cwd(),
  });
  return offlineHostContext({ host: name, facts: hostFacts, play, phase: 'configure', transport, refusal });
}
