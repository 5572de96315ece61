/**
 * Fact scripts print `@@name` header lines, each followed by that section's output, so that one query can
 * carry several commands' outputs. A section printed twice is concatenated.
 */
export function splitSections(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  let current: string | undefined;
  let lines: string[] = [];
  const flush = () => {
    if (current !== undefined) out.set(current, [out.get(current), lines.join('\n')].filter((s) => s !== undefined && s !== '').join('\n'));
  };
  for (const line of stdout.split('\n')) {
    const m = /^@@([A-Za-z0-9_.:-]+)$/.exec(line);
    if (m) {
      flush();
      current = m[1]!;
      lines = [];
    } else if (current !== undefined) lines.push(line);
  }
  flush();
  return out;
}

/** The non-empty lines of a section. */
export function sectionLines(sections: Map<string, string>, name: string): string[] {
  return (sections.get(name) ?? '').split('\n').filter((l) => l.trim() !== '');
}

/** `key=value` lines (systemctl show, our own markers) as a map; the first `=` splits. */
export function keyValues(text: string): Map<string, string> {
  const kv = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) kv.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return kv;
}

/** Package, user, group and unit names we put in scripts: refuse anything a shell or a tool could misread. */
export function checkName(kind: string, name: string): string {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.+@:-]*$/.test(name)) throw new Error(`invalid ${kind} name ${JSON.stringify(name)}`);
  return name;
}
