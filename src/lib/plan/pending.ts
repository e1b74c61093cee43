/**
 * What the plans running in this process have made and not yet undone, as the commands that
 * remove it. The executor keeps it current; the base command prints it when the process must exit
 * at once (a second Ctrl-C), so even then nobody is left without the list. Light on purpose: the
 * base command loads it on every run.
 */
const lists = new Set<() => string[]>()

/** Register a running plan's list; call the returned function when the plan is over. */
export function trackPending(list: () => string[]): () => void {
  lists.add(list)
  return () => {
    lists.delete(list)
  }
}

/** Every running plan's clean-up commands, in the order to run them. */
export function pendingCleanup(): string[] {
  return [...lists].flatMap((list) => {
    try {
      return list()
    } catch {
      return []
    }
  })
}
