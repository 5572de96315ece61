/** Every host's variables per play, validated against the roles' schemas before any host is touched. */
import { z } from 'zod';
import type { Inventory } from '../inventory/types.js';
import { validateHostVars } from '../inventory/validate.js';
import type { Play, Playbook } from './playbook.js';
import type { AnyZodObject } from './types.js';

/** Every variable name some role of the playbook declares: typo detection compares against these. */
export function knownVarNames(playbook: Playbook): Set<string> {
  const names = new Set<string>();
  for (const play of playbook.plays) for (const { role } of play.roles) for (const k of Object.keys(role.vars.shape)) names.add(k);
  return names;
}

export function playSchema(play: Play): AnyZodObject {
  return play.roles.reduce<AnyZodObject>((s, { role }) => s.merge(role.vars) as AnyZodObject, z.object({}));
}

/** Per play, per host, the validated variables; the first bad one throws (file, line, field): bad input never half-provisions. */
export function validatePlayVars(inventory: Inventory, playbook: Playbook, playHosts: Map<Play, string[]>): Map<Play, Map<string, Record<string, unknown>>> {
  const known = knownVarNames(playbook);
  const playVars = new Map<Play, Map<string, Record<string, unknown>>>();
  for (const play of playbook.plays) {
    const schema = playSchema(play);
    const vars = new Map<string, Record<string, unknown>>();
    for (const h of playHosts.get(play)!) vars.set(h, validateHostVars(inventory.hosts.get(h)!, schema, { inventoryFile: inventory.files[0]!, knownNames: known }));
    playVars.set(play, vars);
  }
  return playVars;
}
