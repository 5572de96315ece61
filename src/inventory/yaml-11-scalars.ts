import type { ScalarTag } from 'yaml';

/**
 * Plain scalars typed as PyYAML (YAML 1.1) types them, since that is how Ansible reads YAML; the yaml package's
 * own 1.1 schema differs in floats and timestamps (checked against ansible-inventory 2.14, corpus `yaml-typing`).
 */

/** PyYAML's float: a dot is required, an exponent needs its sign (`1e3` and `1.0e3` are strings, `1.0e+3` is 1000). */
const FLOAT = /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;

function resolveFloat(text: string): number {
  const s = text.replace(/_/g, '').toLowerCase();
  const sign = s.startsWith('-') ? -1 : 1;
  const body = s.replace(/^[-+]/, '');
  if (body === '.inf') return sign * Infinity;
  if (body === '.nan') return NaN;
  if (body.includes(':')) return sign * body.split(':').reduce((acc, part) => acc * 60 + Number(part), 0);
  return sign * Number(body);
}

export const pyFloat: ScalarTag = {
  identify: (v) => typeof v === 'number' && !Number.isInteger(v), default: true, tag: 'tag:yaml.org,2002:float',
  test: FLOAT, resolve: resolveFloat,
};

const TIMESTAMP = /^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:(?:[Tt]|[ \t]+)([0-9]{1,2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]*))?(?:[ \t]*(Z|([-+])([0-9]{1,2})(?::([0-9]{2}))?))?)?$/;
/** PyYAML's implicit timestamp: a date is `YYYY-MM-DD` exactly; with a time, month and day may have one digit. */
const TIMESTAMP_TEST = /^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)$/;

const two = (n: string | number) => String(n).padStart(2, '0');

/**
 * A timestamp becomes the text Ansible shows for it (Python's `isoformat()`, as in `ansible-inventory --list`):
 * `2001-01-01`, `2001-12-14T21:59:43.100000-05:00`. Ansible has a date object there; provision keeps that text.
 */
function resolveTimestamp(text: string): string {
  const m = TIMESTAMP.exec(text)!;
  const [, y, mo, d, h, mi, s, frac, tz, sign, tzh, tzm] = m;
  const date = `${y}-${two(mo!)}-${two(d!)}`;
  if (h === undefined) return date;
  const micro = (frac ?? '').slice(0, 6).padEnd(6, '0');
  let out = `${date}T${two(h)}:${mi}:${s}${Number(micro) ? `.${micro}` : ''}`;
  if (tz === 'Z') out += '+00:00';
  else if (sign) out += `${sign}${two(tzh!)}:${tzm ?? '00'}`;
  return out;
}

export const pyTimestamp: ScalarTag = {
  identify: () => false, default: true, tag: 'tag:yaml.org,2002:timestamp',
  test: TIMESTAMP_TEST, resolve: resolveTimestamp,
};
