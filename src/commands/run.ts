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
import { connectionSpecFor, type ConnectionDefaults, type ConnectionSpec } from '../inventory/connection.js';
import { loadInventory } from '../inventory/load.js';
import { loadVaultKeyring, promptHidden } from '../inventory/vault-secrets.js';
import type { Inventory, InventoryHost } from '../inventory/types.js';
import { listHosts, listTasks } from '../output/listings.js';
import { listrRenderer } from '../output/listr-renderer.js';
import { plainRenderer } from '../output/plain-renderer.js';
import { renderRecap } from '../output/recap.js';
import { Secret, redact } from '../secrets.js';
import { SshTransport } from '../transport/ssh.js';

export async function runCommand(o: RunCliOptions, extraReporters: Reporter[] = []): Promise<number> {
  if (o.verbose && o.ansibleCfg) {
    const ignored = o.ansibleCfg.ignored;
    process.stderr.write(`provision: using ${o.ansibleCfg.file}${ignored.length ? `; ignoring keys provision does not read: ${ignored.join(', ')}` : ''}\n`);
  }
  const vault = await loadVaultKeyring(o.vault ?? {});
  const inventory = await loadInventory(o.inventories, { extraVars: parseExtraVars(o.extraVars, vault), vault });
  const playbook = await loadPlaybook(resolvePlaybookPath(o.playbook));
  if (o.syntaxCheck) {
    // ansible-playbook --syntax-check prints the playbook's name; errors above already exited 4.
    process.stdout.write(`\nplaybook: ${resolvePlaybookPath(o.playbook)}\n`);
    return 0;
  }
  if (o.listHosts) {
    process.stdout.write(`${listHosts(inventory, playbook, o.limit)}\n`);
    return 0;
  }
  if (o.listTasks) {
    process.stdout.write(`${await listTasks(inventory, playbook, o)}\n`);
    return 0;
  }
  // Bad connection variables (ansible_port: 0, …) are input errors, reported before any host is touched.
  const defaults: ConnectionDefaults = { ...o.connection };
  if (o.askBecomePass) defaults.becomePassword = new Secret(await promptHidden('BECOME password: ', 'set ansible_become_password instead, e.g. { from_env: NAME }'), 'become');
  const spec = (host: InventoryHost) => connectionSpecFor(host, inventory.files[0]!, process.env, defaults);
  for (const name of inventory.selectHosts(o.limit ?? 'all')) spec(inventory.hosts.get(name)!);
  // Every run that connects to hosts holds the inventory's lock, --check too (a concurrent run would make its
  // answer wrong); the listings above and `verify` read nothing the lock protects.
  const lock = await acquireRunLock(inventory.baseDir, {
    command: redact(describeCommand(['provision', ...process.argv.slice(2)])),
    waitSeconds: o.waitLockSeconds ?? 0,
    progress: (line) => process.stderr.write(`provision: ${line}\n`),
  });
  try {
    return await runLocked(o, inventory, playbook, extraReporters, spec);
  } finally {
    lock.release();
  }
}

async function runLocked(
  o: RunCliOptions, inventory: Inventory, playbook: Playbook, extraReporters: Reporter[], spec: (host: InventoryHost) => ConnectionSpec,
): Promise<number> {
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
      SshTransport.connect(spec(host), {
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
