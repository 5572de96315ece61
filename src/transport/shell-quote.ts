/** Quote one word for POSIX sh. */
export function shq(s: string | number): string {
  const v = String(s);
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(v)) return v;
  return `'${v.replace(/'/g, `'\\''`)}'`;
}
