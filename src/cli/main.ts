import { errorMessage } from '../engine/step-runner.js';
import { ProvisionError } from '../errors.js';
import type { CommandResult } from '../commands/result.js';
import { version } from '../commands/version.js';
import { findAnsibleCfg, readAnsibleCfg, type AnsibleCfg } from './ansible-cfg.js';
import { parseDemoOptions } from './demo-options.js';
import { EXEC_HELP, parseExecOptions } from './exec-options.js';
import { exitCodeFor, exitCodeForError } from './exit-codes.js';
import { INVENTORY_HELP, parseInventoryOptions } from './inventory-options.js';
import { installLastResort, internalErrorLine } from './last-resort.js';
import { HELP, parseRunOptions } from './options.js';
import { parsePkiOptions, PKI_HELP } from './pki-options.js';
import { parseSandboxOptions, SANDBOX_HELP, SandboxUsageError } from './sandbox-options.js';
import { parseVerifyOptions, VERIFY_HELP } from './verify-options.js';

/**
 * The app in one line per command: parse argv (and ansible.cfg) into the command's typed options, call the command
 * (loaded when used), and let exit-codes.ts turn its result, or its error, into the exit code.
 */
const SUBCOMMANDS: Record<string, (args: string[], cfg: () => AnsibleCfg | undefined) => Promise<CommandResult>> = {
  sandbox: async (args) => {
    let o;
    try {
      o = parseSandboxOptions(args);
    } catch (e) {
      if (!(e instanceof SandboxUsageError)) throw e;
      console.error(`provision sandbox: ${e.message}\n\n${SANDBOX_HELP}`);
      return 'usage';
    }
    if ('help' in o) return printed(SANDBOX_HELP, o.asked ? 'ok' : 'usage');
    return (await import('../commands/sandbox.js')).sandboxCommand(o);
  },
  verify: async (args, cfg) => {
    const o = parseVerifyOptions(args, cfg());
    if (o.help) return printed(VERIFY_HELP);
    return (await import('../commands/verify.js')).verifyCommand(o);
  },
  pki: async (args) => {
    const o = parsePkiOptions(args);
    if (o.help) return printed(PKI_HELP);
    return (await import('../commands/pki.js')).pkiCommand(o);
  },
  demo: async (args) => (await import('../commands/demo.js')).demoCommand(parseDemoOptions(args)),
  inventory: async (args) => {
    const o = parseInventoryOptions(args);
    if (o.help) return printed(INVENTORY_HELP);
    return (await import('../commands/inventory.js')).inventoryCommand(o);
  },
  exec: async (args) => {
    const o = parseExecOptions(args);
    if (o.help) return printed(EXEC_HELP);
    return (await import('../commands/exec.js')).execCommand(o);
  },
};

function printed(text: string, result: CommandResult = 'ok'): CommandResult {
  process.stdout.write(`${text}\n`);
  return result;
}

/** The ansible.cfg Ansible would read (none: undefined); read only by the commands that take its keys. */
function ansibleCfg(): AnsibleCfg | undefined {
  const file = findAnsibleCfg();
  return file ? readAnsibleCfg(file) : undefined;
}

/** argv → the command's result; errors propagate (main maps them). */
export async function dispatch(argv: string[]): Promise<CommandResult> {
  const sub = argv[0] && SUBCOMMANDS[argv[0]];
  if (sub) return sub(argv.slice(1), ansibleCfg);
  const o = parseRunOptions(argv, ansibleCfg());
  if (o.help) return printed(HELP);
  if (o.version) return printed(`provision ${version()}`);
  const { help: _help, version: _version, ...run } = o;
  return (await import('../commands/run.js')).runCommand(run);
}

export async function main(argv: string[]): Promise<number> {
  // Before any option parsing: a stack trace is for --verbose, even when the options are what broke.
  const verbose = argv.some((a) => a === '--verbose' || /^-[A-Za-z]*v[A-Za-z]*$/.test(a)) || Boolean(process.env.PROVISION_DEBUG);
  installLastResort({ verbose });
  try {
    return exitCodeFor(await dispatch(argv));
  } catch (err) {
    process.stderr.write(err instanceof ProvisionError ? `provision: ${errorMessage(err)}\n` : internalErrorLine(err, verbose));
    return exitCodeForError(err);
  }
}
