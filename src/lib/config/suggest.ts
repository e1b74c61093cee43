/**
 * "Did you mean" for misspelt keys and values: the closest candidate by edit distance
 * (optimal string alignment, so a swapped pair of letters counts as one edit).
 */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1
  const cols = b.length + 1
  const d: number[][] = Array.from({length: rows}, (_, i) => Array.from({length: cols}, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1)
      d[i]![j] = best
    }
  }
  return d[a.length]![b.length]!
}

/**
 * The candidate closest to `input`, or undefined when none is close enough to be a plausible
 * typo (a third of the word, at least one edit; case differences are free).
 */
export function closest(input: string, candidates: Iterable<string>): string | undefined {
  const lower = input.toLowerCase()
  let best: {candidate: string; distance: number} | undefined
  for (const candidate of candidates) {
    if (candidate === input) continue
    const distance = editDistance(lower, candidate.toLowerCase())
    if (!best || distance < best.distance) best = {candidate, distance}
  }
  if (!best) return undefined
  const limit = Math.max(1, Math.floor(Math.max(input.length, best.candidate.length) / 3))
  return best.distance <= limit ? best.candidate : undefined
}
