// `provision sandbox ...`: local Debian 12 hosts (systemd-nspawn) for tests, the demo and benchmarks.
import { shq } from '../transport/shell-quote.js';
import {
  addHosts,
  hostShell,
  rebootHost,
  sandboxDown,
  sandboxList,
  sandboxStatus,
  sandboxUp,
  sshCommand,
  startHost,
  stopHost,
  type Sandbox,
} from '../sandbox/index.js';

const USAGE = `usage: provision sandbox <command>

  up N [--name X] [--prefix P | --names a,b,c]   create/boot N hosts (idempotent; adds missing ones)
  add N [--name X] [--prefix P]                  add N more hosts to a sandbox
  down [--name X | --all]                        stop and remove a sandbox (or all of them)
  status [--name X]                              show hosts (all sandboxes when no --name)
  stop HOST [--name X]                           hard power-off of one host
  start HOST [--name X]                          boot a stopped host again (same disk)
  reboot HOST [--name X]                         reboot a host and wait until ssh answers
  exec HOST [--name X] -- COMMAND [ARG...]       run a command as root inside a host (one word: a shell command line)

The default sandbox name is "default". Hosts are named node1..nodeN unless --prefix/--names is given.`;

interface Parsed {
  positional: string[];
  name?: string;
  prefix?: string;
  names?: string[];
  all: boolean;
  help: boolean;
  rest: string[];
}

class UsageError extends Error {}

function parse(args: string[]): Parsed {
  const p: Parsed = { positional: [], all: false, help: false, rest: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = (): string => {
      const eq = a.indexOf('=');
      if (eq >= 0) return a.slice(eq + 1);
      const v = args[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
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
    else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
    else p.positional.push(a);
  }
  return p;
}

function count(p: Parsed, def?: number): number {
  const raw = p.positional[0];
  if (raw === undefined) {
    if (def !== undefined) return def;
    if (p.names?.length) return p.names.length;
    throw new UsageError('missing host count N');
  }
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`invalid host count "${raw}"`);
  return n;
}

function host(p: Parsed): string {
  const h = p.positional[0];
  if (!h) throw new UsageError('missing HOST');
  return h;
}

function printSandbox(s: Sandbox, withSsh = true): void {
  const out: string[] = [];
  out.push(`sandbox "${s.name}": ${s.subnet} on bridge ${s.bridge} (gateway ${s.gateway}), ${s.hosts.length} host(s)`);
  const w = Math.max(4, ...s.hosts.map((h) => h.name.length));
  for (const h of s.hosts) {
    out.push(`  ${h.name.padEnd(w)}  ${h.address.padEnd(12)}  ${h.running ? 'running' : 'stopped'}${h.pid ? `  (pid ${h.pid})` : ''}`);
  }
  out.push(`inventory:   ${s.inventoryPath}`);
  out.push(`known_hosts: ${s.knownHostsPath}`);
  out.push(`ssh key:     ${s.keyPath}`);
  out.push(`apt proxy:   ${s.aptProxy}`);
  if (withSsh && s.hosts.length > 0) out.push(`ssh:         ${sshCommand(s, s.hosts[0].name).join(' ')}`);
  console.log(out.join('\n'));
}

const log = (line: string) => console.error(`sandbox: ${line}`);

export async function sandboxCommand(args: string[]): Promise<number> {
  const [cmd, ...rest] = args;
  try {
    if (!cmd || cmd === 'help' || cmd === '-h' || cmd === '--help') {
      console.log(USAGE);
      return cmd ? 0 : 2;
    }
    const p = parse(rest);
    if (p.help) {
      console.log(USAGE);
      return 0;
    }
    const name = p.name ?? 'default';
    const started = Date.now();
    const took = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
    switch (cmd) {
      case 'up': {
        const s = await sandboxUp({ name, count: count(p), prefix: p.prefix, names: p.names, log });
        printSandbox(s);
        console.log(`up in ${took()}`);
        return 0;
      }
      case 'add': {
        const s = await addHosts({ name, count: count(p, 1), prefix: p.prefix, names: p.names, log });
        printSandbox(s);
        console.log(`done in ${took()}`);
        return 0;
      }
      case 'down': {
        if (p.all && p.name) throw new UsageError('use either --name or --all');
        const before = p.all ? (await sandboxList()).map((s) => s.name) : [name];
        await sandboxDown({ name, all: p.all, log });
        console.log(before.length ? `removed sandbox(es): ${before.join(', ')}` : 'no sandbox to remove');
        return 0;
      }
      case 'status': {
        if (p.name) {
          const s = await sandboxStatus({ name });
          if (!s) {
            console.log(`no sandbox named "${name}"`);
            return 1;
          }
          printSandbox(s);
          return 0;
        }
        const all = await sandboxList();
        if (all.length === 0) console.log('no sandbox');
        all.forEach((s, i) => {
          if (i > 0) console.log('');
          printSandbox(s);
        });
        return 0;
      }
      case 'stop': {
        const h = host(p);
        await stopHost(name, h);
        console.log(`${name}/${h} powered off (${took()})`);
        return 0;
      }
      case 'start': {
        const h = host(p);
        await startHost(name, h, { log });
        const s = await sandboxStatus({ name });
        const addr = s?.hosts.find((x) => x.name === h)?.address;
        console.log(`${name}/${h} is up at ${addr} (${took()})`);
        return 0;
      }
      case 'reboot': {
        const h = host(p);
        await rebootHost(name, h);
        console.log(`${name}/${h} rebooted and answers ssh (${took()})`);
        return 0;
      }
      case 'exec': {
        const h = host(p);
        // One word after "--" is a shell command line; several are an argv, each word kept whole.
        const words = p.rest.length ? p.rest : p.positional.slice(1);
        const command = words.length === 1 ? words[0]! : words.map(shq).join(' ');
        if (!command) throw new UsageError('missing COMMAND (after --)');
        const r = await hostShell(name, h, command);
        process.stdout.write(r.stdout);
        process.stderr.write(r.stderr);
        return r.code;
      }
      default:
        throw new UsageError(`unknown sandbox command "${cmd}"`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`provision sandbox: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    console.error(`provision sandbox: ${(e as Error).message}`);
    return 1;
  }
}
