/**
 * The engine with an in-memory transport: fact batching and round trips, check mode, handlers (plain and rolling),
 * failures, run-once, serial batches and max_fail_percentage, tags, unreachable hosts, exit codes and secrets.
 *
 * The fake transport answers the host-facts script with a Debian 12 host, splits the engine's fact batch into its
 * queries and answers each from a per-host key/value store, and interprets a tiny action language:
 * `set K V` (store), `fail CODE MESSAGE` (non-zero exit with MESSAGE on stderr); anything else succeeds.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { EXIT, exitCodeForReport } from '../../../src/cli/exit-codes.js';
import { batchExceedsFailures, serialBatches } from '../../../src/engine/batches.js';
import type { Phase } from '../../../src/engine/phase.js';
import type { Play, Playbook } from '../../../src/engine/playbook.js';
import type { RunReport, StepRecord } from '../../../src/engine/records.js';
import { fanOut, type RunEvents } from '../../../src/engine/reporter.js';
import { runPlaybook } from '../../../src/engine/runner.js';
import { stepUnit } from '../../../src/engine/phase-units.js';
import { RunLog } from '../../../src/engine/run-log.js';
import { runSteps, type StepRunEnv } from '../../../src/engine/step-runner.js';
import { defineRole, type FactQuery, type HostContext, type Role, type RunOptions, type Step } from '../../../src/engine/types.js';
import { BecomeError, ControllerError, UnreachableError } from '../../../src/errors.js';
import { renderRecap } from '../../../src/output/recap.js';
import { HOST_FACTS_SCRIPT, parseHostFacts } from '../../../src/facts/gather-host-facts.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { zSecret } from '../../../src/inventory/schema.js';
import type { Inventory, InventoryHost } from '../../../src/inventory/types.js';
import { offlineContext } from '../../support/recorded-facts.js';
import { MASK, Secret } from '../../../src/secrets.js';
import { SUDO_PROMPT, SudoHandshake } from '../../../src/transport/sudo.js';
import type { ExecOptions, ExecResult, Transport } from '../../../src/transport/types.js';

const PROJECT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

// ---------------------------------------------------------------------------------------------------------------
// Fake transport

const hostFactsOutput = (host: string, n: number) =>
  [
    'os_id=debian',
    'os_version=12',
    'os_pretty=Debian GNU/Linux 12 (bookworm)',
    'arch=x86_64',
    `hostname=${host}`,
    `fqdn=${host}`,
    'multiarch=x86_64-linux-gnu',
    'init=systemd',
    'pm=apt',
    'fw_nft=1',
    'user=root',
    `primary=10.0.0.${n}`,
    `addr=10.0.0.${n}/24`,
    '',
  ].join('\n');

type Call = { kind: 'host-facts' } | { kind: 'facts'; keys: string[] } | { kind: 'script'; text: string } | { kind: 'exec'; text: string };

/** Shared across hosts: how many matching action scripts run at once (rolling handlers must never overlap). */
class Concurrency {
  active = 0;
  max = 0;
  constructor(readonly matches: (script: string) => boolean = () => true) {}
}

class FakeHost implements Transport {
  readonly sshPort = 22;
  roundTrips = 0;
  calls: Call[] = [];
  closed = false;
  /** Fact name → its stdout. */
  readonly store = new Map<string, string>();
  /** Extra behaviour for scripts (the host-facts script and fact batches excepted). */
  onScript?: (text: string) => Partial<ExecResult> | undefined;
  /** Thrown from the host-facts script (a connection that drops right after connecting). */
  hostFactsError?: Error;
  constructor(
    readonly host: string,
    private readonly n: number,
    private readonly concurrency?: Concurrency,
    private readonly delayMs = 0,
  ) {}

  async exec(command: string, _opts?: ExecOptions): Promise<ExecResult> {
    this.roundTrips++;
    this.calls.push({ kind: 'exec', text: command });
    return { stdout: '', stderr: '', code: 0 };
  }

  async script(text: string): Promise<ExecResult> {
    this.roundTrips++;
    if (text === HOST_FACTS_SCRIPT) {
      this.calls.push({ kind: 'host-facts' });
      if (this.hostFactsError) throw this.hostFactsError;
      const out = hostFactsOutput(this.host, this.n);
      const primary = this.store.get('primary');
      const user = this.store.get('user');
      const withUser = user ? out.replace(/^user=.*$/m, `user=${user}`) : out;
      return { stdout: primary ? withUser.replace(/^primary=.*$/m, `primary=${primary}`) : withUser, stderr: '', code: 0 };
    }
    const batch = [...text.matchAll(/printf '\\n@@([0-9a-f]+) %d\\n' (\d+)\n\( ([\s\S]*?)\n\) <\/dev\/null 2>\/dev\/null\nprintf '\\n@@\1 end %d %d\\n' \2 \$\?/g)];
    if (batch.length) {
      const keys: string[] = [];
      let stdout = '';
      for (const m of batch) {
        const key = /^cat \/facts\/(\S+)$/.exec(m[3]!)?.[1] ?? m[3]!;
        keys.push(key);
        const value = this.store.get(key);
        stdout += `\n@@${m[1]} ${m[2]}\n${value === undefined ? '' : `${value}\n`}\n@@${m[1]} end ${m[2]} 0\n`;
      }
      this.calls.push({ kind: 'facts', keys });
      return { stdout, stderr: '', code: 0 };
    }
    this.calls.push({ kind: 'script', text });
    const counted = this.concurrency?.matches(text) ? this.concurrency : undefined;
    if (counted) {
      counted.active++;
      counted.max = Math.max(counted.max, counted.active);
    }
    try {
      if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
      const custom = this.onScript?.(text);
      if (custom) return { stdout: '', stderr: '', code: 0, ...custom };
      const set = /^set (\S+) (.*)$/.exec(text);
      if (set) this.store.set(set[1]!, set[2]!);
      const fail = /^fail (\d+) ([\s\S]*)$/.exec(text);
      if (fail) return { stdout: '', stderr: fail[2]!, code: Number(fail[1]) };
      return { stdout: '', stderr: '', code: 0 };
    } finally {
      if (counted) counted.active--;
    }
  }

  async forward(): Promise<never> {
    throw new Error('no forwards in these tests');
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  scripts(): string[] {
    return this.calls.flatMap((c) => (c.kind === 'script' || c.kind === 'exec' ? [c.text] : []));
  }
  factBatches(): string[][] {
    return this.calls.flatMap((c) => (c.kind === 'facts' ? [c.keys] : []));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Steps and roles for the tests

/** A fact read from the fake host's store (`cat /facts/NAME`). */
const fact = (name: string): FactQuery<string> => ({ key: name, script: `cat /facts/${name}`, parse: (out) => out.trim() });

/** Wants fact `name` to hold `value`; sets it when it does not. */
function ensure(name: string, value: string, o: Partial<Step> = {}): Step {
  const f = fact(name);
  return {
    name: `ensure ${name}=${value}`,
    facts: [f],
    plan: (_ctx, facts) => (facts.get(f) === value ? { changes: [] } : { changes: [{ summary: `set ${name} to ${value}`, actions: [{ script: `set ${name} ${value}` }] }] }),
    ...o,
  };
}

/** Always changes, running `script` (default: `echo NAME`). */
function action(name: string, o: Partial<Step> & { script?: string } = {}): Step {
  const { script, ...rest } = o;
  return { name, plan: () => ({ changes: [{ summary: `run ${name}`, actions: [{ script: script ?? `echo ${name}` }] }] }), ...rest };
}

/** Reads facts and reports what it saw, without changing anything. */
function observe(name: string, ...names: string[]): Step {
  const qs = names.map(fact);
  return { name, facts: qs, plan: (_c, facts) => ({ changes: [], message: qs.map((q) => `${q.key}=${facts.get(q)}`).join(' ') }) };
}

const noVars = z.object({});

function role(name: string, phases: Role['phases'], handlers?: Role['handlers']): Role {
  return defineRole({ name, description: `test role ${name}`, vars: noVars, phases, ...(handlers ? { handlers } : {}) }) as Role;
}

function play(name: string, hosts: string, roles: (Role | { role: Role; tags: string[] })[], o: { serial?: (number | string)[]; maxFailPercentage?: number } = {}): Play {
  return {
    name,
    hosts,
    roles: roles.map((r) => ('role' in r && 'tags' in r && !('phases' in r) ? r : { role: r as Role, tags: [] })),
    serial: o.serial ?? [],
    ...(o.maxFailPercentage !== undefined ? { maxFailPercentage: o.maxFailPercentage } : {}),
    file: '<memory>',
    line: 1,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Running a playbook

let tmp: string;
const inventories = new Map<string, Inventory>();

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'provision-engine-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

async function inventory(yaml: string): Promise<Inventory> {
  const cached = inventories.get(yaml);
  if (cached) return cached;
  const file = join(tmp, `inventory-${inventories.size}.yml`);
  writeFileSync(file, yaml);
  const inv = await loadInventory([file]);
  inventories.set(yaml, inv);
  return inv;
}

const FOUR_HOSTS = `all:
  children:
    web:
      hosts:
        h1:
        h2:
        h3:
        h4:
    db:
      hosts:
        d1:
`;

interface RunResult {
  report: RunReport;
  hosts: Map<string, FakeHost>;
  events: { name: string; args: unknown[] }[];
  byHost(host: string): StepRecord[];
}

async function run(
  playbook: Playbook | Play[],
  o: {
    inventoryYaml?: string;
    phases?: Phase[];
    options?: Partial<RunOptions>;
    unreachable?: string[];
    setup?: (h: FakeHost) => void;
    concurrency?: Concurrency;
    delayMs?: number;
    limit?: string;
  } = {},
): Promise<RunResult> {
  const inv = await inventory(o.inventoryYaml ?? FOUR_HOSTS);
  const hosts = new Map<string, FakeHost>();
  const events: { name: string; args: unknown[] }[] = [];
  const recorder = new Proxy({} as RunEvents, { get: (_t, name: string) => (...args: unknown[]) => events.push({ name, args }) });
  const report = await runPlaybook({
    inventory: inv,
    playbook: Array.isArray(playbook) ? { file: '<memory>', plays: playbook } : playbook,
    phases: o.phases ?? ['build', 'configure', 'runtime', 'cluster'],
    ...(o.limit ? { limit: o.limit } : {}),
    options: { check: false, diff: false, forks: 10, tags: [], skipTags: [], verbose: false, ...o.options },
    events: fanOut([recorder]),
    connect: async (host: InventoryHost) => {
      if (o.unreachable?.includes(host.name)) throw new UnreachableError(host.name, 'connect ECONNREFUSED 10.0.0.99:22');
      const t = new FakeHost(host.name, inv.hostOrder.indexOf(host.name) + 1, o.concurrency, o.delayMs ?? 0);
      o.setup?.(t);
      hosts.set(host.name, t);
      return t;
    },
    version: 'test',
    projectDir: PROJECT,
  });
  return { report, hosts, events, byHost: (h) => report.steps.filter((s) => s.host === h) };
}

const summaryOf = (r: RunReport, host: string) => r.hosts.find((h) => h.host === host)!;

// ---------------------------------------------------------------------------------------------------------------
// runSteps directly

/** The step loop's env for host h1 (every test here runs on h1); `records` are the host's run record's. */
function stepEnv(): StepRunEnv & { notified: string[]; records: StepRecord[] } {
  const notified: string[] = [];
  const run = new RunLog(['h1'], fanOut([]));
  const host = run.host('h1');
  return { play: 'p', phase: 'configure', events: fanOut([]), host, run, records: host.records, notify: (h) => notified.push(h), notified };
}

function ctxFor(t: FakeHost, check = false): HostContext {
  return { ...offlineContext(parseHostFacts(t.host, hostFactsOutput(t.host, 1)), { check, hostName: t.host }), transport: t };
}

describe('runSteps: facts and round trips', () => {
  it('gathers the facts of every step in ONE round trip (identical keys once); a phase with nothing to do costs exactly 1', async () => {
    const t = new FakeHost('h1', 1);
    for (const [k, v] of [['a', '1'], ['b', '2'], ['c', '3']]) t.store.set(k!, v!);
    const env = stepEnv();
    const steps = [ensure('a', '1'), { name: 'no facts', plan: () => ({ changes: [] }) }, ensure('b', '2'), observe('both', 'a', 'c')];
    expect(await runSteps(ctxFor(t), steps.map((step) => stepUnit(step, 'r', 'configure')), env)).toBeUndefined();
    expect(t.roundTrips).toBe(1);
    expect(t.factBatches()).toEqual([['a', 'b', 'c']]);
    expect(env.records.map((r) => [r.step, r.status])).toEqual([
      ['ensure a=1', 'ok'],
      ['no facts', 'ok'],
      ['ensure b=2', 'ok'],
      ['both', 'ok'],
    ]);
  });

  it('a phase without any fact costs no round trip when nothing changes', async () => {
    const t = new FakeHost('h1', 1);
    const env = stepEnv();
    await runSteps(ctxFor(t), [stepUnit({ name: 'pure', plan: () => ({ changes: [] }) }, 'r', 'configure')], env);
    expect(t.roundTrips).toBe(0);
  });

  it('after a change, the next step with facts gathers again (its own and later steps\' facts) and sees the new state', async () => {
    const t = new FakeHost('h1', 1);
    t.store.set('a', 'old');
    t.store.set('c', 'before');
    const env = stepEnv();
    const steps: Step[] = [
      ensure('a', 'new'),
      { name: 'no facts after the change', plan: () => ({ changes: [] }) },
      action('touch c', { script: 'set c after' }),
      observe('sees c', 'c'),
      observe('sees a', 'a'),
    ];
    await runSteps(ctxFor(t), steps.map((step) => stepUnit(step, 'r', 'configure')), env);
    expect(t.calls).toEqual([
      { kind: 'facts', keys: ['a', 'c'] },
      { kind: 'script', text: 'set a new' },
      { kind: 'script', text: 'set c after' },
      { kind: 'facts', keys: ['c', 'a'] },
    ]);
    expect(env.records.find((r) => r.step === 'sees c')!.message).toBe('c=after');
    expect(env.records.find((r) => r.step === 'sees a')!.message).toBe('a=new');
    expect(t.roundTrips).toBe(4);
  });

  it('check mode runs no action, no verify, no re-gathering — and still reports the change and notifies', async () => {
    const t = new FakeHost('h1', 1);
    t.store.set('a', 'old');
    const env = stepEnv();
    let verified = false;
    const steps: Step[] = [
      ensure('a', 'new', { notify: ['restart x'], verify: async () => void (verified = true) }),
      action('always', { notify: ['restart y'] }),
      observe('sees a', 'a'),
    ];
    expect(await runSteps(ctxFor(t, true), steps.map((step) => stepUnit(step, 'r', 'configure')), env)).toBeUndefined();
    expect(t.calls).toEqual([{ kind: 'facts', keys: ['a'] }]);
    expect(verified).toBe(false);
    expect(env.records.map((r) => [r.step, r.status, r.changes])).toEqual([
      ['ensure a=new', 'changed', ['set a to new']],
      ['always', 'changed', ['run always']],
      ['sees a', 'ok', undefined],
    ]);
    expect(env.notified).toEqual(['restart x', 'restart y']);
  });

  it('a failing action stops the host\'s later steps and is recorded with its exit code and stderr', async () => {
    const t = new FakeHost('h1', 1);
    const env = stepEnv();
    const steps = [action('breaks', { script: 'fail 3 disk full' }), action('never')];
    expect(await runSteps(ctxFor(t), steps.map((step) => stepUnit(step, 'r', 'configure')), env)).toMatchObject({ state: 'failed' });
    expect(t.scripts()).toEqual(['fail 3 disk full']);
    expect(env.records).toHaveLength(1);
    expect(env.records[0]).toMatchObject({ step: 'breaks', status: 'failed', changed: false });
    expect(env.records[0]!.message).toContain('exit 3');
    expect(env.records[0]!.message).toContain('disk full');
  });

  it('an action exit code listed in okCodes is not a failure', async () => {
    const t = new FakeHost('h1', 1);
    const env = stepEnv();
    const step: Step = { name: 'grep-like', plan: () => ({ changes: [{ summary: 'x', actions: [{ script: 'fail 1 nothing matched', okCodes: [0, 1] }] }] }) };
    expect(await runSteps(ctxFor(t), [stepUnit(step, 'r', 'configure')], env)).toBeUndefined();
    expect(env.records[0]!.status).toBe('changed');
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('runPlaybook: round trips and check mode', () => {
  const converge = role('converge', {
    build: () => [ensure('pkg', 'installed'), ensure('lists', 'fresh')],
    configure: () => [ensure('conf', 'v2'), observe('after', 'conf')],
  });

  it('a run where nothing changes costs 1 round trip for the host facts plus 1 per phase', async () => {
    const r = await run([play('p', 'web', [converge])], {
      setup: (h) => {
        h.store.set('pkg', 'installed');
        h.store.set('lists', 'fresh');
        h.store.set('conf', 'v2');
      },
    });
    expect(exitCodeForReport(r.report)).toBe(EXIT.ok);
    for (const h of ['h1', 'h2', 'h3', 'h4']) {
      expect(summaryOf(r.report, h)).toMatchObject({ roundTrips: 3, changed: 0, ok: 4, failed: 0, state: 'ok' });
      expect(r.hosts.get(h)!.calls.map((c) => c.kind)).toEqual(['host-facts', 'facts', 'facts']);
      expect(r.hosts.get(h)!.closed).toBe(true);
    }
    expect(r.hosts.has('d1')).toBe(false); // not in the play: never connected
  });

  it('check mode on a fresh host: every change reported, no action sent anywhere, exit 0', async () => {
    const r = await run([play('p', 'web', [converge])], { options: { check: true } });
    expect(r.report.check).toBe(true);
    for (const h of ['h1', 'h2', 'h3', 'h4']) {
      expect(r.hosts.get(h)!.scripts()).toEqual([]);
      expect(summaryOf(r.report, h)).toMatchObject({ changed: 3, roundTrips: 3 });
    }
    expect(exitCodeForReport(r.report)).toBe(EXIT.ok);
  });
});

describe('runPlaybook: host facts', () => {
  it('a step marked refreshesHostFacts gathers the host facts again after its change; later steps see them', async () => {
    const seen: string[] = [];
    const r1 = role('net', {
      configure: (ctx) => [
        action('add an address', { script: 'set primary 192.0.2.7', refreshesHostFacts: true }),
        { name: 'reads', plan: () => (seen.push(ctx.facts.primaryAddress), { changes: [] }) },
      ],
    });
    const r = await run([play('p', 'h1', [r1])], { phases: ['configure'] });
    expect(r.hosts.get('h1')!.calls.map((c) => c.kind)).toEqual(['host-facts', 'script', 'host-facts']);
    expect(seen).toEqual(['192.0.2.7']);
  });
});

describe('runPlaybook: handlers', () => {
  it('run once per host at the end of the phase, in definition order, however many steps notified them', async () => {
    const r1 = role(
      'r1',
      {
        configure: () => [
          action('s1', { notify: ['restart a'] }),
          action('s2', { notify: ['restart b'] }),
          action('s3', { notify: ['restart a', 'restart b'] }),
        ],
        runtime: () => [action('later phase')],
      },
      // Defined b before a: definition order, not notification order, decides.
      { 'restart b': { steps: () => [action('handler b')] }, 'restart a': { steps: () => [action('handler a')] } },
    );
    const r2 = role('r2', { configure: () => [action('s4', { notify: ['restart c'] })] }, { 'restart c': { steps: () => [action('handler c')] } });
    const r = await run([play('p', 'h1,h2', [r1, r2])], { phases: ['configure', 'runtime'] });
    for (const h of ['h1', 'h2']) {
      expect(r.hosts.get(h)!.scripts()).toEqual(['echo s1', 'echo s2', 'echo s3', 'echo s4', 'echo handler b', 'echo handler a', 'echo handler c', 'echo later phase']);
      expect(r.byHost(h).filter((s) => s.kind === 'handler').map((s) => [s.role, s.step, s.phase])).toEqual([
        ['r1', 'handler b', 'configure'],
        ['r1', 'handler a', 'configure'],
        ['r2', 'handler c', 'configure'],
      ]);
    }
  });

  it('are not run for a host whose handler-notifying step did not change anything', async () => {
    const r1 = role('r1', { configure: () => [ensure('conf', 'v1', { notify: ['restart'] })] }, { restart: { steps: () => [action('restart it')] } });
    const r = await run([play('p', 'h1,h2', [r1])], { phases: ['configure'], setup: (h) => h.host === 'h2' && h.store.set('conf', 'v1') });
    expect(r.hosts.get('h1')!.scripts()).toEqual(['set conf v1', 'echo restart it']);
    expect(r.hosts.get('h2')!.scripts()).toEqual([]);
  });

  it('plain handlers run on the hosts in parallel', async () => {
    const c = new Concurrency((t) => t === 'echo restart it');
    const r1 = role('r1', { configure: () => [{ ...ensure('x', '1'), notify: ['restart'] }] }, { restart: { steps: () => [action('restart it')] } });
    await run([play('p', 'web', [r1])], { phases: ['configure'], concurrency: c, delayMs: 30 });
    expect(c.max).toBeGreaterThan(1);
  });

  it('rolling handlers run host by host in inventory order and the first failure stops the rollout (others skipped, with why)', async () => {
    const r1 = role(
      'r1',
      { configure: () => [action('change', { script: 'set conf v2', notify: ['restart'] })] },
      { restart: { rolling: true, steps: (ctx) => [action('restart it', { script: `restart ${ctx.name}` })] } },
    );
    const r = await run([play('p', 'web', [r1])], {
      phases: ['configure'],
      setup: (h) => {
        h.onScript = (text) => (text === 'restart h2' ? { code: 1, stderr: 'broker did not come back' } : undefined);
      },
    });
    // 'set conf v2' runs on the four hosts in parallel; the restarts never overlap.
    const restarts = [...r.hosts.values()].flatMap((h) => h.scripts().filter((s) => s.startsWith('restart ')));
    expect(restarts).toEqual(['restart h1', 'restart h2']);
    const handlerRecords = r.report.steps.filter((s) => s.role === 'r1' && s.kind === 'handler');
    expect(handlerRecords.map((s) => [s.host, s.status])).toEqual([
      ['h1', 'changed'],
      ['h2', 'failed'],
      ['h3', 'skipped'],
      ['h4', 'skipped'],
    ]);
    expect(handlerRecords[2]!.message).toMatch(/^rollout stopped: h2 failed/);
    // The hosts still queued are told whose turn it is (the progress must not look like a parallel restart).
    const order = r.events.filter((e) => e.name === 'stepProgress' || (e.name === 'stepStart' && e.args[2] === 'r1 (handler)')).map((e) => `${e.name === 'stepStart' ? 'start' : 'wait'} ${e.args[0]}${e.name === 'stepProgress' ? `: ${e.args[1]}` : ''}`);
    expect(order).toEqual([
      'wait h2: waiting for its turn (restart: h1 now, 1 of 4)',
      'wait h3: waiting for its turn (restart: h1 now, 1 of 4)',
      'wait h4: waiting for its turn (restart: h1 now, 1 of 4)',
      'start h1',
      'wait h3: waiting for its turn (restart: h2 now, 2 of 4)',
      'wait h4: waiting for its turn (restart: h2 now, 2 of 4)',
      'start h2',
    ]);
    expect(summaryOf(r.report, 'h2').state).toBe('failed');
    expect(summaryOf(r.report, 'h3').state).toBe('ok');
    expect(exitCodeForReport(r.report)).toBe(EXIT.failed);
  });

  it('rolling handlers never overlap: each host\'s restart ends before the next one starts (plain handlers would overlap)', async () => {
    const c = new Concurrency((t) => t.startsWith('restart '));
    const r1 = role('r1', { configure: () => [action('change', { script: 'true', notify: ['restart'] })] }, { restart: { rolling: true, steps: (ctx) => [action('restart it', { script: `restart ${ctx.name}` })] } });
    const r = await run([play('p', 'web', [r1])], { phases: ['configure'], concurrency: c, delayMs: 15 });
    expect(c.max).toBe(1);
    const order = r.events.filter((e) => e.name === 'stepEnd' && (e.args[0] as StepRecord).role === 'r1' && (e.args[0] as StepRecord).kind === 'handler').map((e) => (e.args[0] as StepRecord).host);
    expect(order).toEqual(['h1', 'h2', 'h3', 'h4']);
    expect(exitCodeForReport(r.report)).toBe(EXIT.ok);
  });

  it('in check mode, notified handlers are planned and reported but run nothing', async () => {
    const r1 = role('r1', { configure: () => [action('change', { notify: ['restart'] })] }, { restart: { rolling: true, steps: () => [action('restart it')] } });
    const r = await run([play('p', 'h1,h2', [r1])], { phases: ['configure'], options: { check: true } });
    for (const h of ['h1', 'h2']) {
      expect(r.hosts.get(h)!.scripts()).toEqual([]);
      expect(r.byHost(h).map((s) => [s.role, s.kind, s.step, s.status])).toEqual([
        ['r1', undefined, 'change', 'changed'],
        ['r1', 'handler', 'restart it', 'changed'],
      ]);
    }
  });

  it('notifying a handler no role defines fails the host (state and exit code), not only a record', async () => {
    const r1 = role('r1', { configure: () => [action('s', { notify: ['restart nothing'] })], runtime: () => [action('runtime step')] });
    const r = await run([play('p', 'h1', [r1])], { phases: ['configure', 'runtime'] });
    const rec = r.byHost('h1').find((s) => s.step === 'notify restart nothing')!;
    expect(rec).toMatchObject({ status: 'failed' });
    expect(rec.message).toContain("no role of play 'p' defines a handler named 'restart nothing'");
    // A failed record with a host still 'ok' makes the run exit 0 and lets the host continue.
    expect(summaryOf(r.report, 'h1').state).toBe('failed');
    expect(exitCodeForReport(r.report)).toBe(EXIT.failed);
  });
});

describe('runPlaybook: failures', () => {
  it('a failing host stops its own steps and phases; the others go on; exit 2', async () => {
    const r1 = role('r1', {
      build: () => [action('s1', { script: 'placeholder' }), action('s2')],
      configure: () => [action('s3')],
    });
    const r = await run([play('p', 'h1,h2,h3', [r1])], {
      phases: ['build', 'configure'],
      setup: (h) => {
        h.onScript = (text) => (text === 'placeholder' ? (h.host === 'h1' ? { code: 2, stderr: 'no space left on device' } : {}) : undefined);
      },
    });
    expect(r.hosts.get('h1')!.scripts()).toEqual(['placeholder']);
    expect(r.hosts.get('h2')!.scripts()).toEqual(['placeholder', 'echo s2', 'echo s3']);
    expect(r.byHost('h1').map((s) => [s.step, s.status])).toEqual([['s1', 'failed']]);
    expect(summaryOf(r.report, 'h1')).toMatchObject({ state: 'failed', failed: 1, ok: 0 });
    expect(summaryOf(r.report, 'h1').error).toMatch(/^r1: s1: command failed \(exit 2\)/);
    expect(summaryOf(r.report, 'h2')).toMatchObject({ state: 'ok', changed: 3 });
    expect(exitCodeForReport(r.report)).toBe(EXIT.failed);
  });

  it('a controller failure every host shares (the exporter build) is reported once, as the controller\'s; each host only points at it', async () => {
    // One build for all hosts, as roles/exporter/binary.ts does: the same rejected promise for every host.
    let build: Promise<string> | undefined;
    const controllerBuild = () =>
      (build ??= Promise.reject(new Error('go build of github.com/sapcc/mosquitto-exporter failed: cannot find package'))).catch((err: unknown) => {
        throw new ControllerError('exporter build', err);
      });
    const r1 = role('exporter', {
      build: () => [{ name: 'upload binary', plan: async () => ({ changes: [{ summary: `upload ${await controllerBuild()}` }] }) }, action('after')],
    });
    const r = await run([play('p', 'h1,h2,h3', [r1])], { phases: ['build'] });
    const full = 'controller: exporter build failed: go build of github.com/sapcc/mosquitto-exporter failed: cannot find package';
    const controller = r.report.steps.filter((s) => s.controller);
    expect(controller).toEqual([expect.objectContaining({ host: 'controller', role: 'exporter', step: 'upload binary', status: 'failed', message: full })]);
    for (const h of ['h1', 'h2', 'h3']) {
      expect(r.byHost(h).map((s) => [s.step, s.status, s.message])).toEqual([['upload binary', 'failed', "the controller's exporter build failed (reported once, as the controller's)"]]);
      expect(summaryOf(r.report, h)).toMatchObject({ state: 'failed', failed: 1 });
    }
    expect(r.report.hosts.map((h) => h.host)).toEqual(['h1', 'h2', 'h3']);
    const recap = renderRecap(r.report);
    expect(recap.split(full).length - 1).toBe(1);
    expect(recap).toContain('CONTROLLER FAILED');
    expect(JSON.stringify(r.report).split('cannot find package').length - 1).toBe(1);
    expect(exitCodeForReport(r.report)).toBe(EXIT.failed);
  });

  it('an exception while building a role\'s steps fails that host only ("planning")', async () => {
    const r1 = role('r1', {
      build: (ctx) => {
        if (ctx.name === 'h2') throw new Error('cannot render the template');
        return [action('s1')];
      },
    });
    const r = await run([play('p', 'h1,h2', [r1])], { phases: ['build'] });
    expect(r.byHost('h2')).toMatchObject([{ step: 'planning', status: 'failed', message: 'cannot render the template' }]);
    expect(summaryOf(r.report, 'h2').state).toBe('failed');
    expect(r.hosts.get('h1')!.scripts()).toEqual(['echo s1']);
  });
});

describe('runPlaybook: unreachable hosts', () => {
  const r1 = role('r1', { build: () => [action('s1')] });

  it('a host whose connection fails is unreachable: counted, never used, exit 3 when nothing failed', async () => {
    const r = await run([play('p', 'h1,h2', [r1])], { unreachable: ['h2'], phases: ['build'] });
    expect(summaryOf(r.report, 'h2')).toMatchObject({ state: 'unreachable', unreachable: 1, failed: 0, ok: 0, roundTrips: 0 });
    // Once, without the host's own name in front of it a second time (the record and every renderer name the host).
    expect(summaryOf(r.report, 'h2').error).toBe('unreachable: connect ECONNREFUSED 10.0.0.99:22');
    expect(r.events.filter((e) => e.name === 'hostConnectFailed').map((e) => e.args)).toEqual([['h2', 'unreachable: connect ECONNREFUSED 10.0.0.99:22', 'unreachable']]);
    expect(r.byHost('h2')).toMatchObject([{ kind: 'connect', status: 'unreachable' }]);
    expect(r.hosts.has('h2')).toBe(false);
    expect(r.hosts.get('h1')!.scripts()).toEqual(['echo s1']);
    expect(exitCodeForReport(r.report)).toBe(EXIT.unreachable);
  });

  it('commands that would not run as root (a sudo user without become): the host fails before planning, with the fix; --check reports no plan', async () => {
    for (const check of [false, true]) {
      const r = await run([play('p', 'h1,h2', [r1])], { phases: ['build'], options: { check }, setup: (h) => h.host === 'h2' && h.store.set('user', 'admin') });
      expect(summaryOf(r.report, 'h2')).toMatchObject({ state: 'failed', changed: 0 });
      expect(summaryOf(r.report, 'h2').error).toContain("commands run as 'admin', not root: set ansible_become: true (or connect as root)");
      expect(r.byHost('h2').map((s) => s.step)).toEqual(['connect and gather facts']);
      expect(r.hosts.get('h2')!.scripts()).toEqual([]);
      expect(summaryOf(r.report, 'h1').state).toBe('ok');
      expect(exitCodeForReport(r.report)).toBe(EXIT.failed);
    }
  });

  it('a failed host outranks an unreachable one: exit 2', async () => {
    const failing = role('failing', { build: () => [action('s1', { script: 'fail 1 boom' })] });
    const r = await run([play('p', 'h1,h2', [failing])], { unreachable: ['h2'], phases: ['build'] });
    expect(exitCodeForReport(r.report)).toBe(EXIT.failed);
  });

  it('sudo refusing the become password: the host is failed (label, count and exit code agree), the message is whole', async () => {
    // Before: the event was "hostUnreachable" (printed "unreachable: [h2] [h2] command failed (exit 1): sh -c 'eval
    // "$(cat)"'") while the host was counted failed, and a become password "wrong" masked the tool's own word.
    new Secret('wrong');
    // What the transport's sudo handshake says when sudo prompts a second time (the password was refused).
    const handshake = new SudoHandshake('wrong');
    handshake.feed(SUDO_PROMPT);
    const refused = handshake.feed(SUDO_PROMPT).error!;
    const r = await run([play('p', 'h1,h2', [r1])], {
      phases: ['build'],
      setup: (h) => {
        if (h.host === 'h2') h.hostFactsError = new BecomeError('h2', refused);
      },
    });
    const message = 'become (sudo) failed: sudo refused the become password (wrong ansible_become_password?)';
    expect(summaryOf(r.report, 'h2')).toMatchObject({ state: 'failed', failed: 1, unreachable: 0 });
    expect(r.byHost('h2')).toMatchObject([{ kind: 'connect', status: 'failed', message }]);
    expect(r.events.filter((e) => e.name === 'hostConnectFailed').map((e) => e.args)).toEqual([['h2', message, 'failed']]);
    expect(exitCodeForReport(r.report)).toBe(EXIT.failed);
  });

  it('a step\'s failure message does not repeat the host name the record already has', async () => {
    const failing = role('failing', { build: () => [action('s1', { script: 'fail 1 boom' })] });
    const r = await run([play('p', 'h1', [failing])], { phases: ['build'] });
    expect(r.byHost('h1')).toMatchObject([{ status: 'failed', message: 'command failed (exit 1): run s1\nboom' }]);
  });

  it('a connection lost while gathering host facts (UnreachableError) makes the host unreachable, not failed', async () => {
    const r = await run([play('p', 'h1,h2', [r1])], {
      phases: ['build'],
      setup: (h) => {
        if (h.host === 'h2') h.hostFactsError = new UnreachableError('h2', 'connection reset by peer');
      },
    });
    expect(summaryOf(r.report, 'h2').state).toBe('unreachable');
    expect(exitCodeForReport(r.report)).toBe(EXIT.unreachable);
  });
});

describe('runPlaybook: waiting for other hosts', () => {
  it('a host waiting for the others gives up its fork slot: with --forks 1 every host still arrives', async () => {
    const arrived = new Set<string>();
    const barrier: Step = {
      name: 'barrier',
      plan: async (ctx) => {
        arrived.add(ctx.name);
        await ctx.waitForOthers(async () => {
          const deadline = Date.now() + 5000;
          while (ctx.batch.some((h) => !arrived.has(h))) {
            if (Date.now() > deadline) throw new Error(`still waiting for ${ctx.batch.filter((h) => !arrived.has(h)).join(', ')}`);
            await new Promise((r) => setTimeout(r, 10));
          }
        });
        return { changes: [] };
      },
    };
    const r = await run([play('p', 'web', [role('r', { configure: () => [barrier] })], { serial: [2] })], { phases: ['configure'], options: { forks: 1 } });
    expect(r.report.steps.filter((s) => s.step === 'barrier').map((s) => s.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(r.report.hosts.every((h) => h.state === 'ok')).toBe(true);
  });
});

describe('runPlaybook: run-once steps', () => {
  it('run on one host only; the others report it skipped, naming that host', async () => {
    const r1 = role('r1', { configure: () => [action('everywhere'), action('once', { runOnce: true })] });
    const r = await run([play('p', 'web', [r1])], { phases: ['configure'] });
    const ran = [...r.hosts.values()].filter((h) => h.scripts().includes('echo once')).map((h) => h.host);
    expect(ran).toHaveLength(1);
    const skipped = r.report.steps.filter((s) => s.step === 'once' && s.status === 'skipped');
    expect(skipped.map((s) => s.host).sort()).toEqual(['h1', 'h2', 'h3', 'h4'].filter((h) => h !== ran[0]));
    for (const s of skipped) expect(s.message).toBe(`ran once on ${ran[0]}`);
    for (const h of r.hosts.values()) expect(h.scripts()).toContain('echo everywhere');
  });

  it('the same role in two plays runs its run-once step once in EACH play', async () => {
    const shared = role('shared', { configure: () => [action('once', { runOnce: true })] });
    const r = await run([play('first', 'h1', [shared]), play('second', 'h2,h3', [shared])], { phases: ['configure'] });
    expect(r.hosts.get('h1')!.scripts()).toEqual(['echo once']);
    // "Run on the first healthy host of the play": h2 in the second play. Today it is skipped as "ran once on h1".
    const second = r.report.steps.filter((s) => s.play === 'second' && s.step === 'once').map((s) => s.status).sort();
    expect(second).toEqual(['changed', 'skipped']);
  });
  it('is keyed by the step id, not its display name: two roles\' run-once steps of one name both run, once each', async () => {
    const a = role('a', { configure: () => [action('once', { runOnce: true })] });
    const b = role('b', { configure: () => [action('once', { runOnce: true })] });
    const r = await run([play('p', 'web', [a, b])], { phases: ['configure'] });
    const changed = r.report.steps.filter((s) => s.step === 'once' && s.status === 'changed').map((s) => s.role).sort();
    expect(changed).toEqual(['a', 'b']);
    expect(r.report.steps.filter((s) => s.step === 'once' && s.status === 'skipped')).toHaveLength(6);
  });

  it('two run-once steps of one role with the same display name but their own ids are not merged', async () => {
    // The host that claims the first one fails on it; the second, a step of its own, must still run on another host
    // (keyed by display name it was "ran once on" the failed host, so it never ran anywhere).
    const r1 = role('r1', { configure: () => [action('once', { runOnce: true, id: 'first', script: 'fail 1 broken' }), action('once', { runOnce: true, id: 'second' })] });
    const r = await run([play('p', 'web', [r1])], { phases: ['configure'] });
    const failed = r.report.steps.filter((s) => s.step === 'once' && s.status === 'failed').map((s) => s.host);
    const changed = r.report.steps.filter((s) => s.step === 'once' && s.status === 'changed').map((s) => s.host);
    expect(failed).toHaveLength(1);
    expect(changed).toHaveLength(1);
    expect(changed[0]).not.toBe(failed[0]);
  });
});

describe('serial batches and max_fail_percentage (Ansible semantics)', () => {
  const hosts = (n: number) => Array.from({ length: n }, (_, i) => `h${i + 1}`);

  it('serialBatches: sizes, percentages (rounded down, at least 1), the last size repeating', () => {
    expect(serialBatches(hosts(5), [])).toEqual([hosts(5)]);
    expect(serialBatches(hosts(5), [2])).toEqual([['h1', 'h2'], ['h3', 'h4'], ['h5']]);
    expect(serialBatches(hosts(10), [1, '30%'])).toEqual([['h1'], ['h2', 'h3', 'h4'], ['h5', 'h6', 'h7'], ['h8', 'h9', 'h10']]);
    expect(serialBatches(hosts(5), ['50%'])).toEqual([['h1', 'h2'], ['h3', 'h4'], ['h5']]);
    expect(serialBatches(hosts(3), ['10%'])).toEqual([['h1'], ['h2'], ['h3']]);
    expect(serialBatches(hosts(4), [1, 2, 10])).toEqual([['h1'], ['h2', 'h3'], ['h4']]);
    expect(serialBatches(hosts(2), [5])).toEqual([['h1', 'h2']]);
    expect(serialBatches([], [2])).toEqual([]);
  });

  it('batchExceedsFailures: strictly more than the percentage; by default only a batch where every host failed', () => {
    expect(batchExceedsFailures(1, 4, 25)).toBe(false);
    expect(batchExceedsFailures(2, 4, 25)).toBe(true);
    expect(batchExceedsFailures(1, 10, 0)).toBe(true);
    expect(batchExceedsFailures(0, 10, 0)).toBe(false);
    expect(batchExceedsFailures(4, 4, 100)).toBe(false);
    expect(batchExceedsFailures(3, 4, undefined)).toBe(false);
    expect(batchExceedsFailures(4, 4, undefined)).toBe(true);
    expect(batchExceedsFailures(0, 0, undefined)).toBe(false);
  });

  const phased = (failOn: string[]) =>
    role('r1', {
      build: (ctx) => [action('b', { script: failOn.includes(ctx.name) ? 'fail 1 broken' : 'echo b' })],
      configure: () => [action('c')],
    });

  it('a batch finishes every phase before the next batch starts', async () => {
    const r = await run([play('p', 'web', [phased([])], { serial: [2] })], { phases: ['build', 'configure'] });
    const starts = r.events.filter((e) => e.name === 'phaseStart').map((e) => [e.args[1], e.args[2]]);
    expect(starts).toEqual([
      ['build', ['h1', 'h2']],
      ['configure', ['h1', 'h2']],
      ['build', ['h3', 'h4']],
      ['configure', ['h3', 'h4']],
    ]);
  });

  it('max_fail_percentage 25: one failure in four goes on, two stop the play before the next phase', async () => {
    const one = await run([play('p', 'web', [phased(['h1'])], { maxFailPercentage: 25 })], { phases: ['build', 'configure'] });
    expect(['h2', 'h3', 'h4'].map((h) => one.hosts.get(h)!.scripts())).toEqual([['echo b', 'echo c'], ['echo b', 'echo c'], ['echo b', 'echo c']]);
    const two = await run([play('p', 'web', [phased(['h1', 'h2'])], { maxFailPercentage: 25 })], { phases: ['build', 'configure'] });
    expect(['h3', 'h4'].map((h) => two.hosts.get(h)!.scripts())).toEqual([['echo b'], ['echo b']]);
    expect(exitCodeForReport(two.report)).toBe(EXIT.failed);
  });

  it('without max_fail_percentage: a batch where every host failed stops the play; a partly failed one does not', async () => {
    const all = await run([play('p', 'web', [phased(['h1', 'h2'])], { serial: [2] })], { phases: ['build', 'configure'] });
    expect(all.hosts.get('h3')!.scripts()).toEqual([]);
    expect(all.byHost('h3')).toEqual([]);
    const some = await run([play('p', 'web', [phased(['h1'])], { serial: [2] })], { phases: ['build', 'configure'] });
    expect(some.hosts.get('h3')!.scripts()).toEqual(['echo b', 'echo c']);
  });

  it('like Ansible: a play aborted by max_fail_percentage ends the whole run — later plays start no phase after it', async () => {
    // ansible-playbook (executor/playbook_executor.py): break_play -> `if break_play: break` out of the plays loop.
    // Here the later play's build phase may already have run beside it (its hosts were free): nothing after it runs.
    const later = role('later', { build: () => [action('later build')], configure: () => [action('later configure')] });
    const plays = (earlyBuild?: boolean) => [
      play('first', 'web', [phased(['h1', 'h2'])], { maxFailPercentage: 25 }),
      { ...play('second', 'db', [later]), ...(earlyBuild === undefined ? {} : { earlyBuild }) },
      play('third', 'web', [later]),
    ];
    const r = await run(plays(), { phases: ['build', 'configure'] });
    expect(r.report.steps.filter((s) => s.play !== 'first').every((s) => s.play === 'second' && s.phase === 'build')).toBe(true);
    expect(r.hosts.get('d1')!.scripts().filter((s) => s.startsWith('echo later'))).not.toContain('echo later configure');
    // The third play shares the first one's hosts: it never starts.
    expect(r.events.filter((e) => e.name === 'playStart').map((e) => e.args[0])).not.toContain('third');
    // Opted out (early_build: false): exactly Ansible's order, the later play never starts.
    const strict = await run(plays(false), { phases: ['build', 'configure'] });
    expect(strict.report.steps.filter((s) => s.play !== 'first')).toEqual([]);
    expect(strict.hosts.get('d1')!.scripts()).toEqual([]);
  });

  it('like Ansible: with serial, a batch whose every host is unreachable stops the play too', async () => {
    const r = await run([play('p', 'web', [phased([])], { serial: [1] })], { phases: ['build', 'configure'], unreachable: ['h1'] });
    // Ansible: failed_hosts_count == len(batch) for the batch [h1] -> break_play; h2..h4 are never touched.
    expect(['h2', 'h3', 'h4'].map((h) => r.hosts.get(h)!.scripts())).toEqual([[], [], []]);
  });
});

describe('tags and skip-tags', () => {
  const tagged = () =>
    role('web', {
      build: () => [action('pkgs', { tags: ['packages'] })],
      configure: () => [action('conf', { tags: ['config'] }), action('tls', { tags: ['config', 'tls'] }), action('untagged')],
    });
  const other = () => role('other', { configure: () => [action('other step')] });
  const scriptsOf = async (options: Partial<RunOptions>, roles: (Role | { role: Role; tags: string[] })[] = [tagged(), other()]) =>
    (await run([play('p', 'h1', roles)], { phases: ['build', 'configure'], options })).hosts.get('h1')!.scripts();

  it('--tags keeps steps with a matching step tag, play role tag, role name or phase name', async () => {
    expect(await scriptsOf({ tags: ['config'] })).toEqual(['echo conf', 'echo tls']);
    expect(await scriptsOf({ tags: ['tls', 'packages'] })).toEqual(['echo pkgs', 'echo tls']);
    expect(await scriptsOf({ tags: ['web'] })).toEqual(['echo pkgs', 'echo conf', 'echo tls', 'echo untagged']);
    expect(await scriptsOf({ tags: ['build'] })).toEqual(['echo pkgs']);
    expect(await scriptsOf({ tags: ['edge'] }, [tagged(), { role: other(), tags: ['edge'] }])).toEqual(['echo other step']);
  });

  it('--skip-tags removes them, and wins over --tags', async () => {
    expect(await scriptsOf({ skipTags: ['tls'] })).toEqual(['echo pkgs', 'echo conf', 'echo untagged', 'echo other step']);
    expect(await scriptsOf({ skipTags: ['configure'] })).toEqual(['echo pkgs']);
    expect(await scriptsOf({ tags: ['config'], skipTags: ['tls'] })).toEqual(['echo conf']);
  });
});

describe('secrets never reach the report', () => {
  const SECRET = 'Inv3ntory-S3cret-Value';

  it('a step failing with the secret in its stderr, message, summary and diff: the JSON report holds only the mask', async () => {
    const app = defineRole({
      name: 'app',
      description: 'uses a secret',
      vars: z.object({ app_password: zSecret }),
      phases: {
        configure: (ctx) => {
          const pw = ctx.vars.app_password.reveal();
          return [
            { name: 'shows it', plan: () => ({ changes: [{ summary: `password is ${pw}`, diff: `+password=${pw}`, actions: [{ script: 'echo ok' }] }], message: `using ${pw}` }) },
            { name: 'fails with it', plan: () => ({ changes: [{ summary: 'set password', actions: [{ script: `printf '%s' '${pw}' | chpasswd` }] }] }) },
          ];
        },
      },
    });
    const yaml = `all:\n  hosts:\n    h1:\n  vars:\n    app_password: ${SECRET}\n`;
    const r = await run([play('p', 'all', [app as unknown as Role])], {
      inventoryYaml: yaml,
      phases: ['configure'],
      options: { diff: true },
      setup: (h) => {
        h.onScript = (text) => (text.includes('chpasswd') ? { code: 1, stderr: `chpasswd: bad password '${SECRET}' for root`, stdout: SECRET } : undefined);
      },
    });
    // The secret did travel to the host (inside the script), but nowhere into the report.
    expect(r.hosts.get('h1')!.scripts().some((s) => s.includes(SECRET))).toBe(true);
    const json = JSON.stringify(r.report);
    expect(json).not.toContain(SECRET);
    expect(json).toContain(MASK);
    expect(summaryOf(r.report, 'h1').state).toBe('failed');
    expect(summaryOf(r.report, 'h1').error).toContain(`bad password '${MASK}'`);
    for (const e of r.events) expect(JSON.stringify(e.args)).not.toContain(SECRET);
  });

  it('a failure thrown by plan() with the secret in its message is masked too', async () => {
    const secret = new Secret('Thr0wn-S3cret-Value');
    const r1 = role('r1', {
      configure: () => [
        {
          name: 'throws',
          plan: () => {
            throw new Error(`cannot log in with ${secret.reveal()}`);
          },
        },
      ],
    });
    const r = await run([play('p', 'h1', [r1])], { phases: ['configure'] });
    expect(JSON.stringify(r.report)).not.toContain('Thr0wn-S3cret-Value');
    expect(r.byHost('h1')[0]!.message).toBe(`cannot log in with ${MASK}`);
  });

  it('a step name built from a secret value is masked in the report too', async () => {
    const secret = new Secret('N4me-S3cret-Value');
    const r1 = role('r1', { configure: () => [action(`rotate the token to ${secret.reveal()}`)] });
    const r = await run([play('p', 'h1', [r1])], { phases: ['configure'] });
    expect(JSON.stringify(r.report)).not.toContain('N4me-S3cret-Value');
  });
});

describe('--limit', () => {
  it('restricts the hosts connected and run; a pattern matching nothing is an options error', async () => {
    const r1 = role('r1', { build: () => [action('s1')] });
    const r = await run([play('p', 'web', [r1])], { phases: ['build'], limit: 'h2' });
    expect([...r.hosts.keys()]).toEqual(['h2']);
    expect(r.report.hosts.map((h) => h.host)).toEqual(['h2']);
    await expect(run([play('p', 'web', [r1])], { phases: ['build'], limit: 'nosuchhost' })).rejects.toMatchObject({ exitKind: 'options' });
  });
});
