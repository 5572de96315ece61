import { sandboxOptions, type SandboxOptions } from '../commands/options.js';
import { shq } from '../transport/shell-quote.js';

export const SANDBOX_HELP = `usage: provision sandbox <command>

  up N [--name X] [--prefix P | --names a,b,c]   create/boot N hosts (idempotent; adds missing ones)
  add N [--name X] [--prefix P]                  add N more hosts to a sandbox
  down [--name X | --all]                        stop and remove a sandbox (or all of them)
  status [--name X]                              show hosts (all sandboxes when no --name)
  stop HOST [--name X]                           hard power-off of one host
  start HOST [--name X]                          boot a stopped host again (same disk)
  reboot HOST [--name X]                         reboot a host and wait until ssh answers
  exec HOST [--name X] -- COMMAND [ARG...]       run a command as root inside a host (one word: a shell command line)

The default sandbox name is "default". Hosts are named node1..nodeN unless --prefix/--names is given.`;

/** A mistake in how `provision sandbox` was called: printed with the usage (exit 2, sandbox's own code). */
export class SandboxUsageError extends Error {}

interface Words {
  positional: string[];
  name?: string;
  prefix?: string;
  names?: string[];
  all: boolean;
  help: boolean;
  rest: string[];
}

function words(args: string[]): Words {
  const p: Words = { positional: [], all: false, help: false, rest: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = (): string => {
      const eq = a.indexOf('=');
      if (eq >= 0) return a.slice(eq + 1);
      const v = args[++i];
      if (v === undefined) throw new SandboxUsageError(`${a} needs a value`);
      return v;
    };
    if (a === '--') {
      p.rest = args.slice(i + 1);
      break;
    } else if (a === '--name' || a.startsWith('--name=')) p.name = value();
    else if (a === '--prefix' || a.startsWith('--prefix=')) p.prefix = value();
    else if (a === '--names' || a.startsWith('--names=')) p.names = value().split(',').map((s) => s.trim()).filter(Boolean);
    else if (a === '--all') p.all = true;
    else if (a === '-h' || a === '--help') p.help = true;
    else if (a.startsWith('-')) throw new SandboxUsageError(`unknown option ${a}`);
    else p.positional.push(a);
  }
  return p;
}

function count(p: Words, def?: number): number {
  const raw = p.positional[0];
  if (raw === undefined) {
    if (def !== undefined) return def;
    if (p.names?.length) return p.names.length;
    throw new SandboxUsageError('missing host count N');
  }
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new SandboxUsageError(`invalid host count "${raw}"`);
  return n;
}

function host(p: Words): string {
  const h = p.positional[0];
  if (!h) throw new SandboxUsageError('missing HOST');
  return h;
}

/**
 * `provision sandbox ACTION ...` → SandboxOptions; `{ help }` asks for SANDBOX_HELP (`asked: false` when no action
 * was given at all, which exits 2). Throws SandboxUsageError for anything else it cannot do.
 */
export function parseSandboxOptions(args: string[]): SandboxOptions | { help: true; asked: boolean } {
  const [cmd, ...rest] = args;
  if (!cmd || cmd === 'help' || cmd === '-h' || cmd === '--help') return { help: true, asked: Boolean(cmd) };
  const p = words(rest);
  if (p.help) return { help: true, asked: true };
  const name = p.name;
  const hostNames = { ...(p.prefix !== undefined ? { prefix: p.prefix } : {}), ...(p.names !== undefined ? { names: p.names } : {}) };
  switch (cmd) {
    case 'up':
      return sandboxOptions({ name, action: 'up', count: count(p), ...hostNames });
    case 'add':
      return sandboxOptions({ name, action: 'add', count: count(p, 1), ...hostNames });
    case 'down':
      if (p.all && p.name) throw new SandboxUsageError('use either --name or --all');
      return sandboxOptions({ name, action: 'down', all: p.all });
    case 'status':
      return sandboxOptions({ name, action: 'status', named: Boolean(name) });
    case 'stop':
    case 'start':
    case 'reboot':
      return sandboxOptions({ name, action: cmd, host: host(p) });
    case 'exec': {
      const h = host(p);
      // One word after "--" is a shell command line; several are an argv, each word kept whole.
      const cmdWords = p.rest.length ? p.rest : p.positional.slice(1);
      const command = cmdWords.length === 1 ? cmdWords[0]! : cmdWords.map(shq).join(' ');
      if (!command) throw new SandboxUsageError('missing COMMAND (after --)');
      return sandboxOptions({ name, action: 'exec', host: h, command });
    }
    default:
      throw new SandboxUsageError(`unknown sandbox command "${cmd}"`);
  }
}
