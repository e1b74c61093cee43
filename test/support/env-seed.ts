// Namespaces that look exactly like what `idp env up` leaves behind (labels and annotations from
// src/lib/env/labels.ts), written straight into a Kubernetes stand-in: for `env list`/`gc` tests
// and the benchmark (`idp env list --json` against 50 environments).
import {envMetadata} from '../../src/lib/env/labels.js'
import {type CliRun, runCli} from './cli.js'
import type {KubeStandIn} from './kube-stand-in/index.js'

export interface SeedEnvironmentsOptions {
  service: string
  count: number
  /** The .idp.yml cluster alias recorded in the annotations; default "dev". */
  cluster?: string
  /** The stand-in cluster id to write to; default "host". */
  standInCluster?: string
  /** Environment names are `${prefix}${i}` (i from 1); default "pr-". */
  prefix?: string
  owner?: string
  driver?: 'namespace' | 'vcluster'
  /** Each environment expires this long after `now` (negative: already expired); default 72h. */
  expiresInMs?: number
  now?: Date
}

export interface SeededEnvironment {
  env: string
  namespace: string
}

/** Create `count` idp-labelled namespaces named `<service>-<prefix><i>`; returns what it created. */
export function seedEnvironments(standIn: KubeStandIn, options: SeedEnvironmentsOptions): SeededEnvironment[] {
  const now = options.now ?? new Date()
  const seeded: SeededEnvironment[] = []
  for (let i = 1; i <= options.count; i++) {
    const env = `${options.prefix ?? 'pr-'}${i}`
    const namespace = `${options.service}-${env}`
    seeded.push(seedEnvironment(standIn, {...options, env, namespace, now, pr: /^pr-(\d+)$/u.exec(env)?.[1]}))
  }
  return seeded
}

export interface SeedEnvironmentOptions {
  service: string
  env: string
  namespace?: string
  cluster?: string
  standInCluster?: string
  owner?: string
  driver?: 'namespace' | 'vcluster'
  expiresInMs?: number | null
  createdAt?: Date
  now?: Date
  pr?: string
  url?: string
  sha?: string
}

/** One idp-labelled namespace (expiresInMs null: never expires). */
export function seedEnvironment(standIn: KubeStandIn, options: SeedEnvironmentOptions): SeededEnvironment {
  const store = standIn.store(options.standInCluster ?? 'host')
  const now = options.now ?? new Date()
  const namespace = options.namespace ?? `${options.service}-${options.env}`
  const expiresInMs = options.expiresInMs === undefined ? 72 * 3_600_000 : options.expiresInMs
  const {labels, annotations} = envMetadata({
    service: options.service,
    env: options.env,
    owner: options.owner ?? 'dev@example.com',
    driver: options.driver ?? 'namespace',
    cluster: options.cluster ?? 'dev',
    createdAt: options.createdAt ?? now,
    ...(expiresInMs === null ? {} : {expiresAt: new Date(now.getTime() + expiresInMs)}),
    ...(options.pr ? {pr: options.pr} : {}),
    ...(options.url ? {url: options.url} : {}),
    ...(options.sha ? {sha: options.sha} : {}),
    status: 'ready',
  })
  store.create({apiVersion: 'v1', kind: 'Namespace', metadata: {name: namespace, labels, annotations}})
  return {env: options.env, namespace}
}

export type IdpRun = CliRun

/** Run the built CLI as a user would, with `env` over process.env (undefined removes a variable). */
export function runIdp(args: string[], env: Record<string, string | undefined>): Promise<IdpRun> {
  return runCli(args, {env})
}
