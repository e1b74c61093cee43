/**
 * A lock between idp processes on one machine (or one shared file system): a file created with
 * O_EXCL holding who holds it. Used where idp shares something with other idp processes that the
 * tool using it does not lock itself (Terraform's plugin cache, tools/terraform-plugin-cache.ts).
 * A Kubernetes Lease (env/lock.ts) is the lock between machines; this one is local.
 *
 * - The holder's record (pid, host, a nonce, when) is written into the file; the holder touches
 *   it every few seconds while it holds the lock.
 * - A lock is stale, and taken over, when its holder is a process of this host that is gone, or
 *   when it was not touched for `staleMs` (a holder on another host, a frozen one).
 * - Taking a stale lock over renames it away first and checks that what was renamed is the stale
 *   record that was read, so of two processes breaking the same stale lock only one wins and a
 *   fresh lock made meanwhile is put back, never deleted.
 * - Release removes the file only while it still holds this holder's nonce.
 */
import {randomBytes} from 'node:crypto'
import {link, open, readFile, rename, stat, unlink, utimes} from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

import {CancelledError, TimeoutError} from './errors.js'
import {ensurePrivateDir} from './paths.js'

export interface LockHolder {
  pid: number
  host: string
  nonce: string
  /** When it was taken (ISO). */
  at: string
  /** What it is held for, for the message of whoever waits. */
  what?: string
}

export interface FileLockOptions {
  /** What the lock is held for ("terraform init with the plugin cache ..."), kept in the file. */
  what: string
  /** Waiting stops with a CancelledError when this aborts (Ctrl-C). */
  signal?: AbortSignal
  /** Waiting stops with a TimeoutError after this long (default: 10 minutes). */
  timeoutMs?: number
  /** How often a waiter looks again (default 200 ms). */
  pollMs?: number
  /** A lock not touched for this long is stale (default 60 s); the holder touches it every staleMs / 6. */
  staleMs?: number
  /** Called once when the lock is held by another process and this one starts waiting. */
  onWait?: (holder: LockHolder | undefined) => void
}

/** Release the lock: removes the file if it is still this holder's. Never throws. */
export type ReleaseLock = () => Promise<void>

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockHolder>
    return typeof value.pid === 'number' && typeof value.host === 'string' && typeof value.nonce === 'string' && typeof value.at === 'string' ? (value as LockHolder) : undefined
  } catch {
    return undefined
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, {once: true})
  })

/** Whether the lock in `file` (its text and mtime as read) is stale. */
function isStale(holder: LockHolder | undefined, mtimeMs: number, staleMs: number): boolean {
  if (Date.now() - mtimeMs > staleMs) return true
  // A record that does not parse is a holder that died between creating and writing the file:
  // given a moment (it may be writing now), then stale by age.
  if (!holder) return Date.now() - mtimeMs > 2000
  return holder.host === os.hostname() && !alive(holder.pid)
}

/**
 * Take a stale lock away: rename it to a name of this process's own, then check it is the record
 * judged stale. If it is not (another process broke the stale lock and took the lock meanwhile),
 * put that live lock back where it was, unless a third process has taken the lock since.
 */
async function breakStale(file: string, staleText: string): Promise<void> {
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.stale`
  try {
    await rename(file, aside)
  } catch {
    return
  }
  try {
    const moved = await readFile(aside, 'utf8').catch(() => '')
    if (moved !== staleText) await link(aside, file).catch(() => undefined)
  } finally {
    await unlink(aside).catch(() => undefined)
  }
}

/** Hold the lock in `file`, waiting while a live process holds it. */
export async function acquireFileLock(file: string, options: FileLockOptions): Promise<ReleaseLock> {
  const staleMs = options.staleMs ?? 60_000
  const pollMs = options.pollMs ?? 200
  const deadline = Date.now() + (options.timeoutMs ?? 10 * 60_000)
  const record: LockHolder = {pid: process.pid, host: os.hostname(), nonce: randomBytes(8).toString('hex'), at: new Date().toISOString(), what: options.what}
  const text = `${JSON.stringify(record)}\n`
  let waiting = false
  for (;;) {
    if (options.signal?.aborted) throw new CancelledError(`Cancelled while waiting for ${file} (${options.what}).`)
    try {
      const handle = await open(file, 'wx', 0o600)
      try {
        await handle.writeFile(text)
      } finally {
        await handle.close()
      }
      return holding(file, text, staleMs)
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ENOENT') {
        await ensurePrivateDir(path.dirname(file))
        continue
      }
      if (code !== 'EEXIST') throw error
    }
    const [held, info] = await Promise.all([readFile(file, 'utf8').catch(() => undefined), stat(file).catch(() => undefined)])
    if (held === undefined || !info) continue
    const holder = parseHolder(held)
    if (isStale(holder, info.mtimeMs, staleMs)) {
      await breakStale(file, held)
      continue
    }
    if (!waiting) {
      waiting = true
      options.onWait?.(holder)
    }
    if (Date.now() >= deadline) {
      throw new TimeoutError(`Waited ${Math.round((options.timeoutMs ?? 600_000) / 1000)}s for ${file}, held by ${holder ? `process ${holder.pid} on ${holder.host} since ${holder.at}` : 'another process'} (${holder?.what ?? options.what}).`, {
        hint: `Another idp run holds it. Let it finish and retry; if no idp is running any more, remove ${file}.`,
        details: {lock: file, ...(holder ? {holder} : {})},
      })
    }
    await sleep(pollMs, options.signal)
  }
}

function holding(file: string, text: string, staleMs: number): ReleaseLock {
  const touch = setInterval(() => {
    const now = new Date()
    utimes(file, now, now).catch(() => undefined)
  }, Math.max(50, Math.floor(staleMs / 6)))
  touch.unref()
  let released = false
  return async () => {
    if (released) return
    released = true
    clearInterval(touch)
    const held = await readFile(file, 'utf8').catch(() => undefined)
    if (held === text) await unlink(file).catch(() => undefined)
  }
}
