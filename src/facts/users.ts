import type { FactQuery } from './query.js';
import { shq } from '../transport/shell-quote.js';
import { checkName, sectionLines, splitSections } from './sections.js';

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export interface UserEntry {
  name: string;
  uid: number;
  gid: number;
  comment: string;
  home: string;
  shell: string;
  /** Names of every group the user is in, primary first (`id -nG`). */
  groups: string[];
}

export interface UserFacts {
  user?: UserEntry;
  /** The group named like the user (useradd must then be told to use it rather than create it). */
  sameNameGroup?: GroupEntry;
}

export function parseGroupLine(line: string): GroupEntry | undefined {
  const [name, , gid, members = ''] = line.trim().split(':');
  if (!name || gid === undefined) return undefined;
  return { name, gid: Number(gid), members: members.split(',').filter(Boolean) };
}

export function groupFact(name: string): FactQuery<GroupEntry | undefined> {
  checkName('group', name);
  return {
    key: `group:${name}`,
    staleAfter: 'files-never',
    script: `getent group ${shq(name)}`,
    parse: (stdout) => parseGroupLine(stdout.split('\n')[0] ?? ''),
  };
}

/** getent passwd + `id -nG` for the user, and getent group for the group named like it. */
export function userFact(name: string): FactQuery<UserFacts> {
  checkName('user', name);
  const q = shq(name);
  return {
    key: `user:${name}`,
    staleAfter: 'files-never',
    script: `echo @@passwd; getent passwd ${q}
echo @@groups; id -nG ${q} 2>/dev/null
echo @@group; getent group ${q}
true`,
    parse: (stdout) => {
      const s = splitSections(stdout);
      const pw = sectionLines(s, 'passwd')[0];
      let user: UserEntry | undefined;
      if (pw) {
        const [n = name, , uid, gid, comment = '', home = '', shell = ''] = pw.split(':');
        user = { name: n, uid: Number(uid), gid: Number(gid), comment, home, shell, groups: (s.get('groups') ?? '').trim().split(/\s+/).filter(Boolean) };
      }
      return { user, sameNameGroup: parseGroupLine(sectionLines(s, 'group')[0] ?? '') };
    },
  };
}
