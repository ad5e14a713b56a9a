/** Order statistics of a benchmark's samples. */

/** The median: the middle sample, or the mean of the two middle ones. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** The nearest-rank percentile (p in 0..100). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!
}

/** Peak resident set size of a live process in MB (VmHWM), or NaN when it cannot be read. */
export function peakRssMb(statusText: string | null): number {
  const m = statusText === null ? null : /^VmHWM:\s+(\d+) kB$/m.exec(statusText)
  return m === null ? NaN : Number(m[1]) / 1024
}
