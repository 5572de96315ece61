import { errorMessage } from '../engine/step-runner.js';
import { ProvisionError } from '../errors.js';
import { findAnsibleCfg, readAnsibleCfg } from './ansible-cfg.js';
import { exitCodeForError } from './exit-codes.js';
import { installLastResort, internalErrorLine } from './last-resort.js';
import { HELP, parseRunOptions } from './options.js';
import { version } from './version.js';

/** Sub-commands are plain async functions returning an exit code; errors map to exit codes in one place. */
const SUBCOMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  sandbox: async (args) => (await import('../commands/sandbox.js')).sandboxCommand(args),
  verify: async (args) => (await import('../commands/verify.js')).verifyCommand(args),
  pki: async (args) => (await import('../commands/pki.js')).pkiCommand(args),
  demo: async (args) => (await import('../commands/demo.js')).demoCommand(args),
  inventory: async (args) => (await import('../commands/inventory.js')).inventoryCommand(args),
  exec: async (args) => (await import('../commands/exec.js')).execCommand(args),
};

export async function main(argv: string[]): Promise<number> {
  // Before any option parsing: a stack trace is for --verbose, even when the options are what broke.
  const verbose = argv.some((a) => a === '--verbose' || /^-[A-Za-z]*v[A-Za-z]*$/.test(a)) || Boolean(process.env.PROVISION_DEBUG);
  installLastResort({ verbose });
  try {
    const sub = argv[0] && SUBCOMMANDS[argv[0]];
    if (sub) return await sub(argv.slice(1));
    const cfgFile = findAnsibleCfg();
    const o = parseRunOptions(argv, cfgFile ? readAnsibleCfg(cfgFile) : undefined);
    if (o.help) {
      process.stdout.write(`${HELP}\n`);
      return 0;
    }
    if (o.version) {
      process.stdout.write(`provision ${version()}\n`);
      return 0;
    }
    const { runCommand } = await import('../commands/run.js');
    return await runCommand(o);
  } catch (err) {
    process.stderr.write(err instanceof ProvisionError ? `provision: ${errorMessage(err)}\n` : internalErrorLine(err, verbose));
    return exitCodeForError(err);
  }
}
