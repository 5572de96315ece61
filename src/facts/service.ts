import type { FactQuery } from './query.js';
import { shq } from '../transport/shell-quote.js';
import { checkName, keyValues, sectionLines, splitSections } from './sections.js';

export interface ServiceFacts {
  init: 'systemd' | 'sysv';
  /** systemd: LoadState=loaded; sysv: /etc/init.d/<name> exists. */
  exists: boolean;
  /** systemd: `systemctl is-enabled` word (enabled, disabled, static, masked, …, '' when unknown); sysv: 'enabled' | 'disabled'. */
  enabledState: string;
  /** systemd ActiveState (active, inactive, failed, activating, …); sysv: 'active' when `status` exits 0, else 'inactive'. */
  activeState: string;
  /** systemd says the unit file changed on disk since it was loaded. */
  needDaemonReload: boolean;
}

export function unitName(name: string): string {
  return /\.(service|socket|timer|target|path|mount)$/.test(name) ? name : `${name}.service`;
}

/** systemctl show/is-enabled, or the init script's status and rc links when the host runs SysV init. */
export function serviceFact(name: string): FactQuery<ServiceFacts> {
  checkName('service', name);
  const unit = shq(unitName(name));
  const base = shq(name.replace(/\.service$/, ''));
  return {
    key: `service:${name}`,
    staleAfter: 'files-never',
    script: `if [ -d /run/systemd/system ]; then
echo @@init; echo systemd
show=$(systemctl show -p LoadState,ActiveState,SubState,UnitFileState,NeedDaemonReload -- ${unit} 2>/dev/null)
echo @@show; printf '%s\\n' "$show"
# is-enabled only when UnitFileState does not already answer it: one systemctl process per service on a no-op.
ufs=\${show#*UnitFileState=}; [ "$ufs" = "$show" ] && ufs=; ufs=\${ufs%%
*}
case "$ufs" in enabled|disabled|static|masked|indirect) ;; *) echo @@enabled; systemctl is-enabled -- ${unit} 2>/dev/null ;; esac
else
echo @@init; echo sysv
if [ -x /etc/init.d/${base} ]; then echo @@script; echo present; /etc/init.d/${base} status >/dev/null 2>&1; rc=$?; echo @@status; echo $rc; fi
echo @@links; ls /etc/rc[2345].d/S??${base} /etc/rc.d/rc[2345].d/S??${base} 2>/dev/null
fi
true`,
    parse: (stdout) => {
      const s = splitSections(stdout);
      if ((s.get('init') ?? '').trim() !== 'sysv') {
        const kv = keyValues(s.get('show') ?? '');
        const enabled = sectionLines(s, 'enabled')[0]?.trim() ?? '';
        return {
          init: 'systemd',
          exists: kv.get('LoadState') === 'loaded',
          enabledState: enabled || kv.get('UnitFileState') || '',
          activeState: kv.get('ActiveState') ?? 'inactive',
          needDaemonReload: kv.get('NeedDaemonReload') === 'yes',
        };
      }
      return {
        init: 'sysv',
        exists: s.has('script'),
        enabledState: sectionLines(s, 'links').length > 0 ? 'enabled' : 'disabled',
        activeState: (s.get('status') ?? '').trim() === '0' ? 'active' : 'inactive',
        needDaemonReload: false,
      };
    },
  };
}
