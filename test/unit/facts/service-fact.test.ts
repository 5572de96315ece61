// Issue 13: a no-op's service facts cost one systemctl process per service when `systemctl show` already says
// whether the unit is enabled; `systemctl is-enabled` runs only when it does not (enabled-runtime, generated
// SysV units, a unit that does not exist). The systemd branch of the real script runs under sh here, with
// systemctl a shell function that answers as systemd 252 does and records its calls (this machine has no systemd).
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { serviceFact } from '../../../src/facts/service.js';

function runSystemdBranch(unitFileState: string, isEnabled: string): { calls: string[]; facts: ReturnType<ReturnType<typeof serviceFact>['parse']> } {
  const q = serviceFact('mosquitto');
  const fake = `systemctl() {
  echo "$1" >&3
  case "$1" in
    show) printf 'LoadState=loaded\\nActiveState=active\\nSubState=running\\nUnitFileState=${unitFileState}\\nNeedDaemonReload=no\\n' ;;
    is-enabled) echo '${isEnabled}' ;;
  esac
}
exec 3>&2
`;
  const script = fake + q.script.replace('[ -d /run/systemd/system ]', 'true');
  const r = spawnSync('sh', ['-c', script], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  return { calls: r.stderr.split('\n').filter(Boolean), facts: q.parse(r.stdout, 0) };
}

describe('serviceFact on systemd', () => {
  const cases = [
    { state: 'enabled', isEnabled: 'enabled', calls: ['show'], enabledState: 'enabled' },
    { state: 'disabled', isEnabled: 'disabled', calls: ['show'], enabledState: 'disabled' },
    { state: 'static', isEnabled: 'static', calls: ['show'], enabledState: 'static' },
    { state: 'masked', isEnabled: 'masked', calls: ['show'], enabledState: 'masked' },
    { state: 'enabled-runtime', isEnabled: 'enabled-runtime', calls: ['show', 'is-enabled'], enabledState: 'enabled-runtime' },
    { state: 'generated', isEnabled: 'enabled', calls: ['show', 'is-enabled'], enabledState: 'enabled' },
    { state: '', isEnabled: 'not-found', calls: ['show', 'is-enabled'], enabledState: 'not-found' },
  ];
  for (const c of cases) {
    it(`UnitFileState=${c.state || '(empty)'}: asks ${c.calls.join(' + ')}, enabled state ${c.enabledState}`, () => {
      const r = runSystemdBranch(c.state, c.isEnabled);
      expect(r.calls).toEqual(c.calls);
      expect(r.facts).toMatchObject({ init: 'systemd', exists: true, activeState: 'active', enabledState: c.enabledState, needDaemonReload: false });
    });
  }
});
