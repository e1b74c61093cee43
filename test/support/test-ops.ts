/**
 * Ops that exist only in the executor's and the formatter's own tests: plans of made-up steps,
 * typed like any golden path's (OpRegistry in src/lib/plan/types.ts is an interface, so a test
 * program may add to it; the product's registry is untouched).
 */
import type {OpSpec} from '../../src/lib/plan/types.js'

declare module '../../src/lib/plan/types.js' {
  interface OpRegistry {
    'kube.apply': OpSpec<Record<string, unknown>, unknown>
    'kube.delete': OpSpec<Record<string, unknown>, unknown>
    'fs.write': OpSpec<Record<string, unknown>, unknown>
  }
}
