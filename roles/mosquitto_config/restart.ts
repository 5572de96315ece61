import { StepError } from '../../src/errors.js';
import type { HostContext, Step } from '../../src/engine/types.js';
import { plainLoginCheck, tlsLoginCheck, waitUntil, type BrokerLogin } from '../../src/health/broker-health.js';
import { loadBalancerHosts } from '../../src/cluster/topology.js';
import { HAPROXY_BACKEND_NAME } from '../../src/haproxy/config.js';
import { backendServerStatus } from '../../src/haproxy/stats.js';
import { acceptWritten, restoreWritten, writtenThisRun } from '../../src/engine/backups.js';

async function restartService(ctx: HostContext): Promise<void> {
  const cmd = ctx.facts.init === 'systemd' ? 'systemctl restart mosquitto' : '/etc/init.d/mosquitto restart';
  await ctx.transport.script(cmd, { timeoutMs: 60_000 });
}

/** The broker's own words since `since` (epoch seconds): its errors, not systemd's retry messages. */
async function brokerLog(ctx: HostContext, since: string): Promise<string> {
  const cmd =
    ctx.facts.init === 'systemd'
      ? `journalctl -u mosquitto _COMM=mosquitto --since @${since} --no-pager -o cat 2>/dev/null | grep -v "^$" | grep -i -E "error|unable|invalid|unknown|fail" | tail -n 6`
      : 'grep -i -E "error|unable|invalid|unknown|fail" /var/log/mosquitto/mosquitto.log 2>/dev/null | tail -n 6';
  return (await ctx.transport.script(cmd)).stdout.trim() || '(the broker logged no error)';
}

/**
 * For a host whose restart was skipped because the rollout stopped: every file this run wrote for the change
 * (mosquitto.conf, the ACL file, the exporter's environment file, …) goes back to what it was before the run,
 * so the host neither runs nor later picks up a change that already failed elsewhere.
 */
export function revertConfig(): Step {
  return {
    name: 'restore the files this run changed (rollout stopped)',
    plan: (ctx) => {
      const written = writtenThisRun(ctx);
      if (written.length === 0) return { changes: [], message: 'this run wrote no file to restore' };
      return {
        changes: [
          {
            summary: `restore ${written.map((w) => w.path).join(', ')} from before this run`,
            apply: async (c) => {
              const r = await restoreWritten(c);
              if (!r.ok) throw new StepError(`restoring the files from before this run failed: ${r.lines.join('; ')}`);
              return r.lines.join('; ');
            },
          },
        ],
      };
    },
  };
}

/**
 * Restart, then prove the broker serves: a TLS login with the CA. If it does not come back, the previous
 * configuration is restored and the broker restarted on it, and the step fails with the broker's own words.
 */
/**
 * A rolling restart moves on only when every load balancer that knows this broker sees it UP again,
 * so two brokers are never out of the pool at once.
 */
async function waitForLoadBalancers(ctx: HostContext, timeoutMs = 30_000): Promise<void> {
  const lbs = loadBalancerHosts(ctx);
  for (const lb of lbs) {
    const t = ctx.play.transport(lb);
    if (!t) continue;
    const known = await backendServerStatus(t, HAPROXY_BACKEND_NAME);
    if (!known.has(ctx.name)) continue;
    ctx.progress(`waiting until ${lb} sees ${ctx.name} UP`);
    await waitUntil(async () => {
      const status = (await backendServerStatus(t, HAPROXY_BACKEND_NAME)).get(ctx.name) ?? 'unknown';
      if (!status.startsWith('UP')) throw new StepError(`load balancer ${lb} still sees ${ctx.name} as ${status}`);
    }, timeoutMs, 250);
  }
}

export function restartWithRollback(o: { tlsPort: number; ca: () => Promise<string>; login: BrokerLogin; healthTimeoutMs?: number; plainPort?: number }): Step {
  return {
    name: 'restart mosquitto and check it serves TLS logins',
    plan: () => ({
      changes: [
        {
          summary: 'restart mosquitto',
          apply: async (ctx) => {
            const ca = await o.ca();
            // With Cedalo's plugin the client listener is closed on followers: log in on the admin listener then.
            const check = () =>
              o.plainPort ? plainLoginCheck(ctx.transport, { port: o.plainPort, login: o.login }) : tlsLoginCheck(ctx.transport, { port: o.tlsPort, ca, servername: ctx.name, login: o.login });
            const since = (await ctx.transport.script('date +%s')).stdout.trim();
            await restartService(ctx);
            try {
              await waitUntil(check, o.healthTimeoutMs ?? 15_000);
            } catch (err) {
              const log = await brokerLog(ctx, since);
              // Every file written for this change goes back, not only mosquitto.conf (src/engine/backups.ts).
              const restored = await restoreWritten(ctx);
              let after = 'no previous configuration to restore (this run replaced no file)';
              if (restored.lines.length) {
                await restartService(ctx);
                const what = `${restored.ok ? '' : 'restore incomplete: '}${restored.lines.join(', ')}`;
                after = await waitUntil(check, o.healthTimeoutMs ?? 15_000).then(
                  () => `previous configuration restored (${what}), broker serving again (failed mosquitto.conf kept as mosquitto.conf.failed)`,
                  (e: Error) => `previous configuration restored (${what}) but the broker is still unhealthy: ${e.message}`,
                );
              }
              throw new StepError(`mosquitto did not come back healthy (${(err as Error).message}); ${after}. Broker log:\n${log}`);
            }
            // The new configuration serves: its backup must never be mistaken for "the previous one" later.
            await acceptWritten(ctx);
            await waitForLoadBalancers(ctx);
          },
        },
      ],
    }),
  };
}
