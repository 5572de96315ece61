/**
 * A run: hosts and variables are checked against the inventory first (nothing is touched on bad input), then
 * every host is connected to, the plays run, and the report is built from each host's run record (./run-log.ts).
 */
import type { Inventory, InventoryHost } from '../inventory/types.js';
import type { Transport } from '../transport/types.js';
import { Semaphore } from '../util/semaphore.js';
import { discardAtRunEnd } from './backups.js';
import { connectHosts } from './connect-hosts.js';
import type { Phase } from './phase.js';
import { runPlays } from './play-loop.js';
import { validatePlayVars } from './play-vars.js';
import type { Playbook } from './playbook.js';
import type { RunReport } from './records.js';
import type { RunEvents } from './reporter.js';
import { RunLog } from './run-log.js';
import { selectRunHosts } from './select-hosts.js';
import type { RunOptions } from './types.js';

// Their own files now; re-exported for the callers (src/output, src/commands) that import them from here.
export { isAbsent } from './absent.js';
export { phaseUnits } from './phase-units.js';
export { knownVarNames, playSchema } from './play-vars.js';
export { selectPlayHosts } from './select-hosts.js';

export interface RunRequest {
  inventory: Inventory;
  playbook: Playbook;
  phases: Phase[];
  limit?: string;
  options: RunOptions;
  events: RunEvents;
  connect(host: InventoryHost): Promise<Transport>;
  version: string;
  projectDir: string;
}

export async function runPlaybook(req: RunRequest): Promise<RunReport> {
  const startedAt = new Date();
  const { inventory, playbook, events, options } = req;
  const { playHosts, targets } = selectRunHosts(inventory, playbook, req.limit);
  // Validate every host's variables before touching any host: bad input never half-provisions.
  const playVars = validatePlayVars(inventory, playbook, playHosts);

  const run = new RunLog(targets, events);
  const forks = new Semaphore(options.forks);
  await connectHosts({ run, inventory, forks, events, connect: req.connect });
  try {
    await runPlays(playbook, playHosts, playVars, { inventory, phases: req.phases, options, events, projectDir: req.projectDir, run, forks });
    // Backup copies are meaningful only during the run that wrote them (src/engine/backups.ts).
    await discardAtRunEnd({ run, check: options.check, phase: req.phases.at(-1)! });
  } finally {
    await Promise.all([...run.hosts.values()].map((h) => h.transport?.close()));
  }
  const report = run.report({ version: req.version, startedAt, check: options.check, phases: req.phases });
  events.runEnd(report);
  return report;
}
