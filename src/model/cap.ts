/**
 * Bounded label values: the `max` keys with the largest counts keep their own
 * series (ties by key), the rest are summed under `other`. Used for users and
 * for client addresses.
 */

/** The label value past the cap. */
export const OTHER = 'other'

export function capToTop(counts: ReadonlyMap<string, number>, max: number): Map<string, number> {
  if (counts.size <= max) return new Map(counts)
  const ranked = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
  const capped = new Map<string, number>()
  let other = 0
  for (let i = 0; i < ranked.length; i++) {
    const [key, n] = ranked[i]!
    // A real key named "other" (an account) is summed with the rest rather than shadowing it.
    if (i < max && key !== OTHER) capped.set(key, n)
    else other += n
  }
  capped.set(OTHER, other)
  return capped
}
