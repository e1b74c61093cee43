import {IdpError} from '../../src/lib/cli/errors.js'

/** The IdpError a promise rejects with; fails the test when it resolves or rejects with anything else. */
export async function rejection(promise: Promise<unknown>): Promise<IdpError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!(error instanceof IdpError)) throw new Error(`expected an IdpError, got ${String(error)}`)
  return error
}
