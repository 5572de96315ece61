/** Where a value was written: used to point errors at file:line:column. */
export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

export interface VarSource {
  file: string;
  /** Location of `path` inside this variable's value (`[]` = the variable itself). Falls back to the nearest known node. */
  locate(path: (string | number)[]): SourceLocation;
}

export interface InventoryHost {
  name: string;
  /** Every group the host belongs to, ancestors included, plus `all` (and `ungrouped` when it has no other group). */
  groups: string[];
  /** Variables merged by Ansible's precedence; values obtained from env/file lookups are `Secret`s. */
  vars: Record<string, unknown>;
  /** Source of each variable's winning value. */
  varSources: Record<string, VarSource>;
  /** Where the host was first declared (errors about the host itself point here). */
  loc?: SourceLocation;
}

export interface InventoryGroup {
  name: string;
  /** Direct child groups. */
  children: string[];
  /** Hosts of this group and of its descendants, in Ansible's order (the group's own hosts, then its children's). */
  hosts: string[];
  /** Hosts declared in this group itself, in declaration order (ansible-inventory's `hosts` of the group). */
  directHosts?: string[];
}

export interface Inventory {
  files: string[];
  /** Directory of the first inventory file: home of `pki/` and other artefacts kept beside it. */
  baseDir: string;
  hosts: Map<string, InventoryHost>;
  groups: Map<string, InventoryGroup>;
  /** Host names in Ansible's order of `all`. */
  hostOrder: string[];
  /** Where each group was first declared (not the implicit `all` and `ungrouped`): errors about a group point there. */
  groupLocations?: Map<string, SourceLocation>;
  /** A host's winning variable assignments before templating (what `ansible-inventory --list` shows). */
  rawVars?(host: string): Map<string, { value: unknown }>;
  /**
   * Ansible host patterns: `all`, `*`, `grp`, `h1,h2`, `grp:!h3`, `!lb1`, `grp1:&grp2`, globs `mq*`, `~regex`.
   * A part that matches nothing is a warning (`warn`, default stderr); nothing matched at all → InputError.
   */
  selectHosts(pattern: string, warn?: (message: string) => void): string[];
}
