/**
 * Rows that one `--only` name selects together, beside the row ids themselves:
 * `--only=cluster` runs every row of bench/scenarios/cluster.ts.
 */
export const ROW_GROUPS: Readonly<Record<string, readonly string[]>> = {
  cluster: [
    'cluster-send-write-behind',
    'cluster-read-hit',
    'cluster-expiry-throughput',
    'cluster-lag',
    'cluster-failover',
    'cluster-wait-cost',
  ],
};

/** `names` with each group name replaced by its row ids (duplicates dropped, order kept). */
export function expandRowGroups(names: readonly string[]): string[] {
  return [...new Set(names.flatMap((name) => ROW_GROUPS[name] ?? [name]))];
}
