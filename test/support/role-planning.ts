/**
 * Planning the site playbook's roles for hosts that cannot run here (Rocky, Debian on another architecture), from
 * recorded fact outputs: every role's phase builder is called with a RoleContext built like `--list-tasks` builds
 * one (nothing is contacted: the transport throws if used) and each step is planned with `planWithRecordedFacts`,
 * which feeds recorded outputs (test/fixtures/recorded/<os>) through the step's own fact parsers.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import base from '../../roles/base/index.js';
import exporter from '../../roles/exporter/index.js';
import firewallRole from '../../roles/firewall/index.js';
import haproxy from '../../roles/haproxy/index.js';
import mosquitto from '../../roles/mosquitto/index.js';
import mosquittoConfig from '../../roles/mosquitto_config/index.js';
import cedaloHa from '../../roles/cedalo_ha/index.js';
import mosquittoRuntime from '../../roles/mosquitto_runtime/index.js';
import mqttAuth from '../../roles/mqtt_auth/index.js';
import pki from '../../roles/pki/index.js';
import { offlinePlayContext, offlineRoleContext, refusingTransport } from '../../src/engine/offline-context.js';
import type { Phase } from '../../src/engine/phase.js';
import type { Play, Playbook } from '../../src/engine/playbook.js';
import { knownVarNames, playSchema } from '../../src/engine/play-vars.js';
import type { Role, RoleContext, Step, StepPlan } from '../../src/engine/types.js';
import { parseHostFacts } from '../../src/facts/gather-host-facts.js';
import type { HostFacts } from '../../src/facts/host-facts.js';
import { loadInventory } from '../../src/inventory/load.js';
import type { Inventory } from '../../src/inventory/types.js';
import { validateHostVars } from '../../src/inventory/validate.js';
import { planWithRecordedFacts, type RecordedOutput } from './recorded-facts.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const PROJECT = join(HERE, '..', '..');
const RECORDED = join(HERE, '..', 'fixtures', 'recorded');

/** The roles of the broker and load balancer plays of playbooks/site.yaml, in play order. */
export const BROKER_ROLES: Role[] = [base, mosquitto, pki, mosquittoConfig, cedaloHa, firewallRole, mosquittoRuntime, mqttAuth, exporter] as unknown as Role[];
export const LB_ROLES: Role[] = [base, haproxy, firewallRole] as unknown as Role[];

// ---------------------------------------------------------------------------------------------------------------
// Recorded outputs (format: test/fixtures/recorded/README.md)

export interface Recording {
  pattern: string;
  stdout: string;
  code: number;
}

/** The recorded outputs of `file` in the fixture's recording directory. */
export function loadRecordings(fx: Fixture, file: string): Recording[] {
  const entries: { pattern: string; code: number; lines: string[] }[] = [];
  for (const line of readFileSync(join(fx.recorded, file), 'utf8').split('\n')) {
    if (line.startsWith('###')) continue;
    const head = /^=== (\S+)(?: exit=(\d+))?$/.exec(line);
    if (head) entries.push({ pattern: head[1]!, code: Number(head[2] ?? 0), lines: [] });
    else entries.at(-1)?.lines.push(line);
  }
  return entries.map((e) => ({ pattern: e.pattern, code: e.code, stdout: `${e.lines.join('\n').replace(/\n+$/, '')}\n` }));
}

/**
 * The recorded output of each fact the step declares (a pattern ending in `*` matches a key prefix). The step's
 * first fact places it in the recording; a fact it shares with earlier steps (the package lists' age) is the last
 * entry up to that place: the host as the changes before the step left it.
 */
export function recordedFor(step: Step, recordings: Recording[]): Record<string, RecordedOutput> {
  const out: Record<string, RecordedOutput> = {};
  const matches = (key: string) => (x: Recording) => (x.pattern.endsWith('*') ? key.startsWith(x.pattern.slice(0, -1)) : key === x.pattern);
  let at = -1;
  for (const q of step.facts ?? []) {
    const first = recordings.findIndex(matches(q.key));
    if (first < 0) throw new Error(`no recorded output for fact "${q.key}" of step "${step.name}"`);
    if (at < 0) at = first;
    const upTo = recordings.slice(0, at + 1).map(matches(q.key)).lastIndexOf(true);
    const r = recordings[upTo >= 0 ? upTo : first]!;
    out[q.key] = { stdout: r.stdout, code: r.code };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// The fixture: an inventory of brokers and load balancers, the two plays, recorded host facts

export interface Fixture {
  inventory: Inventory;
  playbook: Playbook;
  plays: { brokers: Play; loadbalancers: Play };
  facts: Map<string, HostFacts>;
  /** Temporary directory (inventory, exporter binary): removeFixture deletes it. */
  dir: string;
  /** The recording directory (test/fixtures/recorded/<os>). */
  recorded: string;
  /** A fake exporter binary the exporter role copies (`exporter_source: binary`). */
  exporterBinary: string;
}

export interface FixtureOptions {
  /** The directory under test/fixtures/recorded: `debian12`, `rocky9`. */
  os: string;
  /** mqtt_admin_password, mqtt_health_password, exporter_password, verify_password. */
  passwords: Record<string, string>;
  /** Host name → ansible_host. */
  brokers: Record<string, string>;
  loadbalancers: Record<string, string>;
  /** Host name → its recorded host facts file. */
  hostFacts: Record<string, string>;
  /** More `all: vars:` lines of YAML, indented 4 spaces (mqtt_users, …). */
  extraVarsYaml?: string;
}

const hostsYaml = (hosts: Record<string, string>) =>
  Object.entries(hosts)
    .map(([name, address]) => `        ${name}:\n          ansible_host: ${address}`)
    .join('\n');

export async function createFixture(o: FixtureOptions): Promise<Fixture> {
  const recorded = join(RECORDED, o.os);
  const dir = mkdtempSync(join(tmpdir(), `provision-roles-${o.os}-`));
  const exporterBinary = join(dir, 'mosquitto_exporter');
  writeFileSync(exporterBinary, Buffer.from('\x7fELF fake exporter binary for planning\n'), { mode: 0o755 });
  const inventoryFile = join(dir, 'inventory.yml');
  writeFileSync(
    inventoryFile,
    `all:
  vars:
    prometheus_cidr: [10.0.0.0/8]
    exporter_source: binary
    exporter_binary: ${exporterBinary}
${Object.entries(o.passwords)
  .map(([k, v]) => `    ${k}: ${v}`)
  .join('\n')}
${o.extraVarsYaml ?? ''}
  children:
    brokers:
      hosts:
${hostsYaml(o.brokers)}
    loadbalancers:
      hosts:
${hostsYaml(o.loadbalancers)}
`,
  );
  const inventory = await loadInventory([inventoryFile]);
  const brokers: Play = { name: 'Mosquitto brokers', hosts: 'brokers', roles: BROKER_ROLES.map((role) => ({ role, tags: [] })), serial: [], file: 'site.yaml', line: 3 };
  const loadbalancers: Play = { name: 'Load balancers', hosts: 'loadbalancers', roles: LB_ROLES.map((role) => ({ role, tags: [] })), serial: [], file: 'site.yaml', line: 15 };
  const facts = new Map(Object.entries(o.hostFacts).map(([host, file]) => [host, parseHostFacts(host, readFileSync(join(recorded, file), 'utf8'))] as const));
  return { inventory, playbook: { file: 'site.yaml', plays: [brokers, loadbalancers] }, plays: { brokers, loadbalancers }, facts, dir, recorded, exporterBinary };
}

export function removeFixture(fx: Fixture | undefined): void {
  if (fx?.dir) rmSync(fx.dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------------------------
// Building and planning steps

/** The RoleContext the runner would give `host` in this play and phase, without a connection. */
export function roleContext(fx: Fixture, play: Play, host: string, phase: Phase, o: { sshPort?: number; check?: boolean } = {}): RoleContext<Record<string, unknown>> {
  const inv = fx.inventory;
  const vars = validateHostVars(inv.hosts.get(host)!, playSchema(play), { inventoryFile: inv.files[0]!, knownNames: knownVarNames(fx.playbook) });
  const transport = refusingTransport(host, { sshPort: o.sshPort });
  const playCtx = offlinePlayContext({
    name: play.name,
    hosts: inv.selectHosts(play.hosts),
    inventory: inv,
    facts: (h) => fx.facts.get(h),
    transport: (h) => (h === host ? transport : undefined),
    check: o.check,
    projectDir: PROJECT,
  });
  return offlineRoleContext({ host, facts: fx.facts.get(host)!, vars, play: playCtx, phase, transport });
}

export interface BuiltStep {
  role: string;
  step: Step;
}

/** Every step the play's roles build for this host and phase, in play order (what the runner would run). */
export async function phaseSteps(fx: Fixture, play: Play, host: string, phase: Phase, o: { sshPort?: number } = {}): Promise<BuiltStep[]> {
  const ctx = roleContext(fx, play, host, phase, o);
  const out: BuiltStep[] = [];
  for (const { role } of play.roles) {
    const build = role.phases[phase];
    if (!build) continue;
    for (const step of await build(ctx as never)) out.push({ role: role.name, step });
  }
  return out;
}

export interface PlannedStep {
  role: string;
  name: string;
  plan: StepPlan;
  step: Step;
}

/** Plans every built step against a recording set of the fixture; returns role, step name and plan, in order. */
export async function planAll(fx: Fixture, steps: BuiltStep[], host: string, recordingsFile: string, o: { sshPort?: number } = {}): Promise<PlannedStep[]> {
  const recordings = loadRecordings(fx, recordingsFile);
  const out: PlannedStep[] = [];
  for (const { role, step } of steps) {
    const plan = await planWithRecordedFacts(step, fx.facts.get(host)!, recordedFor(step, recordings), { hostName: host, sshPort: o.sshPort ?? 22 });
    out.push({ role, name: step.name, plan, step });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Reading plans

export function changesOf(p: StepPlan) {
  if (!('changes' in p)) throw new Error(`expected changes, got skip: ${p.skip}`);
  return p.changes;
}

/** The scripts and commands of a plan's actions, in order. */
export const scripts = (p: StepPlan): string[] => changesOf(p).flatMap((c) => (c.actions ?? []).map((a) => ('script' in a ? a.script : a.command)));
export const summaries = (p: StepPlan): string[] => changesOf(p).map((c) => c.summary);

/** The content a writeFileActions script puts in place (it travels base64-encoded inside the script). */
export function writtenContent(script: string): string {
  const m = /printf '%s' '?([A-Za-z0-9+/=]+)'? \| base64 -d > "\$t"/.exec(script);
  if (!m) throw new Error(`not a file write:\n${script}`);
  return Buffer.from(m[1]!, 'base64').toString('utf8');
}

/** The script of a writeFileActions write minus its base64 payload. */
export function writeSkeleton(script: string): string {
  return script.replace(/printf '%s' '?[A-Za-z0-9+/=]+'? \| base64 -d > "\$t"/, `printf '%s' <content> | base64 -d > "$t"`);
}
