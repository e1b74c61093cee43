/**
 * The process render-bound.ts starts: one render job as JSON on stdin, its outcome (or its error,
 * as plain data) as JSON on stdout. It writes no file: rendering returns contents.
 */
import {type RenderJob, runRenderJob, serializeError} from './render-job.js'

const chunks: Buffer[] = []
for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
let answer: unknown
try {
  answer = {ok: true, outcome: await runRenderJob(JSON.parse(Buffer.concat(chunks).toString('utf8')) as RenderJob)}
} catch (error) {
  answer = {ok: false, error: serializeError(error)}
}
process.stdout.write(JSON.stringify(answer))
