/**
 * What marks a Kubernetes Secret as one idp wrote from Vault for an environment: the labels every
 * idp object carries (managed-by, service, env) and the source. Light (no client), so plans and
 * their printed clean-up commands can name the selector.
 */
import type {V1Secret} from '@kubernetes/client-node'

import {LABELS, MANAGED_BY_VALUE, sanitizeLabelValue} from '../env/labels.js'

/** What marks a Secret as one idp wrote from Vault (besides managed-by, service and env). */
export const SECRET_LABELS = {source: 'idp.dev/secret-source'} as const
export const SECRET_ANNOTATIONS = {vaultPath: 'idp.dev/vault-path', vaultVersion: 'idp.dev/vault-version'} as const
/** The pod template annotation `kubectl rollout restart` sets. */
export const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt'

export interface SecretOwner {
  service: string
  env: string
}

export function secretLabels(owner: SecretOwner): Record<string, string> {
  return {[LABELS.managedBy]: MANAGED_BY_VALUE, [LABELS.service]: sanitizeLabelValue(owner.service), [LABELS.env]: sanitizeLabelValue(owner.env), [SECRET_LABELS.source]: 'vault'}
}

export function secretSelector(owner: SecretOwner): string {
  return Object.entries(secretLabels(owner))
    .map(([key, value]) => `${key}=${value}`)
    .join(',')
}

export function isOurSecret(secret: V1Secret | undefined, owner: SecretOwner): boolean {
  const labels = secret?.metadata?.labels ?? {}
  return Object.entries(secretLabels(owner)).every(([key, value]) => labels[key] === value)
}
