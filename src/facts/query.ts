// The fact contract: a query the engine batches with others into one round trip, and the results a step reads.
/** A fact: a read-only shell query whose output is parsed. All facts of a phase run in one batch (one round trip). */
export interface FactQuery<T = unknown> {
  /** Identical keys are the same query, run once per batch. */
  key: string;
  /** POSIX sh; runs as root (become); its stdout goes to `parse`. */
  script: string;
  parse(stdout: string, exitCode: number): T;
  /**
   * Which file writes of an earlier step make this fact stale (the engine then gathers it again): `{ paths }` a
   * write of one of these files, `{ under }` a write below this directory, `'files-never'` no file write (package,
   * user, service, firewall state). Unset: any file write (guards and role facts may read anything).
   */
  staleAfter?: { paths: readonly string[] } | { under: string } | 'files-never';
}

export interface FactResults {
  get<T>(query: FactQuery<T>): T;
}
