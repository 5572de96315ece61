/** A script's first line that does something (not `set -e`, not a comment), for messages. */
export function describeScript(script: string): string {
  const line = script.split('\n').map((l) => l.trim()).find((l) => l && !l.startsWith('#') && !/^set\s+-[a-z]+$/.test(l) && !/^export LC_ALL=/.test(l));
  return `script: ${line ?? '(empty)'}`;
}
