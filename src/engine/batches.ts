/** Split hosts into serial batches like Ansible: sizes or percentages, the last size repeating. */
export function serialBatches(hosts: string[], serial: (number | string)[]): string[][] {
  if (serial.length === 0 || hosts.length === 0) return hosts.length ? [hosts] : [];
  const size = (s: number | string) =>
    Math.max(1, typeof s === 'number' ? Math.floor(s) : Math.floor((hosts.length * Number.parseFloat(s)) / 100) || 1);
  const batches: string[][] = [];
  let i = 0;
  let k = 0;
  while (i < hosts.length) {
    const n = size(serial[Math.min(k, serial.length - 1)]!);
    batches.push(hosts.slice(i, i + n));
    i += n;
    k++;
  }
  return batches;
}

/** Ansible aborts a play when a batch's failures exceed max_fail_percentage (default: only when every host failed). */
export function batchExceedsFailures(failed: number, size: number, maxFailPercentage: number | undefined): boolean {
  if (size === 0) return false;
  if (maxFailPercentage === undefined) return failed === size;
  return (failed / size) * 100 > maxFailPercentage;
}
