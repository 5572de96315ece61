import { StepError } from '../../src/errors.js';
import type { HostContext, Step } from '../../src/engine/types.js';
import { plainLoginCheck, tlsLoginCheck, waitUntil, type BrokerLogin } from '../../src/health/broker-health.js';
import { BROKER_PATHS } from '../../src/cluster/broker.js';
import { loadBalancerHosts } from '../../src/cluster/topology.js';
import { HAPROXY_BACKEND_NAME } from '../../src/haproxy/config.js';
import { backendServerStatus } from '../../src/haproxy/stats.js';

import { DEFAULT_BACKUP_SUFFIX as BACKUP_SUFFIX } from '../../src/operations/file.js';

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

/** Put the previous configuration back on a host whose restart was skipped because the rollout stopped. */
export function revertConfig(): Step {
  return {
    name: 'restore the previous mosquitto.conf (rollout stopped)',
    plan: () => ({
      changes: [
        {
          summary: 'restore mosquitto.conf from before this run',
          // cp -p kept the old mtime, so the running broker is not seen as stale afterwards.
          actions: [
            {
              script: `cd ${BROKER_PATHS.confDir} || exit 1
started=$(date -d "$(systemctl show mosquitto -p ActiveEnterTimestamp --value)" +%s 2>/dev/null || echo 0)
if [ -f mosquitto.conf${BACKUP_SUFFIX} ] && [ "$(stat -c %Y mosquitto.conf)" -gt "$started" ]; then mv -f mosquitto.conf${BACKUP_SUFFIX} mosquitto.conf; fi`,
            },
          ],
        },
      ],
    }),
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
              const restored = await ctx.transport.script(
                `set -e; cd ${BROKER_PATHS.confDir}; test -f mosquitto.conf${BACKUP_SUFFIX}; cp -p mosquitto.conf mosquitto.conf.failed; mv -f mosquitto.conf${BACKUP_SUFFIX} mosquitto.conf`,
              );
              let after = 'no previous configuration to restore';
              if (restored.code === 0) {
                await restartService(ctx);
                after = await waitUntil(check, o.healthTimeoutMs ?? 15_000).then(
                  () => 'previous configuration restored, broker serving again (failed one kept as mosquitto.conf.failed)',
                  (e: Error) => `previous configuration restored but the broker is still unhealthy: ${e.message}`,
                );
              }
              throw new StepError(`mosquitto did not come back healthy (${(err as Error).message}); ${after}. Broker log:\n${log}`);
            }
            // The new configuration serves: its backup must never be mistaken for "the previous one" later.
            await ctx.transport.script(`rm -f ${BROKER_PATHS.conf}${BACKUP_SUFFIX}`);
            await waitForLoadBalancers(ctx);
          },
        },
      ],
    }),
  };
}
