/**
 * The process render-bound.ts starts: one render job as JSON on stdin, its outcome (or its error,
 * as plain data) as JSON on stdout. It writes no file: rendering returns contents.
 *
 * The render runs on a worker thread of this process, so that the main thread stays free to
 * watch for idp: when idp is gone (killed by SIGKILL or SIGHUP, where it cannot stop its
 * children), this process is re-parented and kills itself within a fraction of a second rather
 * than keep a core busy until a runaway template ends. The worker has no resourceLimits of its
 * own (best-effort, nodejs/node#47224): the process's --max-old-space-size bounds its heap, and
 * idp's deadline kills the whole process. A worker stopped at that heap limit is reported the way
 * the process's own heap exhaustion is ("JavaScript heap out of memory" on stderr, exit 134).
 */
import {isMainThread, parentPort, Worker, workerData} from 'node:worker_threads'

import {type RenderJob, runRenderJob, serializeError} from './render-job.js'

/** How often the main thread checks that idp is still its parent. */
const WATCH_MS = 200

async function renderJob(text: string): Promise<unknown> {
  try {
    return {ok: true, outcome: await runRenderJob(JSON.parse(text) as RenderJob)}
  } catch (error) {
    return {ok: false, error: serializeError(error)}
  }
}

/** Kill this process (and so the worker, whatever it is doing) once idp, its parent, is gone. */
function watchParent(): void {
  const expected = Number(process.env.IDP_PARENT_PID)
  const parent = Number.isInteger(expected) && expected > 0 ? expected : process.ppid
  const check = () => {
    if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL')
  }
  check()
  setInterval(check, WATCH_MS).unref()
}

if (isMainThread) {
  watchParent()
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  const worker = new Worker(new URL(import.meta.url), {workerData: Buffer.concat(chunks).toString('utf8')})
  // The watch above is unref'd: while the worker renders, it is what keeps this process alive.
  const interval = setInterval(() => {}, 1 << 30)
  worker.once('message', (answer: unknown) => {
    process.stdout.write(JSON.stringify(answer))
  })
  worker.once('error', (error: Error & {code?: string}) => {
    process.stderr.write(error.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'FATAL ERROR: JavaScript heap out of memory (the renderer\'s worker)\n' : `${error.stack ?? error.message}\n`)
    process.exitCode = error.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 134 : 1
  })
  worker.once('exit', () => clearInterval(interval))
} else {
  parentPort!.postMessage(await renderJob(workerData as string))
}
