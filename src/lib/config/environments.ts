import os from 'node:os'
import path from 'node:path'

import {ConfigError, UsageError} from '../cli/errors.js'
import {assertDnsLabel, dnsLabelProblem} from '../cli/names.js'
import {parseDuration} from './duration.js'
import type {EnvironmentConfig, IdpConfig} from './schema.js'
import {closest} from './suggest.js'
import {expandTemplate, type TemplateVars} from './template.js'
import {globToRegExp} from './glob.js'
import {vaultPathProblem} from './vault-path.js'

export interface EnvironmentMatch {
  /** The key in `environments` that matched: the name itself or a pattern such as `pr-*`. */
  key: string
  pattern: boolean
  settings: EnvironmentConfig
}

type Scalar = string | number | boolean

/** A Kubernetes Secret idp writes from Vault: references only, never a value. */
export interface SecretRef {
  /** The Kubernetes Secret's name. */
  name: string
  /** The KV v2 path inside the mount. */
  path: string
  /** The keys to copy; absent: every key at the path. */
  keys?: string[]
  /** A fixed version; absent: the current one. */
  version?: number
}

/** The Vault settings of .idp.yml, before VAULT_ADDR and friends fill the gaps (vault/settings.ts). */
export interface VaultSettings {
  address?: string
  namespace?: string
  /** Absolute. */
  caCert?: string
  mount: string
  auth: {method: 'token' | 'jwt'; path: string; role?: string; audience?: string}
}

export interface ResolvedSecrets {
  /** The key of secrets.env that matched. */
  key: string
  vault: VaultSettings
  items: SecretRef[]
}

/** One environment with defaults applied, templates expanded and local paths made absolute. */
export interface ResolvedEnvironment {
  name: string
  key: string
  pattern: boolean
  service: string
  /** The team that owns the service (service.owner), recorded on the environment for team views. */
  team?: string
  cluster: {alias: string; context: string; kubeconfig?: string}
  driver: 'vcluster' | 'namespace'
  namespace: string
  ttl?: string
  ttlMs?: number
  protected: boolean
  url?: string
  helm?: {chart: string; values: string[]; set: Record<string, Scalar>}
  terraform?: {dir: string; vars: Record<string, Scalar>; workspace: string; stateNamespace?: string}
  vcluster?: {values: string[]; chartVersion?: string; server?: string}
  /** The Kubernetes Secrets idp writes from Vault (secrets.env), if any. */
  secrets?: ResolvedSecrets
  /** The values the templates were expanded with. */
  vars: TemplateVars
}

export interface ResolveEnvironmentOptions {
  /** Directory of the config file; local paths are resolved against it. Without it they stay as written. */
  root?: string
  /** pr, sha, branch (env and service come from the name and the config). */
  vars?: TemplateVars
}

/**
 * The settings for environment `name`: an exact key beats a pattern; among matching patterns the
 * most specific wins (most literal characters, then fewest `*`, then the first in the file).
 */
export function matchEnvironment(config: IdpConfig, name: string): EnvironmentMatch | undefined {
  return matchKey(config.environments, name)
}

/** The entry of a table keyed by environment name or pattern that applies to `name` (the rules of matchEnvironment). */
export function matchKey<T>(table: Record<string, T>, name: string): {key: string; pattern: boolean; settings: T} | undefined {
  const envs = Object.entries(table)
  const exact = envs.find(([key]) => key === name)
  if (exact) return {key: exact[0], pattern: false, settings: exact[1]}
  const stars = (key: string) => key.split('*').length - 1
  const best = envs
    .map(([key, settings], order) => ({key, settings, order}))
    .filter(({key}) => key.includes('*') && globToRegExp(key).test(name))
    .sort((a, b) => b.key.length - stars(b.key) - (a.key.length - stars(a.key)) || stars(a.key) - stars(b.key) || a.order - b.order)[0]
  return best && {key: best.key, pattern: true, settings: best.settings}
}

/**
 * The Kubernetes Secrets an environment gets from Vault: `secrets.env` matched by the rules of
 * environments (an exact name beats a pattern, then the most specific pattern), paths expanded.
 * Only references: names, paths, keys. The values are read at apply time and held in memory.
 */
export function resolveSecrets(config: IdpConfig, name: string, vars: TemplateVars, root?: string): ResolvedSecrets | undefined {
  const secrets = config.secrets
  if (!secrets) return undefined
  const match = matchKey(secrets.env, name)
  if (!match || Object.keys(match.settings).length === 0) return undefined
  const {vault} = secrets
  const items = Object.entries(match.settings).map(([secret, source]): SecretRef => {
    const where = `secrets.env.${match.key}.${secret}.path`
    const vaultPath = expandTemplate(source.path, vars, where)
    const problem = vaultPathProblem(vaultPath)
    if (problem) throw new UsageError(`${where} "${source.path}" expands to "${vaultPath}": ${problem}.`, {hint: 'Change the path in .idp.yml, or the value its placeholder takes.'})
    return {name: secret, path: vaultPath, ...(source.keys ? {keys: [...source.keys]} : {}), ...(source.version === undefined ? {} : {version: source.version})}
  })
  return {
    key: match.key,
    vault: {
      ...(vault.address ? {address: vault.address} : {}),
      ...(vault.namespace ? {namespace: vault.namespace} : {}),
      ...(vault.caCert ? {caCert: kubeconfigFile(vault.caCert, root)} : {}),
      mount: vault.mount.replace(/^\/+|\/+$/gu, ''),
      auth: {method: vault.auth.method, path: vault.auth.path, ...(vault.auth.role ? {role: vault.auth.role} : {}), ...(vault.auth.audience ? {audience: vault.auth.audience} : {})},
    },
    items,
  }
}

export function resolveEnvironment(config: IdpConfig, name: string, options: ResolveEnvironmentOptions = {}): ResolvedEnvironment {
  assertDnsLabel(name, 'environment name')
  const match = matchEnvironment(config, name)
  if (!match) {
    const keys = Object.keys(config.environments)
    const suggestion = closest(name, keys.filter((key) => !key.includes('*')))
    throw new UsageError(
      keys.length === 0 ? `No environment "${name}": .idp.yml defines no environments.` : `No environment "${name}" in .idp.yml. Configured: ${keys.join(', ')}.${suggestion ? ` Did you mean ${suggestion}?` : ''}`,
      {hint: keys.length === 0 ? 'Add an environments: section to .idp.yml (`idp config example` shows one).' : 'Use a configured name, or one a pattern matches (pr-* matches pr-123); or add the environment to .idp.yml.'},
    )
  }
  const {key, pattern, settings} = match
  const where = (field: string) => `environments.${key}.${field}`
  const prFromName = /^pr-(\d+)$/u.exec(name)?.[1]
  const vars: TemplateVars = {...options.vars, env: name, service: config.service.name}
  if (vars.pr === undefined && prFromName) vars.pr = prFromName

  const cluster = config.clusters[settings.cluster]
  if (!cluster) throw new ConfigError(`${where('cluster')}: unknown cluster "${settings.cluster}".`, [], {hint: 'Run `idp config validate` to see every problem in .idp.yml.'})

  const local = (file: string) => (options.root ? path.resolve(options.root, file) : file)
  // A chart is a local path only when it looks like one; `repo/chart` and oci:// refs stay as they are.
  const chart = (ref: string) => (/^(\.{1,2}\/|\/)/u.test(ref) || ref === '.' ? local(ref) : ref)
  const expandAll = (values: Record<string, Scalar>, field: string) =>
    Object.fromEntries(Object.entries(values).map(([k, v]) => [k, typeof v === 'string' ? expandTemplate(v, vars, `${where(field)}.${k}`) : v]))

  const namespace = expandTemplate(settings.namespace, vars, where('namespace'))
  const problem = dnsLabelProblem(namespace)
  if (problem) {
    throw new UsageError(`Namespace "${namespace}" for environment "${name}" (from ${where('namespace')} "${settings.namespace}") is not a DNS-1123 label: ${problem}.`, {
      hint: 'Change the namespace template in .idp.yml, or use values that are lower-case letters, digits and "-".',
    })
  }

  const secrets = resolveSecrets(config, name, vars, options.root)
  return {
    name,
    key,
    pattern,
    service: config.service.name,
    ...(config.service.owner ? {team: config.service.owner} : {}),
    cluster: {alias: settings.cluster, context: cluster.context, ...(cluster.kubeconfig ? {kubeconfig: kubeconfigFile(cluster.kubeconfig, options.root)} : {})},
    driver: settings.driver,
    namespace,
    ...(settings.ttl ? {ttl: settings.ttl, ttlMs: parseDuration(settings.ttl)} : {}),
    protected: settings.protected,
    ...(settings.url ? {url: expandTemplate(settings.url, vars, where('url'))} : {}),
    ...(settings.helm ? {helm: {chart: chart(settings.helm.chart), values: settings.helm.values.map(local), set: expandAll(settings.helm.set, 'helm.set')}} : {}),
    ...(settings.terraform
      ? {
          terraform: {
            dir: local(settings.terraform.dir),
            vars: expandAll(settings.terraform.vars, 'terraform.vars'),
            workspace: expandTemplate(settings.terraform.workspace, vars, where('terraform.workspace')),
            ...(settings.terraform.stateNamespace ? {stateNamespace: settings.terraform.stateNamespace} : {}),
          },
        }
      : {}),
    ...(settings.vcluster
      ? {
          vcluster: {
            values: settings.vcluster.values.map(local),
            ...(settings.vcluster.chartVersion ? {chartVersion: settings.vcluster.chartVersion} : {}),
            ...(settings.vcluster.server ? {server: expandTemplate(settings.vcluster.server, vars, where('vcluster.server'))} : {}),
          },
        }
      : {}),
    ...(secrets ? {secrets} : {}),
    vars,
  }
}

/** A kubeconfig path from .idp.yml as a file: `~` is the home directory, relative paths are relative to .idp.yml. */
export function kubeconfigFile(file: string, root?: string, home: string = os.homedir()): string {
  const expanded = file === '~' || file.startsWith('~/') ? path.join(home, file.slice(1)) : file
  return root ? path.resolve(root, expanded) : expanded
}
