/** The steps a host runs, each with the role it came from, its tags and its typed id. */
import { isAbsent } from './absent.js';
import type { Phase } from './phase.js';
import type { Play } from './playbook.js';
import type { RecordKind } from './records.js';
import type { RoleContext, RunOptions, Step } from './types.js';

/** A step's identity within a play: `role/phase/kind/id-or-name`; what run-once steps are keyed by. */
export type StepId = string & { readonly __stepId: true };

/** What a unit can be besides a role's own phase step. */
export type UnitKind = Extract<RecordKind, 'handler' | 'revert'>;

/** A step together with the role (or handler) it came from. */
export interface StepUnit {
  step: Step;
  role: string;
  /** A handler's or a revert's step (absent: a step of the role's phase). */
  kind?: UnitKind;
  /** Every tag the step answers to: its own, the play's for its role, the role name and the phase. */
  tags?: string[];
  id: StepId;
}

export function stepId(role: string, phase: Phase, step: Pick<Step, 'id' | 'name'>, kind?: UnitKind): StepId {
  return `${role}/${phase}/${kind ?? 'step'}/${step.id ?? step.name}` as StepId;
}

/** The one place units are made: the id is computed here, once. */
export function stepUnit(step: Step, role: string, phase: Phase, o: { kind?: UnitKind; tags?: string[] } = {}): StepUnit {
  return { step, role, ...(o.kind ? { kind: o.kind } : {}), ...(o.tags ? { tags: o.tags } : {}), id: stepId(role, phase, step, o.kind) };
}

/** The steps a host runs in a phase, filtered by --tags/--skip-tags (absent hosts: the roles' removal steps). */
export async function phaseUnits(play: Play, phase: Phase, ctx: RoleContext<Record<string, unknown>>, options: Pick<RunOptions, 'tags' | 'skipTags'>): Promise<StepUnit[]> {
  const units: StepUnit[] = [];
  for (const { role, tags } of play.roles) {
    const build = isAbsent(ctx.host) ? role.absent?.[phase] : role.phases[phase];
    if (!build) continue;
    for (const step of await build(ctx as never)) {
      const stepTags = new Set([...(step.tags ?? []), ...tags, role.name, phase]);
      if (options.tags.length && !options.tags.some((t) => stepTags.has(t))) continue;
      if (options.skipTags.some((t) => stepTags.has(t))) continue;
      units.push(stepUnit(step, role.name, phase, { tags: [...stepTags] }));
    }
  }
  return units;
}
