import type { z } from 'zod';
import type { HostFacts } from '../facts/host-facts.js';
import type { Inventory, InventoryHost } from '../inventory/types.js';
import type { Transport } from '../transport/types.js';
import type { Coordination } from './coordination.js';
import type { Phase } from './phase.js';

export type { FactQuery, FactResults } from '../facts/query.js';
import type { FactQuery, FactResults } from '../facts/query.js';

/** One remote action. `script` is sent over stdin (may hold secrets); `command` + `input` streams data to a command line. */
export type RemoteAction =
  | { script: string; timeoutMs?: number; okCodes?: number[] }
  | { command: string; input: string | Buffer; timeoutMs?: number; okCodes?: number[] };

export interface Change {
  /** One line: what changes ("install mosquitto", "write /etc/mosquitto/mosquitto.conf"). */
  summary: string;
  /** Unified diff (secrets masked) shown with --diff. */
  diff?: string;
  actions?: RemoteAction[];
  /** Work that is not a remote script (controller-side files, API calls over a forwarded port). */
  apply?: (ctx: HostContext) => Promise<string | void>;
  /**
   * Controller-side bookkeeping once the actions succeeded (the run's journal of written files); touches no host
   * and reads nothing from one, so it does not keep the change's actions from travelling with other steps'.
   */
  journal?: (ctx: HostContext) => void;
  /**
   * The paths whose facts this change can alter. Later steps keep their gathered facts unless a fact
   * names one of them (a cold run then skips a round trip per file written). Absent: any fact may change.
   */
  affects?: string[];
}

export type StepPlan =
  | { changes: Change[]; message?: string }
  | { skip: string };

export interface Step {
  /** What output shows. */
  name: string;
  /**
   * Identity within its role and phase where the name is not one (a run-once step whose name carries a value, or
   * two steps of one name): run-once steps are keyed by it (default: the name). See StepId in ./phase-units.ts.
   */
  id?: string;
  tags?: string[];
  /** Handlers to notify when this step changed something. */
  notify?: string[];
  /** Run on the first healthy host of the play only; the others report it as skipped. */
  runOnce?: boolean;
  /**
   * The plan reads only its facts, the host facts and controller-side values (no remote call, no cross-host
   * wait): it may be planned while earlier steps' actions are still waiting to be sent, so consecutive such steps
   * send their actions in one exchange (./action-batch.ts). The operations of src/operations set it.
   */
  factsOnly?: boolean;
  /** Facts this step reads; all steps' facts of a phase are gathered together. */
  facts?: FactQuery[];
  plan(ctx: HostContext, facts: FactResults): StepPlan | Promise<StepPlan>;
  /** Runs after the changes were applied (not in check mode); throw to fail the step (e.g. a health check). */
  verify?(ctx: HostContext): Promise<void>;
  /** The host facts (addresses, firewall tooling…) may differ after this step: refresh them. */
  refreshesHostFacts?: boolean;
}

export interface RunOptions {
  check: boolean;
  diff: boolean;
  forks: number;
  tags: string[];
  skipTags: string[];
  verbose: boolean;
}

/** What a step sees of the play: other hosts' facts and connections, cross-host coordination. */
export interface PlayContext {
  name: string;
  /** Hosts this play runs on (after --limit), in inventory order. */
  hosts: string[];
  inventory: Inventory;
  /** Facts of any host connected in this run. */
  facts(host: string): HostFacts | undefined;
  /** The open connection to any host of this run (cross-host checks: a load balancer's view of a broker). */
  transport(host: string): Transport | undefined;
  /** Hosts that failed or were unreachable so far. */
  isFailed(host: string): boolean;
  /** Cross-host waits and run-wide state, typed (./coordination.ts): a barrier, a run-once result other hosts await. */
  coordination: Coordination;
  options: RunOptions;
  /** Only listing steps (--list-tasks): roles must not build, fetch or write anything while constructing steps. */
  listOnly?: boolean;
  /** Project root (where roles and playbooks live) and inventory directory (pki/ lives there). */
  projectDir: string;
}

export interface HostContext {
  readonly name: string;
  readonly host: InventoryHost;
  readonly facts: HostFacts;
  readonly transport: Transport;
  readonly phase: Phase;
  readonly play: PlayContext;
  readonly check: boolean;
  readonly diff: boolean;
  /** A progress line for long steps (package installs, builds, health waits). */
  progress(line: string): void;
  /** Hosts of the current serial batch (all of the play's hosts without `serial`). */
  readonly batch: string[];
  /**
   * Wait for other hosts' steps (a cross-host barrier) without holding this host's fork slot, so hosts
   * beyond --forks can still reach the point being waited for.
   */
  waitForOthers<T>(wait: () => Promise<T>): Promise<T>;
  /** Run a script as root; throws CommandError on a non-zero exit. */
  run(script: string, opts?: { timeoutMs?: number; okCodes?: number[] }): Promise<string>;
}

export interface RoleContext<V> extends HostContext {
  readonly vars: V;
}

export interface Handler<V> {
  steps(ctx: RoleContext<V>): Step[] | Promise<Step[]>;
  /**
   * Rolling: across the play's hosts this handler runs one host at a time, in inventory order,
   * and the rollout stops at the first host whose handler fails.
   */
  rolling?: boolean;
  /**
   * Run at the end of this phase (or of the last phase of the run, if earlier) instead of the phase that
   * notified it: e.g. restart the exporter only after the runtime phase updated the broker accounts.
   */
  runAt?: Phase;
  /** For hosts a stopped rollout skipped: put them back as they were (e.g. the previous config file). */
  revert?(ctx: RoleContext<V>): Step[] | Promise<Step[]>;
}

export type AnyZodObject = z.ZodObject<z.ZodRawShape>;

export interface Role<S extends AnyZodObject = AnyZodObject> {
  name: string;
  description: string;
  /** The variables this role reads, with types and defaults; validated per host before anything runs. */
  vars: S;
  phases: Partial<Record<Phase, (ctx: RoleContext<z.output<S>>) => Step[] | Promise<Step[]>>>;
  /**
   * Steps for hosts marked `state: absent` in the inventory (being removed from service). A role without
   * them leaves such hosts alone.
   */
  absent?: Partial<Record<Phase, (ctx: RoleContext<z.output<S>>) => Step[] | Promise<Step[]>>>;
  handlers?: Record<string, Handler<z.output<S>>>;
}

export function defineRole<S extends AnyZodObject>(role: Role<S>): Role<S> {
  return role;
}
