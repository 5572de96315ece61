import { parseArgs } from 'node:util';
import { OptionsError } from '../errors.js';
import { execOptions, type ExecOptions } from '../commands/options.js';
import { CONNECTION_OPTIONS, connectionDefaults, VAULT_OPTIONS, vaultOption, withSshArgsValue } from './options.js';

export const EXEC_HELP = `provision exec PATTERN -i INVENTORY [options] -- COMMAND...
  run a shell command on the hosts PATTERN selects, like \`ansible PATTERN -m shell -a COMMAND\`
  options: -b/--become, --become-user U, -K, -u USER, --private-key FILE, --ssh-common-args A, -T SECONDS,
           -f/--forks N (default 5), -e VARS, --known-hosts FILE, --accept-new-host-keys, vault options
  exit: 0 every host ran it with status 0, 2 a host's command failed, 3 a host was unreachable`;

const EXEC_OPTIONS = {
  inventory: { type: 'string', short: 'i', multiple: true },
  forks: { type: 'string', short: 'f' },
  'extra-vars': { type: 'string', short: 'e', multiple: true },
  'known-hosts': { type: 'string' },
  'accept-new-host-keys': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  ...CONNECTION_OPTIONS,
  ...VAULT_OPTIONS,
} as const;

/**
 * `provision exec PATTERN [options] -- COMMAND...` → ExecOptions (`help`: print EXEC_HELP). The connection flags
 * are run's; ansible.cfg is not read (as documented in docs/migration.md).
 */
export function parseExecOptions(args: string[]): ExecOptions & { help: boolean } | { help: true } {
  const dash = args.indexOf('--');
  const own = dash >= 0 ? args.slice(0, dash) : args;
  const command = dash >= 0 ? args.slice(dash + 1).join(' ') : '';
  let parsed;
  try {
    parsed = parseArgs({ args: withSshArgsValue(own), allowPositionals: true, strict: true, options: EXEC_OPTIONS });
  } catch (err) {
    throw new OptionsError(`${(err as Error).message}\n${EXEC_HELP}`);
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: true };
  if (positionals.length !== 1) throw new OptionsError(`provision exec needs one PATTERN before '--', got ${positionals.length}\n${EXEC_HELP}`);
  if (!command.trim()) throw new OptionsError(`provision exec needs a COMMAND after '--'\n${EXEC_HELP}`);
  if (!values.inventory?.length) throw new OptionsError('provision exec needs --inventory/-i');
  const forks = values.forks === undefined ? undefined : Number(values.forks);
  if (forks !== undefined && (!Number.isInteger(forks) || forks < 1 || forks > 500)) throw new OptionsError(`--forks must be a whole number from 1 to 500, got '${values.forks}'`);
  const connection = connectionDefaults(values);
  return {
    ...execOptions({
      inventories: values.inventory,
      pattern: positionals[0]!,
      command,
      extraVars: values['extra-vars'] ?? [],
      ...vaultOption(values),
      acceptNewHostKeys: Boolean(values['accept-new-host-keys']),
      ...(forks !== undefined ? { forks } : {}),
      ...(values['known-hosts'] ? { knownHosts: values['known-hosts'] } : {}),
      ...(Object.keys(connection).length ? { connection } : {}),
      ...(values['ask-become-pass'] ? { askBecomePass: true } : {}),
    }),
    help: false,
  };
}
