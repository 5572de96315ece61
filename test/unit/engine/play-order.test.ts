/**
 * When plays start (src/engine/play-order.ts): a play's build phase starts as soon as its hosts are free, every later
 * phase once every earlier play ended. Hosts are in-memory transports; overlap is proven with latches (a step of one
 * play that waits for a step of another): without the overlap such a run never ends and the test times out, so no
 * assertion depends on timing.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { signal } from '../../../src/engine/coordination.js';
import type { Phase } from '../../../src/engine/phase.js';
import { buildStartsEarly } from '../../../src/engine/play-order.js';
import type { Play } from '../../../src/engine/playbook.js';
import type { RunReport } from '../../../src/engine/records.js';
import { fanOut, type RunEvents } from '../../../src/engine/reporter.js';
import { runPlaybook } from '../../../src/engine/runner.js';
import { defineRole, type Handler, type Role, type RunOptions, type Step } from '../../../src/engine/types.js';
import { HOST_FACTS_SCRIPT } from '../../../src/facts/gather-host-facts.js';
import { loadInventory } from '../../../src/inventory/load.js';
import type { Inventory } from '../../../src/inventory/types.js';
import type { ExecResult, Transport } from '../../../src/transport/types.js';

const PROJECT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Answers the host-facts script with a Debian 12 root login and logs every other script (and its close). */
class MemoryHost implements Transport {
  readonly sshPort = 22;
  roundTrips = 0;
  readonly log: string[] = [];
  constructor(
    readonly host: string,
    private readonly n: number,
  ) {}
  async exec(command: string): Promise<ExecResult> {
    return this.script(command);
  }
  async script(text: string): Promise<ExecResult> {
    this.roundTrips++;
    if (text === HOST_FACTS_SCRIPT) {
      const facts = ['os_id=debian', 'os_version=12', 'os_pretty=Debian GNU/Linux 12 (bookworm)', 'arch=x86_64', `hostname=${this.host}`, `fqdn=${this.host}`, 'multiarch=x86_64-linux-gnu', 'init=systemd', 'pm=apt', 'fw_nft=1', 'user=root', `primary=10.0.0.${this.n}`, `addr=10.0.0.${this.n}/24`];
      return { stdout: `${facts.join('\n')}\n`, stderr: '', code: 0 };
    }
    this.log.push(text);
    return { stdout: '', stderr: '', code: 0 };
  }
  async forward(): Promise<never> {
    throw new Error('no forwards here');
  }
  async close(): Promise<void> {
    this.log.push('<closed>');
  }
}

/** A promise the test resolves from another play's step. */
function latch(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

/** Runs `script` (default `echo NAME`); `before` runs first in plan (await a latch, open one). */
function step(name: string, o: { before?: (host: string) => Promise<void> | void; notify?: string[]; runOnce?: boolean; script?: string } = {}): Step {
  return {
    name,
    ...(o.notify ? { notify: o.notify } : {}),
    ...(o.runOnce ? { runOnce: true } : {}),
    plan: async (ctx) => {
      await o.before?.(ctx.name);
      return { changes: [{ summary: name, actions: [{ script: o.script ?? `echo ${name}` }] }] };
    },
  };
}

function role(name: string, phases: Role['phases'], handlers?: Record<string, Handler<Record<string, unknown>>>): Role {
  return defineRole({ name, description: name, vars: z.object({}), phases, ...(handlers ? { handlers } : {}) }) as Role;
}

function play(name: string, hosts: string, roles: Role[], o: Partial<Pick<Play, 'serial' | 'maxFailPercentage' | 'earlyBuild'>> = {}): Play {
  return { name, hosts, roles: roles.map((r) => ({ role: r, tags: [] })), serial: [], ...o, file: '<memory>', line: 1 };
}

/** Two brokers-like hosts and two load-balancer-like hosts. */
const INVENTORY = `all:
  children:
    web:
      hosts:
        h1:
        h2:
    db:
      hosts:
        d1:
        d2:
`;

let tmp: string;
let inv: Inventory;
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'provision-play-order-'));
  writeFileSync(join(tmp, 'hosts.yml'), INVENTORY);
  inv = await loadInventory([join(tmp, 'hosts.yml')]);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Ran {
  report: RunReport;
  hosts: Map<string, MemoryHost>;
  /** Every event, as `name play phase` / `stepEnd host play phase step`. */
  events: string[];
  at(event: string): number;
}

async function run(plays: Play[], o: { phases?: Phase[]; options?: Partial<RunOptions>; limit?: string; events?: string[] } = {}): Promise<Ran> {
  const hosts = new Map<string, MemoryHost>();
  const events = o.events ?? [];
  const recorder: Partial<RunEvents> = {
    playStart: (p) => events.push(`playStart ${p}`),
    phaseStart: (p, ph) => events.push(`phaseStart ${p} ${ph}`),
    phaseEnd: (p, ph) => events.push(`phaseEnd ${p} ${ph}`),
    playEnd: (p) => events.push(`playEnd ${p}`),
    stepEnd: (r) => events.push(`stepEnd ${r.host} ${r.play} ${r.phase} ${r.step}`),
  };
  const report = await runPlaybook({
    inventory: inv,
    playbook: { file: '<memory>', plays },
    phases: o.phases ?? ['build', 'configure', 'runtime', 'cluster'],
    ...(o.limit ? { limit: o.limit } : {}),
    options: { check: false, diff: false, forks: 10, tags: [], skipTags: [], verbose: false, ...o.options },
    events: fanOut([recorder]),
    connect: async (h) => {
      const t = new MemoryHost(h.name, inv.hostOrder.indexOf(h.name) + 1);
      hosts.set(h.name, t);
      return t;
    },
    version: 'test',
    projectDir: PROJECT,
  });
  const at = (e: string) => {
    const i = events.indexOf(e);
    if (i < 0) throw new Error(`no event '${e}' in:\n${events.join('\n')}`);
    return i;
  };
  return { report, hosts, events, at };
}

/** A brokers-like play whose build waits until a load balancer's first build step ended: it ends only if they overlap. */
function overlapping(lbBuilt: ReturnType<typeof latch>) {
  const brokers = role('broker', { build: () => [step('broker build', { before: () => lbBuilt.wait })], configure: () => [step('broker configure')] });
  const lbs = role('lb', { build: () => [step('lb build'), step('lb build 2', { before: () => lbBuilt.open() })], configure: () => [step('lb configure')] });
  return [play('brokers', 'web', [brokers]), play('lbs', 'db', [lbs])];
}

describe('a play\'s build phase starts as soon as its hosts are free', () => {
  it('the load balancers build while the brokers build; their configure starts only after the brokers play ended', async () => {
    for (const check of [false, true]) {
      const r = await run(overlapping(latch()), { options: { check } });
      expect(r.at('phaseStart lbs build')).toBeLessThan(r.at('phaseEnd brokers build'));
      expect(r.at('phaseStart lbs configure')).toBeGreaterThan(r.at('playEnd brokers'));
      expect(r.at('playStart lbs')).toBeLessThan(r.at('phaseEnd brokers build'));
      // The report's steps are in the order they ended: the two plays' records interleave.
      const order = r.report.steps.map((s) => `${s.host} ${s.step}`);
      const firstBroker = order.findIndex((x) => x.endsWith('broker build'));
      expect(order.slice(0, firstBroker).filter((x) => x.endsWith(' lb build')).length).toBeGreaterThan(0);
      expect(order.findIndex((x) => x.endsWith('lb configure'))).toBeGreaterThan(order.lastIndexOf('h2 broker configure'));
      expect(r.report.hosts.every((h) => h.state === 'ok')).toBe(true);
      expect(r.hosts.get('d1')!.log).toEqual(check ? ['<closed>'] : ['echo lb build', 'echo lb build 2', 'echo lb configure', '<closed>']);
    }
  });

  it('a later play on hosts an earlier play still runs on waits for it (a host is in one phase at a time, in play order)', async () => {
    // third shares web with brokers: its build waits for brokers' end — and then runs while lbs (disjoint) still runs.
    const thirdBuilt = latch();
    const brokers = role('broker', { build: () => [step('broker build')], configure: () => [step('broker configure')] });
    const lbs = role('lb', { build: () => [step('lb build')], configure: () => [step('lb configure', { before: () => thirdBuilt.wait })] });
    const third = role('member', { build: () => [step('member build', { before: () => thirdBuilt.open() })], configure: () => [step('member configure')] });
    const r = await run([play('brokers', 'web', [brokers]), play('lbs', 'db', [lbs]), play('members', 'web', [third])]);
    expect(r.at('playStart members')).toBeGreaterThan(r.at('playEnd brokers'));
    expect(r.at('phaseStart members build')).toBeLessThan(r.at('playEnd lbs'));
    expect(r.at('phaseStart members configure')).toBeGreaterThan(r.at('playEnd lbs'));
    for (const h of ['h1', 'h2']) expect(r.hosts.get(h)!.log).toEqual(['echo broker build', 'echo broker configure', 'echo member build', 'echo member configure', '<closed>']);
  });

  it('a host in both plays keeps today\'s order; --limit decides what is shared (after the limit, nothing may be)', async () => {
    const brokers = role('broker', { build: () => [step('broker build')], configure: () => [step('broker configure')] });
    const lbs = role('lb', { build: () => [step('lb build')], configure: () => [step('lb configure')] });
    const shared = await run([play('brokers', 'web', [brokers]), play('lbs', 'h1,d1', [lbs])]);
    expect(shared.at('playStart lbs')).toBeGreaterThan(shared.at('playEnd brokers'));
    // --limit h2,d1: the lbs play runs on d1 only, which no earlier play has: its build overlaps again.
    const lbBuildStarted = latch();
    const waiting = role('broker', { build: () => [step('broker build', { before: () => lbBuildStarted.wait })] });
    const starting = role('lb', { build: () => [step('lb build', { before: () => lbBuildStarted.open() })] });
    const limited = await run([play('brokers', 'web', [waiting]), play('lbs', 'h1,d1', [starting])], { limit: 'h2,d1' });
    expect(limited.at('phaseStart lbs build')).toBeLessThan(limited.at('phaseEnd brokers build'));
    expect([...limited.hosts.keys()].sort()).toEqual(['d1', 'h2']);
  });

  it('nothing changes without a build phase (--phase), for a play without build steps, or with early_build: false', async () => {
    const sequential = (r: Ran) => expect(r.at('playStart lbs')).toBeGreaterThan(r.at('playEnd brokers'));
    const [brokers, lbs] = overlapping(latch());
    const noBuild = { ...lbs!, roles: [{ role: role('lb', { configure: () => [step('lb configure')] }), tags: [] }] };
    sequential(await run([play('brokers', 'web', [role('broker', { configure: () => [step('broker configure')] })]), lbs!], { phases: ['configure', 'runtime'] }));
    sequential(await run([play('brokers', 'web', [role('broker', { build: () => [step('broker build')] })]), noBuild]));
    sequential(await run([play('brokers', 'web', [role('broker', { build: () => [step('broker build')] })]), { ...lbs!, earlyBuild: false }]));
    expect(buildStartsEarly(brokers!, ['build', 'configure'])).toBe(true);
    expect(buildStartsEarly(brokers!, ['configure'])).toBe(false);
    expect(buildStartsEarly({ ...brokers!, earlyBuild: false }, ['build'])).toBe(false);
  });

  it('with serial, the later play\'s first batch builds early; its other phases and batches keep their order', async () => {
    const lbBuildStarted = latch();
    const [brokers] = overlapping(lbBuildStarted);
    const lbs = role('lb', { build: () => [step('lb build', { before: () => lbBuildStarted.open() })], configure: () => [step('lb configure')] });
    const r = await run([brokers!, play('lbs', 'db', [lbs], { serial: [1] })]);
    const lbPhases = r.events.filter((e) => e.startsWith('phaseStart lbs') || e === 'playEnd brokers');
    expect(lbPhases).toEqual(['phaseStart lbs build', 'playEnd brokers', 'phaseStart lbs configure', 'phaseStart lbs build', 'phaseStart lbs configure']);
    expect(r.at('phaseStart lbs build')).toBeLessThan(r.at('phaseEnd brokers build'));
  });

  it('handlers notified in the overlapped build run at that phase\'s end (before the brokers play ended); a runAt handler later', async () => {
    const handlerRan = latch();
    const brokers = role('broker', { build: () => [step('broker build')], configure: () => [step('broker configure', { before: () => handlerRan.wait })] });
    const lbs = role(
      'lb',
      { build: () => [step('lb build', { notify: ['now', 'later'] }), step('lb run-once', { runOnce: true })], configure: () => [step('lb configure')] },
      {
        now: { steps: () => [step('handler now'), step('handler now 2', { before: () => handlerRan.open() })] },
        later: { runAt: 'configure', steps: () => [step('handler later')] },
      },
    );
    const r = await run([play('brokers', 'web', [brokers]), play('lbs', 'db', [lbs])]);
    for (const h of ['d1', 'd2']) {
      expect(r.at(`stepEnd ${h} lbs build handler now`)).toBeLessThan(r.at('phaseEnd lbs build'));
      expect(r.at(`stepEnd ${h} lbs configure handler later`)).toBeGreaterThan(r.at('playEnd brokers'));
    }
    // The brokers' configure waited for a handler's second step: the first one ended while the brokers play ran.
    expect(r.events.slice(0, r.at('playEnd brokers')).some((e) => e.endsWith('lbs build handler now'))).toBe(true);
    // Run-once still means once per play.
    expect(r.report.steps.filter((s) => s.step === 'lb run-once').map((s) => s.status).sort()).toEqual(['changed', 'skipped']);
  });

  it('the overlapped build competes for the same --forks slots: with --forks 1 and a barrier in the brokers play, no deadlock', async () => {
    const ARRIVED = signal<true>('arrived');
    const barrier = (name: string): Step => ({
      name,
      plan: async (ctx) => {
        ctx.play.coordination.post(ARRIVED, `${ctx.play.name}/${ctx.phase}`, ctx.name, true);
        await ctx.waitForOthers(() => ctx.play.coordination.all(ARRIVED, `${ctx.play.name}/${ctx.phase}`, ctx.batch, { timeoutMs: 10_000 }));
        return { changes: [] };
      },
    });
    const brokers = role('broker', { build: () => [barrier('build barrier')], configure: () => [barrier('configure barrier')] });
    const lbs = role('lb', { build: () => [step('lb build'), step('lb build 2')], configure: () => [step('lb configure')] });
    const r = await run([play('brokers', 'web', [brokers]), play('lbs', 'db', [lbs])], { options: { forks: 1 } });
    expect(r.report.hosts.map((h) => h.state)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(r.report.steps.filter((s) => s.step.includes('barrier')).map((s) => s.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
  });

  it('the build phase is host-local: another host\'s connection is refused there (it may be in an earlier play), given later', async () => {
    const peek = (phase: Phase): Step => ({
      name: `peek at d1 in ${phase}`,
      plan: (ctx) => ({ changes: [], message: ctx.play.transport('d1') ? 'connected' : 'none' }),
    });
    const r = await run([play('p', 'web,d1', [role('r', { build: (ctx) => (ctx.name === 'h1' ? [peek('build')] : []), configure: (ctx) => (ctx.name === 'h2' ? [peek('configure')] : []) })])]);
    const h1 = r.report.steps.find((s) => s.host === 'h1')!;
    expect([h1.status, h1.message]).toEqual(['failed', "the build phase is host-local: h1's build steps cannot use d1's connection (d1 may still be in an earlier play); do this in the configure phase or later"]);
    expect(r.report.steps.find((s) => s.host === 'h2')!.message).toBe('connected');
  });

  it('an internal error in the brokers play: the overlapped build finishes before connections close; nothing after it starts', async () => {
    const boom = latch();
    const brokers = role('broker', { build: () => [step('broker build')], configure: () => [step('broker configure', { notify: ['explode'] })] }, {
      explode: {
        steps: () => {
          boom.open();
          throw new Error('internal: handler exploded');
        },
      },
    });
    const lbs = role('lb', { build: () => [step('lb build', { before: () => boom.wait })], configure: () => [step('lb configure')] });
    const events: string[] = [];
    await expect(run([play('brokers', 'web', [brokers]), play('lbs', 'db', [lbs])], { events })).rejects.toThrow('handler exploded');
    expect(events).toContain('stepEnd d1 lbs build lb build');
    expect(events.some((e) => e.includes('lb configure'))).toBe(false);
    expect(events.at(-1)).toBe('playEnd lbs');
  });
});
