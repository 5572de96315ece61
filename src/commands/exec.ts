import { parseExtraVars } from '../inventory/extra-vars.js';
import { connectionSpecFor, type ConnectionDefaults } from '../inventory/connection.js';
import { loadInventory } from '../inventory/load.js';
import { loadVaultKeyring, promptHidden } from '../inventory/vault-secrets.js';
import { Secret, redact } from '../secrets.js';
import { SshTransport } from '../transport/ssh.js';
import type { ExecOptions } from './options.js';
import { worstOutcome, type CommandResult, type HostsOutcome } from './result.js';

/** POSIX single-quoting: the whole command reaches `sh -c` as one word. */
const shQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * `provision exec PATTERN -- COMMAND`: Ansible's ad-hoc shell. One line `host | CHANGED | rc=0 >>` then the
 * command's output per host, in the pattern's host order (each host's block printed whole); secrets masked.
 */
export async function execCommand(o: ExecOptions): Promise<CommandResult> {
  const { command, forks } = o;
  const vault = await loadVaultKeyring(o.vault ?? {});
  const inventory = await loadInventory(o.inventories, { vault, extraVars: parseExtraVars(o.extraVars, vault) });
  const hosts = inventory.selectHosts(o.pattern);
  const defaults: ConnectionDefaults = { ...o.connection };
  if (o.askBecomePass) defaults.becomePassword = new Secret(await promptHidden('BECOME password: ', 'set ansible_become_password instead, e.g. { from_env: NAME }'), 'become');
  // Bad connection variables are input errors before any host is contacted.
  const specs = hosts.map((h) => connectionSpecFor(inventory.hosts.get(h)!, inventory.files[0]!, process.env, defaults));

  const results: Promise<{ text: string; outcome: HostsOutcome }>[] = [];
  let running = 0;
  const waiters: (() => void)[] = [];
  const slot = async () => {
    while (running >= forks) await new Promise<void>((r) => waiters.push(r));
    running++;
  };
  const free = () => {
    running--;
    waiters.shift()?.();
  };
  for (const spec of specs) {
    results.push((async () => {
      await slot();
      try {
        let t: SshTransport;
        try {
          t = await SshTransport.connect(spec, {
            ...(o.knownHosts ? { knownHostsFile: o.knownHosts } : {}),
            acceptNewHostKeys: o.acceptNewHostKeys,
          });
        } catch (e) {
          return { text: `${spec.host} | UNREACHABLE! => ${(e as Error).message}`, outcome: 'unreachable' };
        }
        try {
          const r = await t.exec(`sh -c ${shQuote(command)}`);
          const out = [r.stdout, r.stderr].filter((s) => s.length).join('').replace(/\n$/, '');
          return { text: `${spec.host} | ${r.code === 0 ? 'CHANGED' : 'FAILED'} | rc=${r.code} >>${out ? `\n${out}` : ''}`, outcome: r.code === 0 ? 'ok' : 'failed' };
        } finally {
          await t.close();
        }
      } finally {
        free();
      }
    })());
  }
  const outcomes: HostsOutcome[] = [];
  for (const r of results) {
    const { text, outcome } = await r;
    process.stdout.write(`${redact(text)}\n`);
    outcomes.push(outcome);
  }
  return worstOutcome(outcomes);
}
