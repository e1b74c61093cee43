import {CancelledError} from './errors.js'

/** Sleep `ms`, or stop at once with a CancelledError (exit 130) when the signal aborts (Ctrl-C). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new CancelledError())
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(new CancelledError())
    }
    signal.addEventListener('abort', onAbort, {once: true})
  })
}

export interface Deadline {
  /** Aborts when the time is up or the caller's signal aborts, whichever is first. */
  signal: AbortSignal
  /** The time limit (not the caller) ended the wait. */
  expired(): boolean
  /** The limit in whole seconds, for "no answer within N s". */
  seconds: number
}

/** A time limit for a read (client-node 1.x has none of its own) joined with the caller's signal (Ctrl-C). */
export function deadline(ms: number, signal?: AbortSignal): Deadline {
  const timeout = AbortSignal.timeout(ms)
  return {
    signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    expired: () => timeout.aborted && !signal?.aborted,
    seconds: Math.round(ms / 1000),
  }
}
