import { writeFileSync } from 'node:fs';
import { parseExtraVars } from '../cli/extra-vars.js';
import { exitCodeForReport } from '../cli/exit-codes.js';
import type { RunCliOptions } from '../cli/options.js';
import { version } from '../cli/version.js';
import { acquireRunLock, describeCommand } from '../controller/run-lock.js';
import { loadPlaybook, resolvePlaybookPath, type Playbook } from '../engine/playbook.js';
import { projectDir } from '../engine/project.js';
import { fanOut, type Reporter } from '../engine/reporter.js';
import { runPlaybook } from '../engine/runner.js';
import { connectionSpecFor } from '../inventory/connection.js';
import { loadInventory } from '../inventory/load.js';
import { loadVaultKeyring } from '../inventory/vault-secrets.js';
import type { Inventory } from '../inventory/types.js';
import { listHosts, listTasks } from '../output/listings.js';
import { listrRenderer } from '../output/listr-renderer.js';
import { plainRenderer } from '../output/plain-renderer.js';
import { renderRecap } from '../output/recap.js';
import { redact } from '../secrets.js';
import { SshTransport } from '../transport/ssh.js';

export async function runCommand(o: RunCliOptions, extraReporters: Reporter[] = []): Promise<number> {
  const vault = await loadVaultKeyring(o.vault ?? {});
  const inventory = await loadInventory(o.inventories, { extraVars: parseExtraVars(o.extraVars, vault), vault });
  const playbook = await loadPlaybook(resolvePlaybookPath(o.playbook));
  if (o.listHosts) {
    process.stdout.write(`${listHosts(inventory, playbook, o.limit)}\n`);
    return 0;
  }
  if (o.listTasks) {
    process.stdout.write(`${await listTasks(inventory, playbook, o)}\n`);
    return 0;
  }
  // Bad connection variables (ansible_port: 0, …) are input errors, reported before any host is touched.
  for (const name of inventory.selectHosts(o.limit ?? 'all')) connectionSpecFor(inventory.hosts.get(name)!, inventory.files[0]!);
  // Every run that connects to hosts holds the inventory's lock, --check too (a concurrent run would make its
  // answer wrong); the listings above and `verify` read nothing the lock protects.
  const lock = await acquireRunLock(inventory.baseDir, {
    command: redact(describeCommand(['provision', ...process.argv.slice(2)])),
    waitSeconds: o.waitLockSeconds ?? 0,
    progress: (line) => process.stderr.write(`provision: ${line}\n`),
  });
  try {
    return await runLocked(o, inventory, playbook, extraReporters);
  } finally {
    lock.release();
  }
}

async function runLocked(o: RunCliOptions, inventory: Inventory, playbook: Playbook, extraReporters: Reporter[]): Promise<number> {
  const tty = process.stdout.isTTY && !o.plain && !process.env.CI;
  const renderer = tty ? listrRenderer({ diff: o.diff, verbose: o.verbose }) : plainRenderer({ diff: o.diff, verbose: o.verbose });
  const report = await runPlaybook({
    inventory,
    playbook,
    phases: o.phases,
    ...(o.limit ? { limit: o.limit } : {}),
    options: { check: o.check, diff: o.diff, forks: o.forks, tags: o.tags, skipTags: o.skipTags, verbose: o.verbose },
    events: fanOut([renderer, ...extraReporters]),
    connect: (host) =>
      SshTransport.connect(connectionSpecFor(host, inventory.files[0]!), {
        ...(o.knownHosts ? { knownHostsFile: o.knownHosts } : {}),
        acceptNewHostKeys: o.acceptNewHostKeys,
      }),
    version: version(),
    projectDir: projectDir(),
  });
  if ('flush' in renderer && typeof renderer.flush === 'function') await renderer.flush();
  if (o.json) writeFileSync(o.json, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`\n${renderRecap(report)}\n`);
  return exitCodeForReport(report);
}
