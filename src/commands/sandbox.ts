// `provision sandbox ...`: local Debian 12 hosts (systemd-nspawn) for tests, the demo and benchmarks.
import type { SandboxOptions } from './options.js';
import type { CommandResult } from './result.js';
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

/** `provision sandbox ACTION`, already parsed (src/cli/sandbox-options.ts); an error is one line, exit 1. */
export async function sandboxCommand(o: SandboxOptions): Promise<CommandResult> {
  try {
    return await act(o);
  } catch (e) {
    console.error(`provision sandbox: ${(e as Error).message}`);
    return 'internal';
  }
}

async function act(o: SandboxOptions): Promise<CommandResult> {
  const { name } = o;
  const started = Date.now();
  const took = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  switch (o.action) {
    case 'up': {
      const s = await sandboxUp({ name, count: o.count, prefix: o.prefix, names: o.names, log });
      printSandbox(s);
      console.log(`up in ${took()}`);
      return 'ok';
    }
    case 'add': {
      const s = await addHosts({ name, count: o.count, prefix: o.prefix, names: o.names, log });
      printSandbox(s);
      console.log(`done in ${took()}`);
      return 'ok';
    }
    case 'down': {
      const before = o.all ? (await sandboxList()).map((s) => s.name) : [name];
      await sandboxDown({ name, all: o.all, log });
      console.log(before.length ? `removed sandbox(es): ${before.join(', ')}` : 'no sandbox to remove');
      return 'ok';
    }
    case 'status': {
      if (o.named) {
        const s = await sandboxStatus({ name });
        if (!s) {
          console.log(`no sandbox named "${name}"`);
          return 'not-found';
        }
        printSandbox(s);
        return 'ok';
      }
      const all = await sandboxList();
      if (all.length === 0) console.log('no sandbox');
      all.forEach((s, i) => {
        if (i > 0) console.log('');
        printSandbox(s);
      });
      return 'ok';
    }
    case 'stop': {
      await stopHost(name, o.host);
      console.log(`${name}/${o.host} powered off (${took()})`);
      return 'ok';
    }
    case 'start': {
      await startHost(name, o.host, { log });
      const s = await sandboxStatus({ name });
      const addr = s?.hosts.find((x) => x.name === o.host)?.address;
      console.log(`${name}/${o.host} is up at ${addr} (${took()})`);
      return 'ok';
    }
    case 'reboot': {
      await rebootHost(name, o.host);
      console.log(`${name}/${o.host} rebooted and answers ssh (${took()})`);
      return 'ok';
    }
    case 'exec': {
      const r = await hostShell(name, o.host, o.command);
      process.stdout.write(r.stdout);
      process.stderr.write(r.stderr);
      return { status: r.code };
    }
  }
}
