import { StepError } from '../errors.js';
import { ControlConnectionLostError, type ControlClient, type ControlResponse } from '../mqtt/control-client.js';
import { Secret, redact } from '../secrets.js';
import { planDynsec, type PlanOptions } from './plan.js';
import { DYNSEC_API, readDynsecState } from './state.js';
import type { DesiredAuth, DynsecChange, DynsecState } from './types.js';

export interface ApplyResult {
  /** Commands the broker confirmed. */
  applied: number;
  /**
   * The broker disconnected our session while applying changes to our own client/roles/groups
   * (the plugin kicks affected clients) — those changes were sent but not confirmed; re-read the
   * state to check them (`reconcileDynsec` does).
   */
  sessionKicked: boolean;
  unconfirmed: DynsecChange[];
}

/** Thrown when commands fail; `failures` pairs each failed change with the broker's error text. */
export class DynsecApplyError extends StepError {
  constructor(readonly failures: { change: DynsecChange; error: string }[], total: number, readonly notSent: DynsecChange[] = []) {
    super(
      `dynamic security: ${failures.length} of ${total} command${total === 1 ? '' : 's'} refused by the broker:\n` +
        failures.map((f) => `  - ${f.change.summary}: ${f.error}`).join('\n') +
        (notSent.length
          ? `\n  ${notSent.length} later command${notSent.length === 1 ? '' : 's'} not sent (they depend on the refused ones; the next run plans them again):\n` +
            notSent.map((c) => `  - ${c.summary}`).join('\n')
          : ''),
    );
  }
}

/**
 * Dependency stages, sent one request each, in this order: roles (and default access), groups, clients,
 * deletions. A stage with a refused command stops the apply there, so a refused role never leaves clients
 * re-pointed at it or old entries deleted: what was applied is a prefix the next run's plan continues from.
 */
export function stageOf(change: DynsecChange): number {
  if (/^delete/.test(change.command.command)) return 3;
  return change.target.kind === 'client' ? 2 : change.target.kind === 'group' ? 1 : 0;
}

function byStage(changes: DynsecChange[]): DynsecChange[][] {
  const stages: DynsecChange[][] = [[], [], [], []];
  for (const c of changes) stages[stageOf(c)]!.push(c);
  return stages.filter((s) => s.length > 0);
}

const KICKING_CLIENT_COMMANDS = new Set([
  'modifyClient',
  'setClientPassword',
  'setClientId',
  'addClientRole',
  'removeClientRole',
  'enableClient',
  'disableClient',
  'deleteClient',
  'addGroupClient',
  'removeGroupClient',
]);
const KICKING_ROLE_COMMANDS = new Set(['addRoleACL', 'removeRoleACL', 'modifyRole', 'deleteRole']);
const KICKING_GROUP_COMMANDS = new Set(['addGroupRole', 'removeGroupRole', 'modifyGroup', 'deleteGroup']);

/**
 * True when the change touches the session user's own client record, one of its roles or groups:
 * Mosquitto 2.0 then disconnects the session while processing the request (its responses are lost).
 */
export function touchesSession(change: DynsecChange, session: { username: string; roles: Set<string>; groups: Set<string> }): boolean {
  const c = change.command;
  if (KICKING_CLIENT_COMMANDS.has(c.command) && c.username === session.username) return true;
  if (KICKING_ROLE_COMMANDS.has(c.command) && typeof c.rolename === 'string' && session.roles.has(c.rolename)) return true;
  if (KICKING_GROUP_COMMANDS.has(c.command) && typeof c.groupname === 'string' && session.groups.has(c.groupname)) return true;
  return false;
}

function sessionOf(state: DynsecState, username: string) {
  const me = state.clients.find((c) => c.username === username);
  const groups = new Set(me?.groups.map((g) => g.groupname) ?? []);
  const roles = new Set(me?.roles.map((r) => r.rolename) ?? []);
  for (const g of state.groups) if (groups.has(g.groupname)) for (const r of g.roles) roles.add(r.rolename);
  return { username, roles, groups };
}

/**
 * Sends the changes — in one request, plus a second one (sent last) for the changes that touch the
 * session user itself, since the broker drops the session after those. Throws `DynsecApplyError`
 * listing every failed command with the broker's error text (never a password).
 * `current` (the state the plan was made from) saves one read.
 */
export async function applyDynsec(
  client: ControlClient,
  changes: DynsecChange[],
  opts: { current?: DynsecState; timeoutMs?: number } = {},
): Promise<ApplyResult> {
  if (changes.length === 0) return { applied: 0, sessionKicked: false, unconfirmed: [] };
  const state = opts.current ?? (await readDynsecState(client));
  const session = sessionOf(state, client.username);
  const safe = changes.filter((c) => !touchesSession(c, session));
  const self = changes.filter((c) => touchesSession(c, session));

  const failures: { change: DynsecChange; error: string }[] = [];
  let applied = 0;
  const collect = (batch: DynsecChange[], responses: ControlResponse[]) => {
    responses.forEach((r, i) => {
      if (r.error !== undefined) failures.push({ change: batch[i], error: redact(String(r.error)) });
      else applied++;
    });
  };

  let sessionKicked = false;
  let unconfirmed: DynsecChange[] = [];
  const stages = byStage(safe);
  for (let i = 0; i < stages.length; i++) {
    const stage = stages[i]!;
    try {
      collect(stage, await client.request(DYNSEC_API, stage.map((c) => c.command), { timeoutMs: opts.timeoutMs }));
    } catch (e) {
      // A kick we did not foresee: the plugin processes the whole request before dropping us.
      if (!(e instanceof ControlConnectionLostError)) throw e;
      sessionKicked = true;
      unconfirmed = [...unconfirmed, ...stage];
      continue; // request() reconnects for the next stage; the caller re-reads to confirm this one
    }
    if (failures.length) throw new DynsecApplyError(failures, changes.length, [...stages.slice(i + 1).flat(), ...self]);
  }
  if (self.length) {
    const newPassword = self.find((c) => c.command.command === 'setClientPassword')?.command.password;
    try {
      const responses = await client.request(DYNSEC_API, self.map((c) => c.command), { timeoutMs: opts.timeoutMs });
      collect(self, responses);
      const pwIdx = self.findIndex((c) => c.command.command === 'setClientPassword');
      if (newPassword instanceof Secret && pwIdx >= 0 && responses[pwIdx].error === undefined) client.setPassword(newPassword);
    } catch (e) {
      if (!(e instanceof ControlConnectionLostError)) throw e;
      sessionKicked = true;
      unconfirmed = [...unconfirmed, ...self];
      // The whole request is processed before the kick takes effect: later sessions need the new password.
      if (newPassword instanceof Secret) client.setPassword(newPassword);
    }
  }
  if (failures.length) throw new DynsecApplyError(failures, changes.length);
  return { applied, sessionKicked, unconfirmed };
}

export interface ReconcileDynsecResult {
  /** The plan that was (or, in check mode, would be) applied. */
  changes: DynsecChange[];
  sessionKicked: boolean;
}

/**
 * read → plan → apply → read again and re-plan: the second plan must be empty (this also confirms
 * the changes whose responses were lost when the broker kicked our session).
 */
export async function reconcileDynsec(
  client: ControlClient,
  desired: DesiredAuth,
  opts: { check: boolean; onProgress?: (line: string) => void; plan?: PlanOptions; timeoutMs?: number },
): Promise<ReconcileDynsecResult> {
  const current = await readDynsecState(client);
  const changes = planDynsec(current, desired, opts.plan);
  if (opts.check || changes.length === 0) return { changes, sessionKicked: false };
  for (const c of changes) opts.onProgress?.(c.summary);
  const result = await applyDynsec(client, changes, { current, timeoutMs: opts.timeoutMs });
  if (result.sessionKicked) opts.onProgress?.('the broker disconnected the admin session after changes to its own client/roles (expected); verifying');
  const after = planDynsec(await readDynsecState(client), desired, opts.plan);
  if (after.length)
    throw new StepError(
      `dynamic security did not converge; still to do after applying ${changes.length} change(s):\n` + after.map((c) => `  - ${c.summary}`).join('\n'),
    );
  return { changes, sessionKicked: result.sessionKicked };
}
