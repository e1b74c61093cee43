import {spawn} from 'node:child_process'
import {randomUUID} from 'node:crypto'
import {describe, expect, it} from 'vitest'
import {leftoverProcesses} from '../support/global-setup.js'
import {RUN_MARKER_ENV} from '../support/tool-env.js'

describe('leftover process check (global teardown)', () => {
  it('finds a detached child carrying the run marker, and forgets it once it has exited', async () => {
    const marker = randomUUID()
    const child = spawn('sleep', ['30'], {detached: true, stdio: 'ignore', env: {...process.env, [RUN_MARKER_ENV]: marker}})
    child.unref()
    const exited = new Promise((resolve) => child.once('exit', resolve))
    try {
      expect(leftoverProcesses(marker).map((p) => p.pid)).toContain(child.pid)
    } finally {
      child.kill('SIGKILL')
    }
    await exited
    expect(leftoverProcesses(marker).map((p) => p.pid)).not.toContain(child.pid)
  })
})
