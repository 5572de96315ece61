import { StepError } from '../../errors.js';
import type { Change, HostContext } from '../../engine/types.js';
import type { FirewalldFacts } from '../../facts/firewall.js';
import { shq } from '../../transport/shell-quote.js';
import { type Rule, describe, family } from './rules.js';

/**
 * firewalld: we own one zone (default `public`), make it the default zone and set its target to DROP
 * (silent drop instead of the default reject). firewalld itself accepts established/related, loopback
 * and ICMP before the zone target; ports from anywhere are zone ports, sourced ones rich rules.
 */
export function richRule(r: Rule, src: string): string {
  // firewalld lists rich rules in exactly this canonical form.
  if (r.proto === 'vrrp') return `rule family="ipv${family(src)}" source address="${src}" protocol value="vrrp" accept`;
  return `rule family="ipv${family(src)}" source address="${src}" port port="${r.port}" protocol="${r.proto}" accept`;
}

export function planFirewalld(ctx: HostContext, f: FirewalldFacts, rules: Rule[], o: { zone: string; keepServices: string[] }): Change[] {
  if (rules.some((r) => r.proto === 'vrrp' && r.sources.length === 0)) throw new StepError('firewalld: VRRP is only opened from given sources (the other load balancers)');
  const ports = rules.filter((r) => r.sources.length === 0).map((r) => `${r.port}/${r.proto}`);
  const rich = rules.flatMap((r) => r.sources.map((s) => richRule(r, s)));
  const p = f.permanent;
  const running = f.state === 'running';
  const fc = running ? `firewall-cmd --permanent --zone=${o.zone}` : `firewall-offline-cmd --zone=${o.zone}`;

  const cmds: string[] = [];
  const what: string[] = [];
  const addPorts = ports.filter((x) => !p.ports.includes(x));
  const addRich = rich.filter((x) => !p.richRules.includes(x));
  const removePorts = p.ports.filter((x) => !ports.includes(x));
  const removeRich = p.richRules.filter((x) => !rich.includes(x));
  const removeServices = p.services.filter((x) => !o.keepServices.includes(x));
  // Additions first: the SSH port is open before anything is taken away.
  for (const x of addPorts) cmds.push(`${fc} --add-port=${x}`);
  for (const x of addRich) cmds.push(`${fc} --add-rich-rule=${shq(x)}`);
  if (addPorts.length || addRich.length) what.push(`allow ${rules.filter((r) => addPorts.includes(`${r.port}/${r.proto}`) || r.sources.some((s) => addRich.includes(richRule(r, s)))).map(describe).join(', ')}`);
  // firewall-offline-cmd's --remove-service is a lokkit option: the zone variant is --remove-service-from-zone.
  for (const x of removeServices) cmds.push(`${fc} --remove-service${running ? '' : '-from-zone'}=${shq(x)}`);
  for (const x of removePorts) cmds.push(`${fc} --remove-port=${shq(x)}`);
  for (const x of removeRich) cmds.push(`${fc} --remove-rich-rule=${shq(x)}`);
  if (removeServices.length || removePorts.length || removeRich.length) what.push(`remove ${[...removeServices.map((s) => `service ${s}`), ...removePorts, ...removeRich.map((r) => `rich rule (${r})`)].join(', ')}`);
  if (p.target !== 'DROP') {
    cmds.push(`${fc} --set-target=DROP`);
    what.push(`target DROP (was ${p.target})`);
  }
  if (f.defaultZone !== o.zone) {
    cmds.push(running ? `firewall-cmd --set-default-zone=${o.zone}` : `firewall-offline-cmd --set-default-zone=${o.zone}`);
    what.push(`default zone ${o.zone} (was ${f.defaultZone || 'unknown'})`);
  }

  const changes: Change[] = [];
  if (cmds.length) changes.push({ summary: `firewalld zone ${o.zone}: ${what.join('; ')}`, actions: [{ script: ['set -e', ...cmds.map((c) => `${c} >/dev/null`)].join('\n') }] });
  if (running) {
    const rt = f.runtime;
    const drift = rt && (!sameSet(rt.ports, p.ports) || !sameSet(rt.richRules, p.richRules) || !sameSet(rt.services, p.services));
    if (cmds.length || drift) changes.push({ summary: `reload firewalld${cmds.length ? '' : ' (runtime differs from permanent configuration)'}`, actions: [{ script: 'firewall-cmd --reload >/dev/null' }] });
    if (f.serviceEnabled !== 'enabled' && ctx.facts.init === 'systemd') changes.push({ summary: 'enable firewalld at boot', actions: [{ script: 'systemctl enable firewalld' }] });
  } else {
    changes.push({ summary: `enable and start firewalld (was ${f.state === 'missing' ? 'not installed' : 'not running'})`, actions: [{ script: 'systemctl enable --now firewalld', timeoutMs: 120_000 }] });
  }
  return changes;
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}
