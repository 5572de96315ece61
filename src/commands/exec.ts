import { parseArgs } from 'node:util';
import { connectionDefaultsFromFlags, CONNECTION_OPTIONS, VAULT_OPTIONS, vaultCliOptions } from '../cli/options.js';
import { parseExtraVars } from '../cli/extra-vars.js';
import { EXIT } from '../cli/exit-codes.js';
import { OptionsError } from '../errors.js';
import { connectionSpecFor, type ConnectionDefaults } from '../inventory/connection.js';
import { loadInventory } from '../inventory/load.js';
import { loadVaultKeyring, promptHidden } from '../inventory/vault-secrets.js';
import { Secret, redact } from '../secrets.js';
import { SshTransport } from '../transport/ssh.js';

export const EXEC_HELP = `provision exec PATTERN -i INVENTORY [options] -- COMMAND...
  run a shell command on the hosts PATTERN selects, like \`ansible PATTERN -m shell -a COMMAND\`
  options: -b/--become, --become-user U, -K, -u USER, --private-key FILE, --ssh-common-args A, -T SECONDS,
           -f/--forks N (default 5), -e VARS, --known-hosts FILE, --accept-new-host-keys, vault options
  exit: 0 every host ran it with status 0, 2 a host's command failed, 3 a host was unreachable`;

/** POSIX single-quoting: the whole command reaches `sh -c` as one word. */
const shQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * `provision exec PATTERN -- COMMAND`: Ansible's ad-hoc shell. One line `host | CHANGED | rc=0 >>` then the
 * command's output per host, in the pattern's host order (each host's block printed whole); secrets masked.
 */
export async function execCommand(args: string[]): Promise<number> {
  const dash = args.indexOf('--');
  const own = dash >= 0 ? args.slice(0, dash) : args;
  const command = dash >= 0 ? args.slice(dash + 1).join(' ') : '';
  let parsed;
  try {
    parsed = parseArgs({
      args: own, allowPositionals: true, strict: true,
      options: {
        inventory: { type: 'string', short: 'i', multiple: true }, forks: { type: 'string', short: 'f' },
        'extra-vars': { type: 'string', short: 'e', multiple: true }, 'known-hosts': { type: 'string' },
        'accept-new-host-keys': { type: 'boolean' }, help: { type: 'boolean', short: 'h' }, ...CONNECTION_OPTIONS, ...VAULT_OPTIONS,
      },
    });
  } catch (err) {
    throw new OptionsError(`${(err as Error).message}\n${EXEC_HELP}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${EXEC_HELP}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new OptionsError(`provision exec needs one PATTERN before '--', got ${positionals.length}\n${EXEC_HELP}`);
  if (!command.trim()) throw new OptionsError(`provision exec needs a COMMAND after '--'\n${EXEC_HELP}`);
  if (!values.inventory?.length) throw new OptionsError('provision exec needs --inventory/-i');
  const forks = values.forks === undefined ? 5 : Number(values.forks);
  if (!Number.isInteger(forks) || forks < 1 || forks > 500) throw new OptionsError(`--forks must be a whole number from 1 to 500, got '${values.forks}'`);

  const vault = await loadVaultKeyring(vaultCliOptions(values));
  const inventory = await loadInventory(values.inventory, { vault, extraVars: parseExtraVars(values['extra-vars'] ?? [], vault) });
  const hosts = inventory.selectHosts(positionals[0]!);
  const defaults: ConnectionDefaults = connectionDefaultsFromFlags(values);
  if (values['ask-become-pass']) defaults.becomePassword = new Secret(await promptHidden('BECOME password: ', 'set ansible_become_password instead, e.g. { from_env: NAME }'), 'become');
  // Bad connection variables are input errors before any host is contacted.
  const specs = hosts.map((h) => connectionSpecFor(inventory.hosts.get(h)!, inventory.files[0]!, process.env, defaults));

  const results: Promise<{ text: string; code: number }>[] = [];
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
            ...(values['known-hosts'] ? { knownHostsFile: values['known-hosts'] } : {}),
            acceptNewHostKeys: Boolean(values['accept-new-host-keys']),
          });
        } catch (e) {
          return { text: `${spec.host} | UNREACHABLE! => ${(e as Error).message}`, code: EXIT.unreachable };
        }
        try {
          const r = await t.exec(`sh -c ${shQuote(command)}`);
          const out = [r.stdout, r.stderr].filter((s) => s.length).join('').replace(/\n$/, '');
          return { text: `${spec.host} | ${r.code === 0 ? 'CHANGED' : 'FAILED'} | rc=${r.code} >>${out ? `\n${out}` : ''}`, code: r.code === 0 ? EXIT.ok : EXIT.failed };
        } finally {
          await t.close();
        }
      } finally {
        free();
      }
    })());
  }
  let exit: number = EXIT.ok;
  for (const r of results) {
    const { text, code } = await r;
    process.stdout.write(`${redact(text)}\n`);
    if (code === EXIT.failed || (code === EXIT.unreachable && exit === EXIT.ok)) exit = code;
  }
  return exit;
}
