import type { Change, HostContext, Step } from '../engine/types.js';
import { fileFact } from '../facts/files.js';
import { type ServiceFacts, serviceFact, unitName } from '../facts/service.js';
import { shq } from '../transport/shell-quote.js';
import { planFile } from './file.js';
import { sha256 } from './write-file.js';

export type ServiceState = 'started' | 'stopped' | 'restarted' | 'reloaded';

const RUNNING = new Set(['active', 'activating', 'reloading']);
/** is-enabled answers that need no `systemctl enable` (static units cannot be enabled). */
const ENABLED = new Set(['enabled', 'static', 'indirect', 'generated', 'alias']);
const SERVICE_TIMEOUT_MS = 5 * 60_000;

/**
 * A service enabled/disabled at boot and started/stopped now (systemd, or SysV init scripts when the host
 * has no systemd). `restarted` and `reloaded` always change: handlers use them.
 */
export function service(o: { name: string; enabled?: boolean; state?: ServiceState; tags?: string[]; notify?: string[] }): Step {
  const fact = serviceFact(o.name);
  const what = [o.enabled === undefined ? '' : o.enabled ? 'enabled' : 'disabled', o.state ?? ''].filter(Boolean).join(', ');
  return {
    name: `service ${o.name}${what ? ` ${what}` : ''}`,
    factsOnly: true,
    tags: o.tags,
    notify: o.notify,
    facts: [fact],
    plan: (ctx, facts) => ({ changes: planService(ctx, facts.get(fact), o) }),
  };
}

function planService(ctx: HostContext, f: ServiceFacts, o: { name: string; enabled?: boolean; state?: ServiceState }): Change[] {
  const changes: Change[] = [];
  const sysv = f.init === 'sysv' || ctx.facts.init === 'sysv';
  const name = o.name.replace(/\.service$/, '');
  const unit = shq(unitName(o.name));
  const rc = (verb: string) => (sysv ? `/etc/init.d/${shq(name)} ${verb}` : `systemctl ${verb} ${unit}`);
  const act = (summary: string, script: string): Change => ({ summary, actions: [{ script, timeoutMs: SERVICE_TIMEOUT_MS }] });
  const running = RUNNING.has(f.activeState);

  if (!sysv && f.needDaemonReload) changes.push(act('reload systemd units (unit file changed on disk)', 'systemctl daemon-reload'));

  if (o.enabled === true && !(sysv ? f.enabledState === 'enabled' : ENABLED.has(f.enabledState))) {
    const redhat = ctx.facts.os.family === 'redhat';
    const script = sysv
      ? redhat
        ? `chkconfig --add ${shq(name)} && chkconfig ${shq(name)} on`
        : `update-rc.d ${shq(name)} defaults >/dev/null && update-rc.d ${shq(name)} enable`
      : `${f.enabledState === 'masked' ? `systemctl unmask ${unit} && ` : ''}systemctl enable ${unit}`;
    changes.push(act(`enable ${o.name}${f.enabledState === 'masked' ? ' (unmask)' : ''}`, script));
  } else if (o.enabled === false && (f.enabledState === 'enabled' || f.enabledState === 'enabled-runtime')) {
    const script = sysv ? (ctx.facts.os.family === 'redhat' ? `chkconfig ${shq(name)} off` : `update-rc.d ${shq(name)} disable`) : `systemctl disable ${unit}`;
    changes.push(act(`disable ${o.name}`, script));
  }

  switch (o.state) {
    case 'started':
      if (!running) changes.push(act(`start ${o.name}`, rc('start')));
      break;
    case 'stopped':
      if (running) changes.push(act(`stop ${o.name}`, rc('stop')));
      break;
    case 'restarted':
      changes.push(act(`restart ${o.name}`, rc('restart')));
      break;
    case 'reloaded':
      changes.push(running ? act(`reload ${o.name}`, rc('reload')) : act(`start ${o.name} (was not running, nothing to reload)`, rc('start')));
      break;
  }
  return changes;
}

/** A unit file under /etc/systemd/system; `systemctl daemon-reload` follows when its content changed. */
export function systemdUnit(o: { name: string; content: string; notify?: string[]; tags?: string[] }): Step {
  const unit = unitName(o.name);
  const path = `/etc/systemd/system/${unit}`;
  const data = Buffer.from(o.content, 'utf8');
  const fact = fileFact(path, { wantSha256: sha256(data) });
  return {
    name: `systemd unit ${unit}`,
    factsOnly: true,
    notify: o.notify,
    tags: o.tags,
    facts: [fact],
    plan(ctx, facts) {
      const f = facts.get(fact);
      const changes = planFile(ctx, f, { path, owner: 'root', group: 'root', mode: '0644' }, data);
      const contentChanged = !f.exists || f.sha256 !== sha256(data);
      if (contentChanged && ctx.facts.init === 'systemd' && changes[0]) {
        changes[0].actions?.push({ script: 'systemctl daemon-reload' });
        delete changes[0].affects; // daemon-reload changes what systemd reports about every unit
      }
      return { changes };
    },
  };
}
