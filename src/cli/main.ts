import { errorMessage } from '../engine/step-runner.js';
import { exitCodeForError } from './exit-codes.js';
import { HELP, parseRunOptions } from './options.js';
import { version } from './version.js';

/** Sub-commands are plain async functions returning an exit code; errors map to exit codes in one place. */
const SUBCOMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  sandbox: async (args) => (await import('../commands/sandbox.js')).sandboxCommand(args),
  verify: async (args) => (await import('../commands/verify.js')).verifyCommand(args),
  pki: async (args) => (await import('../commands/pki.js')).pkiCommand(args),
  demo: async (args) => (await import('../commands/demo.js')).demoCommand(args),
};

export async function main(argv: string[]): Promise<number> {
  try {
    const sub = argv[0] && SUBCOMMANDS[argv[0]];
    if (sub) return await sub(argv.slice(1));
    const o = parseRunOptions(argv);
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
    process.stderr.write(`provision: ${errorMessage(err)}\n`);
    return exitCodeForError(err);
  }
}
