/** The connect step: every target host is connected to and its facts gathered, --forks at a time, before any play. */
import { StepError, UnreachableError } from '../errors.js';
import { gatherHostFacts } from '../facts/gather-host-facts.js';
import type { Inventory, InventoryHost } from '../inventory/types.js';
import type { Transport } from '../transport/types.js';
import type { Semaphore } from '../util/semaphore.js';
import type { StepRecord } from './records.js';
import type { RunEvents } from './reporter.js';
import type { RunLog } from './run-log.js';
import { errorMessage } from './step-runner.js';

export async function connectHosts(o: {
  run: RunLog;
  inventory: Inventory;
  forks: Semaphore;
  events: Pick<RunEvents, 'connectStart' | 'hostConnected' | 'hostConnectFailed'>;
  connect(host: InventoryHost): Promise<Transport>;
}): Promise<void> {
  const { run, events } = o;
  events.connectStart(run.targets);
  await Promise.all(
    run.targets.map((name) =>
      o.forks.with(async () => {
        const h = run.host(name);
        const started = Date.now();
        try {
          h.transport = await o.connect(o.inventory.hosts.get(name)!);
          h.facts = await gatherHostFacts(h.transport);
          // Steps are planned as root: as any other user a run fails half-way and --check reports what it could never do.
          if (h.facts.user !== 'root') throw new StepError(`commands run as '${h.facts.user}', not root: set ansible_become: true (or connect as root)`);
          events.hostConnected(name, `${h.facts.os.pretty}, ${h.facts.primaryAddress}`);
        } catch (err) {
          const message = errorMessage(err, name);
          const state = !h.transport || err instanceof UnreachableError ? 'unreachable' : 'failed';
          h.fail({ state, error: message });
          const r: StepRecord = { host: name, play: '', kind: 'connect', role: '', step: 'connect and gather facts', status: state, changed: false, durationMs: Date.now() - started, message };
          h.record(r, false); // the renderers hear of it as hostConnectFailed
          events.hostConnectFailed(name, message, state);
        }
      }),
    ),
  );
}
