import { c } from './colors.js';

/** One end-to-end check of `provision verify` and what it found. */
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** `✔ name — detail` (✖ when it failed). */
export function checkLine(x: Check): string {
  return `${x.ok ? c.green('✔') : c.red('✖')} ${x.name}${x.detail ? c.gray(` — ${x.detail}`) : ''}\n`;
}

/** The last line: how many checks failed, or that all passed. */
export function checksSummary(checks: Check[]): string {
  const failed = checks.filter((x) => !x.ok).length;
  return failed ? c.red(`\n${failed} of ${checks.length} checks failed\n`) : c.green(`\nall ${checks.length} checks passed\n`);
}
