import type { Step } from '../engine/types.js';
import { checkName } from '../facts/sections.js';
import { groupFact, userFact } from '../facts/users.js';
import { shq } from '../transport/shell-quote.js';

/** A local group (groupadd; never removed or renumbered). */
export function group(o: { name: string; system?: boolean; gid?: number; tags?: string[] }): Step {
  const fact = groupFact(o.name);
  return {
    name: `group ${o.name}`,
    factsOnly: true,
    tags: o.tags,
    facts: [fact],
    plan(_ctx, facts) {
      if (facts.get(fact)) return { changes: [] };
      const cmd = ['groupadd', o.system ? '--system' : '', o.gid !== undefined ? `--gid ${o.gid}` : '', shq(o.name)].filter(Boolean).join(' ');
      return { changes: [{ summary: `create group ${o.name}`, actions: [{ script: cmd }] }] };
    },
  };
}

export interface UserOptions {
  name: string;
  system?: boolean;
  /** Default for system users: /usr/sbin/nologin; otherwise useradd's default. */
  shell?: string;
  home?: string;
  /** Default: not for system users, yes for others. */
  createHome?: boolean;
  /** Primary group; default: a group named like the user (created unless it exists). */
  group?: string;
  /** Supplementary groups, added (never removed: other tools may have added some). */
  groups?: string[];
  comment?: string;
  tags?: string[];
  notify?: string[];
}

/** A local user: useradd when missing, usermod on drift of shell, home, comment, primary group or missing groups. */
export function user(o: UserOptions): Step {
  const groups = o.groups ?? [];
  groups.forEach((g) => checkName('group', g));
  if (o.group) checkName('group', o.group);
  const fact = userFact(o.name);
  const shell = o.shell ?? (o.system ? '/usr/sbin/nologin' : undefined);
  return {
    name: `user ${o.name}`,
    factsOnly: true,
    tags: o.tags,
    notify: o.notify,
    facts: [fact],
    plan(_ctx, facts) {
      const f = facts.get(fact);
      const u = f.user;
      if (!u) {
        const createHome = o.createHome ?? !o.system;
        const args = [
          'useradd',
          o.system ? '--system' : '',
          shell ? `--shell ${shq(shell)}` : '',
          o.home ? `--home-dir ${shq(o.home)}` : '',
          createHome ? '--create-home' : '--no-create-home',
          o.comment !== undefined ? `--comment ${shq(o.comment)}` : '',
          // useradd refuses to create the user group when a group of that name exists.
          o.group ? `--gid ${shq(o.group)}` : f.sameNameGroup ? `--gid ${shq(o.name)}` : '--user-group',
          groups.length ? `--groups ${shq(groups.join(','))}` : '',
          shq(o.name),
        ];
        return { changes: [{ summary: `create ${o.system ? 'system ' : ''}user ${o.name}`, actions: [{ script: args.filter(Boolean).join(' ') }] }] };
      }
      const mods: string[] = [];
      const what: string[] = [];
      if (shell && u.shell !== shell) {
        mods.push(`--shell ${shq(shell)}`);
        what.push(`shell ${u.shell} → ${shell}`);
      }
      if (o.home && u.home !== o.home) {
        mods.push(`--home ${shq(o.home)}`);
        what.push(`home ${u.home} → ${o.home}`);
      }
      if (o.comment !== undefined && u.comment !== o.comment) {
        mods.push(`--comment ${shq(o.comment)}`);
        what.push('comment');
      }
      if (o.group && u.groups[0] !== o.group) {
        mods.push(`--gid ${shq(o.group)}`);
        what.push(`primary group ${o.group}`);
      }
      const missing = groups.filter((g) => !u.groups.includes(g));
      if (missing.length) {
        mods.push(`--append --groups ${shq(missing.join(','))}`);
        what.push(`add to ${missing.join(', ')}`);
      }
      if (mods.length === 0) return { changes: [] };
      return { changes: [{ summary: `modify user ${o.name}: ${what.join('; ')}`, actions: [{ script: `usermod ${mods.join(' ')} ${shq(o.name)}` }] }] };
    },
  };
}
