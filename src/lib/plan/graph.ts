import {InternalError} from '../cli/errors.js'
import {TOOL_NAMES} from '../tools/types.js'
import {type Action, type Plan, PLAN_VERSION} from './types.js'

/**
 * The dependencies each step really has. A step without a `dependsOn` field waits for the step
 * before it (sequential by default, see PlanStep.dependsOn); `dependsOn: []` waits for nothing.
 */
export function effectiveDependencies(plan: Plan): Map<string, string[]> {
  const deps = new Map<string, string[]>()
  plan.steps.forEach((step, index) => {
    const previous = index > 0 ? plan.steps[index - 1]?.id : undefined
    deps.set(step.id, step.dependsOn ? [...new Set(step.dependsOn)] : previous === undefined ? [] : [previous])
  })
  return deps
}

/**
 * The steps each step may run at the same time as: those neither before nor after it through
 * the dependencies. Derived, never written by hand, so the display cannot disagree with what the
 * executor does.
 */
export function concurrentSteps(plan: Plan): Map<string, string[]> {
  const deps = effectiveDependencies(plan)
  const before = new Map<string, Set<string>>()
  const ancestors = (id: string): Set<string> => {
    const known = before.get(id)
    if (known) return known
    const found = new Set<string>()
    // Marked before the walk, so a cycle (a planner bug validatePlan reports) cannot loop here.
    before.set(id, found)
    for (const dep of deps.get(id) ?? []) {
      found.add(dep)
      for (const earlier of ancestors(dep)) found.add(earlier)
    }
    return found
  }
  const ids = plan.steps.map((step) => step.id)
  return new Map(ids.map((id) => [id, ids.filter((other) => other !== id && !ancestors(id).has(other) && !ancestors(other).has(id))]))
}

const PLANNER_BUG_HINT = 'This is a bug in the planner of idp, not in your input. Please report it with the output of the same command with --dry-run --json.'

/**
 * Check a plan before anything runs: a malformed plan is a planner bug (InternalError), and it
 * must be caught while nothing has changed yet. `ops` are the API/local handler names available;
 * when given, every op of every action and undo action must be among them.
 */
export function validatePlan(plan: Plan, ops?: Iterable<string>): Map<string, string[]> {
  const problems: string[] = []
  if (!plan || typeof plan !== 'object') throw new InternalError('Invalid plan: not an object.', {hint: PLANNER_BUG_HINT})
  if (plan.version !== PLAN_VERSION) problems.push(`plan version is ${JSON.stringify(plan.version)}, this idp reads version ${PLAN_VERSION}`)
  if (!Array.isArray(plan.steps)) throw new InternalError(`Invalid plan ${plan.kind}: steps is not a list.`, {hint: PLANNER_BUG_HINT})

  const known = ops === undefined ? undefined : new Set(ops)
  const ids = new Set<string>()
  for (const [index, step] of plan.steps.entries()) {
    const where = `step ${index + 1}`
    if (typeof step?.id !== 'string' || step.id === '') {
      problems.push(`${where} has no id`)
      continue
    }
    if (ids.has(step.id)) problems.push(`${where} repeats the id "${step.id}"`)
    ids.add(step.id)
    if (typeof step.title !== 'string' || step.title === '') problems.push(`${where} ("${step.id}") has no title`)
    checkAction(step.action, `${where} ("${step.id}")`, known, problems)
    for (const [u, undo] of (step.undo ?? []).entries()) checkAction(undo, `undo ${u + 1} of ${where} ("${step.id}")`, known, problems)
  }

  for (const step of plan.steps) {
    if (typeof step?.id !== 'string') continue
    for (const dep of step.dependsOn ?? []) {
      if (dep === step.id) problems.push(`step "${step.id}" depends on itself`)
      else if (!ids.has(dep)) problems.push(`step "${step.id}" depends on unknown step "${dep}"`)
    }
  }

  const deps = effectiveDependencies(plan)
  if (problems.length === 0) {
    const cycle = findCycle(deps)
    if (cycle) problems.push(`steps depend on each other in a cycle: ${cycle.join(' -> ')}`)
  }

  if (problems.length > 0) {
    throw new InternalError(`Invalid plan ${plan.kind}: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more problem(s))` : ''}.`, {
      hint: PLANNER_BUG_HINT,
      details: {problems},
    })
  }

  return deps
}

function checkAction(action: Action | undefined, where: string, ops: Set<string> | undefined, problems: string[]): void {
  if (!action || typeof action !== 'object') {
    problems.push(`${where} has no action`)
    return
  }
  switch (action.kind) {
    case 'tool': {
      if (!TOOL_NAMES.includes(action.tool)) problems.push(`${where} runs unknown tool "${String(action.tool)}"`)
      if (!Array.isArray(action.argv) || action.argv.some((arg) => typeof arg !== 'string')) problems.push(`${where} has an argv that is not a list of strings`)
      return
    }
    case 'api':
    case 'local': {
      if (typeof action.op !== 'string' || (action.op as string) === '') problems.push(`${where} has no op`)
      else if (ops && !ops.has(action.op)) problems.push(`${where} uses op "${action.op}", which has no handler`)
      return
    }
    default:
      problems.push(`${where} has unknown action kind "${String((action as {kind?: unknown}).kind)}"`)
  }
}

/** A cycle in the dependency graph, as ids from the first repeated step back to itself. */
function findCycle(deps: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>()
  const stack: string[] = []
  const visit = (id: string): string[] | undefined => {
    const seen = state.get(id)
    if (seen === 'done') return undefined
    if (seen === 'visiting') return [...stack.slice(stack.indexOf(id)), id]
    state.set(id, 'visiting')
    stack.push(id)
    for (const dep of deps.get(id) ?? []) {
      const cycle = visit(dep)
      if (cycle) return cycle
    }
    stack.pop()
    state.set(id, 'done')
    return undefined
  }
  for (const id of deps.keys()) {
    const cycle = visit(id)
    if (cycle) return cycle
  }
  return undefined
}
