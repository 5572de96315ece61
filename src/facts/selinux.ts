import type { FactQuery } from './query.js';
import { sectionLines, splitSections } from './sections.js';

export interface PortRecord {
  type: string;
  proto: string;
  from: number;
  to: number;
}

export interface SelinuxPortFacts {
  /** getenforce, lower-cased; 'absent' without SELinux tools. */
  mode: 'enforcing' | 'permissive' | 'disabled' | 'absent';
  /** semanage is installed (policycoreutils-python-utils). */
  semanage: boolean;
  records: PortRecord[];
}

/** `semanage port -l` (policy and local records), one query shared by every selinuxPort step of a phase. */
export const selinuxPortsFact: FactQuery<SelinuxPortFacts> = {
  key: 'selinux-ports',
  staleAfter: 'files-never',
  script: `echo @@mode; getenforce 2>/dev/null || echo absent
if command -v semanage >/dev/null 2>&1 && command -v getenforce >/dev/null 2>&1 && [ "$(getenforce)" != Disabled ]; then
echo @@ports; semanage port -l 2>/dev/null
fi
true`,
  parse: (stdout) => {
    const s = splitSections(stdout);
    const m = (s.get('mode') ?? '').trim().toLowerCase();
    return {
      mode: m === 'enforcing' || m === 'permissive' || m === 'disabled' ? m : 'absent',
      semanage: s.has('ports'),
      records: parsePortList(sectionLines(s, 'ports')),
    };
  },
};

/** Lines like `http_port_t   tcp   80, 81, 443, 8008-8009`. */
export function parsePortList(lines: string[]): PortRecord[] {
  const out: PortRecord[] = [];
  for (const line of lines) {
    const m = /^(\S+_t)\s+(tcp|udp|sctp|dccp)\s+(.+)$/.exec(line.trim());
    if (!m) continue;
    for (const item of m[3]!.split(',')) {
      const r = /^\s*(\d+)(?:-(\d+))?\s*$/.exec(item);
      if (r) out.push({ type: m[1]!, proto: m[2]!, from: Number(r[1]), to: Number(r[2] ?? r[1]) });
    }
  }
  return out;
}
