/**
 * A local record of what an apply did: the plan, each step's status and error, and the clean-up
 * commands a failure left. `idp env status` shows the last run of an environment from it. Nothing
 * resumes from it: running a golden path again after a failure picks up from what the cluster
 * holds (every step is safe to repeat), and the cluster's labels are the truth about what exists.
 */
import {readFile} from 'node:fs/promises'
import path from 'node:path'

import {InternalError} from '../cli/errors.js'
import {writePrivateFile} from '../cli/paths.js'
import type {JsonPlan} from './format.js'
import type {StepRecord} from './types.js'

export const JOURNAL_VERSION = 1

export type JournalStatus = 'running' | 'complete' | 'failed' | 'cancelled'

export interface Journal {
  version: typeof JOURNAL_VERSION
  key: string
  status: JournalStatus
  startedAt: string
  updatedAt: string
  /** The plan as applied, redacted (the same form as `result.plan` under --json). */
  plan: JsonPlan
  /** One record per step, in plan order. */
  steps: StepRecord[]
  /** Set after a failure when something was left behind: the commands that clean it up. */
  cleanup?: string[]
}

const KEY = /^[A-Za-z0-9][\w.-]{0,199}$/u

export function journalPath(dir: string, key: string): string {
  if (!KEY.test(key)) throw new InternalError(`Invalid journal key "${key}".`, {hint: 'A journal key is a file name: letters, digits, ".", "_" and "-".'})
  return path.join(dir, `${key}.json`)
}

/** The journal written by an earlier apply, or undefined when there is none. */
export async function loadJournal(dir: string, key: string): Promise<Journal | undefined> {
  const file = journalPath(dir, key)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
  let journal: Journal
  try {
    journal = JSON.parse(text) as Journal
  } catch (error) {
    throw new InternalError(`The journal ${file} is not valid JSON.`, {cause: error, hint: `Delete ${file}; it is only a record of the last run, and the cluster holds the real state.`})
  }
  if (journal?.version !== JOURNAL_VERSION || !Array.isArray(journal.steps)) {
    throw new InternalError(`The journal ${file} has an unknown format (version ${JSON.stringify(journal?.version)}).`, {hint: `Delete ${file}; it is only a record of the last run, and the cluster holds the real state.`})
  }
  return journal
}

/** Write the whole file at once (temp file + rename) so a crash never leaves half a journal. */
export async function writeJournal(dir: string, journal: Journal): Promise<void> {
  await writePrivateFile(journalPath(dir, journal.key), `${JSON.stringify(journal, null, 2)}\n`)
}

/**
 * Serialises journal writes: steps finish concurrently and each change hands over a snapshot;
 * while one is being written, a newer snapshot replaces any still waiting (only the latest is
 * worth writing), and the file always ends as the last snapshot. A failing write must not fail
 * the apply (the journal is a convenience), so the first error is kept for the caller to report
 * as a warning.
 */
export class JournalWriter {
  private pending: Journal | undefined
  private writing: Promise<void> | undefined
  /** Snapshots written to the file (fewer than handed over when they came quickly). */
  written = 0
  error: unknown

  constructor(
    readonly dir: string,
    readonly key: string,
  ) {
    journalPath(dir, key)
  }

  get file(): string {
    return journalPath(this.dir, this.key)
  }

  /** `journal` must not change afterwards: it may be written later. */
  write(journal: Journal): void {
    this.pending = journal
    this.writing ??= this.drain()
  }

  private async drain(): Promise<void> {
    while (this.pending) {
      const next = this.pending
      this.pending = undefined
      try {
        await writeJournal(this.dir, next)
        this.written++
      } catch (error) {
        this.error ??= error
      }
    }
    this.writing = undefined
  }

  async flush(): Promise<void> {
    await this.writing
  }
}
