import { execFileSync } from 'node:child_process';
import { ensureControllerPackages } from '../support/controller-packages.js';

/** Runs once before all tests: the machine gets what the tests need, and dist/ matches the sources. */
export default function setup(): void {
  ensureControllerPackages();
  execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
}
