// `npm test`: unit tests, then end-to-end tests on sandbox hosts (one after the other: 2 cores),
// then one closing line with the totals of both.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const out = join(import.meta.dirname, '..', 'dist', 'test-results');
mkdirSync(out, { recursive: true });
const only = process.argv.slice(2);
const totals = { passed: 0, failed: 0, skipped: 0 };
let status = 0;
for (const project of ['unit', 'e2e']) {
  if (only.length && !only.includes(project)) continue;
  const file = join(out, `${project}.json`);
  const r = spawnSync('npx', ['vitest', 'run', '--project', project, '--reporter=default', '--reporter=json', `--outputFile.json=${file}`], { stdio: 'inherit' });
  if (r.status !== 0) status = r.status ?? 1;
  if (existsSync(file)) {
    const j = JSON.parse(readFileSync(file, 'utf8'));
    totals.passed += j.numPassedTests;
    totals.failed += j.numFailedTests;
    totals.skipped += j.numPendingTests + (j.numTodoTests ?? 0);
  } else status ||= 1;
}
console.log(`${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(status);
