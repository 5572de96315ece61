import { parseArgs } from 'node:util';
import { OptionsError } from '../errors.js';
import { verifyOptions, type VerifyOptions } from '../commands/options.js';
import type { AnsibleCfg } from './ansible-cfg.js';
import { CONNECT_OPTIONS, connectOptions, shortParseError, withSshArgsValue } from './options.js';

/** verify reads the hosts as a run does (inventory, --limit, -e, vault, connection flags, ansible.cfg), plus its report file. */
export const VERIFY_OPTIONS = {
  ...CONNECT_OPTIONS,
  json: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const VERIFY_HELP = `provision verify — end-to-end checks of a live cluster (TLS logins through every endpoint, pub/sub, metrics)

Usage:
  provision verify -i INVENTORY [-l PATTERN] [--known-hosts FILE] [--json FILE]

Options:
  -i, --inventory FILE     the inventory the cluster was provisioned from; repeatable (or ansible.cfg's inventory)
  -l, --limit PATTERN      check only these brokers and load balancers (as for a run); HAProxy's view of
                           every broker and the bridge tree are still checked whole
  -e, --extra-vars K=V     variables over the inventory's, as for a run (or @file.yaml); repeatable
      --known-hosts FILE   known_hosts file (default ~/.ssh/known_hosts, or provision_known_hosts_file)
      --accept-new-host-keys  record unknown host keys; changed keys are always refused
      --ssh-handshakes N   SSH handshakes in progress at once (default 10), as for a run
  -u, --user, --private-key, -b/--become, --become-user, -K, --ssh-common-args, -T/--timeout
                           how to connect, as for a run (ansible.cfg's keys too); a host's variables win
      --json FILE          write the checks and their results as JSON
      --vault-password-file FILE, --vault-id ID@SOURCE, -J/--ask-vault-pass   decrypt vault values, as for a run
  -h, --help               this help

Exit codes: 0 every check passed, 2 a check failed (each failure says what is wrong), 4 bad inventory, 5 bad options.`;

/** `provision verify` argv (and ansible.cfg) → VerifyOptions, with run's flag handling; `help` asks for VERIFY_HELP. */
export function parseVerifyOptions(argv: string[], cfg?: AnsibleCfg): VerifyOptions & { help: boolean } {
  let values: ReturnType<typeof parseArgs<{ options: typeof VERIFY_OPTIONS; strict: true }>>['values'];
  try {
    ({ values } = parseArgs({ args: withSshArgsValue(argv), options: VERIFY_OPTIONS, strict: true }));
  } catch (err) {
    throw new OptionsError(`verify: ${shortParseError(err as Error, VERIFY_OPTIONS)} (see provision verify --help)`);
  }
  const o = { ...verifyOptions({ ...connectOptions(values, cfg), ...(values.json ? { json: values.json } : {}) }), help: Boolean(values.help) };
  if (!o.help && o.inventories.length === 0) throw new OptionsError('verify needs --inventory/-i (see provision verify --help)');
  return o;
}
