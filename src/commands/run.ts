import { writeFileSync } from 'node:fs';
import { loadExtraVars } from '../inventory/extra-vars.js';
import { version } from './version.js';
import { acquireRunLock, describeCommand } from '../controller/run-lock.js';
import { loadPlaybook, resolvePlaybookPath, type Playbook } from '../engine/playbook.js';
import type { RunReport } from '../engine/records.js';
import { projectDir } from '../engine/project.js';
import { fanOut, type Reporter } from '../engine/reporter.js';
import { knownVarNames, runPlaybook } from '../engine/runner.js';
import { runRecorder } from '../engine/run-recorder.js';
import { errorMessage } from '../engine/step-runner.js';
import { checkInventory } from '../cluster/inventory-checks.js';
import { connectionSpecFor, type ConnectionDefaults, type ConnectionSpec } from '../inventory/connection.js';
import { loadInventory } from '../inventory/load.js';
import { loadVaultKeyring } from '../inventory/vault-secrets.js';
import type { Inventory, InventoryHost } from '../inventory/types.js';
import { checkConnections } from '../inventory/connection-checks.js';
import { listHosts, listTasks } from '../output/listings.js';
import { listTags } from '../output/list-tags.js';
import { askSecret } from '../controller/prompt.js';
import { listrRenderer } from '../output/listr-renderer.js';
import { plainRenderer } from '../output/plain-renderer.js';
import { renderRecap } from '../output/recap.js';
import { redact } from '../secrets.js';
import { OptionsError, ProvisionError } from '../errors.js';
import { checkPrivateKeyFiles } from '../transport/private-key.js';
import { SshTransport } from '../transport/ssh.js';
import { Semaphore } from '../util/semaphore.js';
import { onInternalError } from './internal-error.js';
import type { RunOptions } from './options.js';
import { reportOutcome, type CommandResult } from './result.js';

export async function runCommand(o: RunOptions, extraReporters: Reporter[] = []): Promise<CommandResult> {
  if (o.verbose && o.ansibleCfg) {
    const ignored = o.ansibleCfg.ignored;
    process.stderr.write(`provision: using ${o.ansibleCfg.file}${ignored.length ? `; ignoring keys provision does not read: ${ignored.join(', ')}` : ''}\n`);
  }
  // Listings need no secret: an unset environment variable only blocks what connects (all of them named at once).
  const listing = o.listHosts || o.listTasks || o.listTags;
  const vault = await loadVaultKeyring(o.vault ?? {});
  const inventory = await loadInventory(o.inventories, { extraVars: await loadExtraVars(o.extraVars, vault), vault, missingEnv: listing ? 'placeholder' : 'error' });
  const playbook = await loadPlaybook(resolvePlaybookPath(o.playbook));
  // The whole inventory is checked before anything else: a mistake anywhere is exit 4 with nothing touched.
  for (const w of checkInventory(inventory, playbook, { knownNames: knownVarNames(playbook) }).warnings) process.stderr.write(`provision: warning: ${w}\n`);
  // One answer for a --limit that matches nothing, whatever is asked (a run, --check or a listing): a bad option, exit 5.
  if (o.limit) {
    try {
      inventory.selectHosts(o.limit);
    } catch (err) {
      throw new OptionsError(`--limit ${o.limit}: ${(err as Error).message}`);
    }
  }
  if (o.listTags) {
    process.stdout.write(`${await listTags(inventory, playbook, o)}\n`);
    return 'ok';
  }
  if (o.listHosts) {
    process.stdout.write(`${listHosts(inventory, playbook, o.limit)}\n`);
    return 'ok';
  }
  if (o.listTasks) {
    process.stdout.write(`${await listTasks(inventory, playbook, o)}\n`);
    return 'ok';
  }
  // Bad connection variables (ansible_port: 0, …) and unusable key files (missing, readable by others) are
  // input errors, reported before any host is touched; and so is a connection that would not run as root (a sudo
  // user without ansible_become).
  const defaults: ConnectionDefaults = { ...o.connection };
  const spec = (host: InventoryHost) => connectionSpecFor(host, inventory.files[0]!, process.env, defaults);
  checkConnections(inventory, inventory.selectHosts(o.limit ?? 'all'), spec);
  for (const name of inventory.selectHosts(o.limit ?? 'all')) {
    const host = inventory.hosts.get(name)!;
    checkPrivateKeyFiles(host, spec(host), inventory.files[0]!);
  }
  if (o.syntaxCheck) {
    process.stdout.write(`playbook: ${playbook.file}\ninventory: ${inventory.files.join(', ')} (${inventory.hostOrder.length} hosts): no problems found\n`);
    return 'ok';
  }
  if (o.askBecomePass) defaults.becomePassword = await askSecret('BECOME password: ');
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
  o: RunOptions, inventory: Inventory, playbook: Playbook, extraReporters: Reporter[], spec: (host: InventoryHost) => ConnectionSpec,
): Promise<CommandResult> {
  const tty = process.stdout.isTTY && !o.plain && !process.env.CI;
  const renderer = tty ? listrRenderer({ diff: o.diff, verbose: o.verbose }) : plainRenderer({ diff: o.diff, verbose: o.verbose });
  const recorder = runRecorder({ version: version(), check: o.check, phases: o.phases });
  // --ssh-handshakes: this run's own bound; unset, the transport's run-wide default (SSH_HANDSHAKES).
  const handshakes = o.sshHandshakes ? new Semaphore(o.sshHandshakes) : undefined;
  const writeOut = (report: RunReport) => {
    if (o.json) writeFileSync(o.json, `${JSON.stringify(report, null, 2)}\n`);
    // On a terminal the recap fits its height (a 40-row one keeps the PLAY RECAP header on screen, with the prompt).
    const rows = tty ? process.stdout.rows : undefined;
    process.stdout.write(`\n${renderRecap(report, { ...(rows ? { maxLines: Math.max(20, rows - 8) } : {}), ...(o.json ? { jsonFile: o.json } : {}) })}\n`);
  };
  const interrupted = (err: unknown) => `${err instanceof ProvisionError ? '' : 'internal error: '}${errorMessage(err).split('\n')[0]}`;
  // What was done is written out even when the run dies of an error nothing caught (see commands/internal-error.ts).
  const undo = onInternalError((err) => {
    if (recorder.touched) writeOut(recorder.report(interrupted(err)));
  });
  let report: RunReport;
  try {
    report = await runPlaybook({
      inventory,
      playbook,
      phases: o.phases,
      ...(o.limit ? { limit: o.limit } : {}),
      options: { check: o.check, diff: o.diff, forks: o.forks, tags: o.tags, skipTags: o.skipTags, verbose: o.verbose },
      events: fanOut([renderer, recorder, ...extraReporters]),
      connect: (host) =>
        SshTransport.connect(spec(host), {
          ...(o.knownHosts ? { knownHostsFile: o.knownHosts } : {}),
          acceptNewHostKeys: o.acceptNewHostKeys,
        ...(handshakes ? { handshakes } : {}),
        }),
      version: version(),
      projectDir: projectDir(),
    });
  } catch (err) {
    // Bad input found before any host was touched stays a one-line error; later, the recap says what was done.
    if (recorder.touched) writeOut(recorder.report(interrupted(err)));
    throw err;
  } finally {
    undo();
  }
  if ('flush' in renderer && typeof renderer.flush === 'function') await renderer.flush();
  writeOut(report);
  return reportOutcome(report);
}
