import * as z from 'zod'

import {dnsLabelProblem} from '../cli/names.js'
import {DURATION_EXAMPLES, DURATION_PATTERN, durationProblem} from './duration.js'
import {closest} from './suggest.js'
import {PLACEHOLDERS, templateProblems} from './template.js'

/**
 * The schema of `.idp.yml`, version 1. Objects are strict (unknown keys are errors) so a typo
 * never silently falls back to a default. Checks that need more than one key (an environment's
 * cluster must exist, policy roles must be defined, ...) live in validate.ts so they run even
 * when other parts of the file are wrong.
 */

export const CONFIG_VERSION = 1
export const DNS_LABEL_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'
/** An environment key: a DNS-1123 label, or a pattern where `*` stands for any characters. */
export const ENVIRONMENT_KEY_PATTERN = '^[a-z0-9*]([-a-z0-9*]*[a-z0-9*])?$'
export const DEFAULT_NAMESPACE_TEMPLATE = '{{service}}-{{env}}'
export const DEFAULT_WORKSPACE_TEMPLATE = '{{service}}-{{env}}'
export const DEFAULT_IMAGE_TAG = '{{sha}}'

const PLACEHOLDER_LIST = PLACEHOLDERS.map((p) => `{{${p}}}`).join(', ')

function custom(ctx: z.RefinementCtx, message: string, expected: string): void {
  ctx.addIssue({code: 'custom', message, params: {expected}})
}

const dnsLabel = (description: string) =>
  z
    .string()
    .superRefine((value, ctx) => {
      const problem = dnsLabelProblem(value)
      if (problem) custom(ctx, `not a DNS-1123 label: ${problem}`, 'lower-case letters, digits and "-", at most 63 characters')
    })
    .meta({description, pattern: DNS_LABEL_PATTERN, maxLength: 63})

const templated = (description: string) =>
  z
    .string()
    .min(1)
    .superRefine((value, ctx) => {
      for (const problem of templateProblems(value)) {
        const unknown = /^unknown placeholder \{\{(.*)\}\}$/u.exec(problem)?.[1]
        const suggestion = unknown === undefined ? undefined : closest(unknown, PLACEHOLDERS)
        ctx.addIssue({code: 'custom', message: problem, params: {expected: `only ${PLACEHOLDER_LIST}`, suggestion: suggestion && `{{${suggestion}}}`}})
      }
    })
    .meta({description: `${description} Placeholders: ${PLACEHOLDER_LIST}.`})

const duration = (description: string) =>
  z
    .string()
    .superRefine((value, ctx) => {
      const problem = durationProblem(value)
      if (problem) custom(ctx, problem, `a duration such as ${DURATION_EXAMPLES}`)
    })
    .meta({description: `${description} A duration: ${DURATION_EXAMPLES}.`, pattern: DURATION_PATTERN, examples: ['72h']})

const path = (description: string) => z.string().min(1).meta({description})
const httpUrl = (description: string) => z.url({protocol: /^https?$/u, error: 'not an http(s) URL'}).meta({description})

/** Scalar values passed to helm `--set` or terraform `-var`; strings may use placeholders. */
const templatedScalar = z.union([templated('A value.'), z.number(), z.boolean()])

export const serviceSchema = z
  .strictObject({
    name: dnsLabel('Service name: a DNS-1123 label; used for namespaces, labels, the repository and the catalog entry.'),
    owner: z.string().min(1).meta({description: 'Owning team or user, as in Backstage spec.owner (e.g. team-a).'}),
    description: z.string().optional().meta({description: 'One line saying what the service does.'}),
    system: z.string().min(1).optional().meta({description: 'Backstage system the service belongs to.'}),
    lifecycle: z.enum(['experimental', 'production', 'deprecated']).default('experimental').meta({description: 'Backstage lifecycle.'}),
    type: z.string().min(1).default('service').meta({description: 'Backstage component type (service, website, library, ...).'}),
  })
  .meta({description: 'The service this repository holds; also its Backstage catalog entry.'})

export const repoSchema = z
  .strictObject({
    provider: z.literal('github').default('github').meta({description: 'Where the repository lives. Only github for now.'}),
    owner: z
      .string()
      .regex(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?$/u, {error: 'not a GitHub user or organisation name'})
      .meta({description: 'GitHub organisation or user.'}),
    name: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,100}$/u, {error: 'not a GitHub repository name'})
      .optional()
      .meta({description: 'Repository name; defaults to service.name.'}),
    visibility: z.enum(['private', 'internal', 'public']).default('private').meta({description: 'Visibility when idp creates the repository.'}),
    defaultBranch: z.string().min(1).default('main').meta({description: 'Default branch.'}),
    publish: z.boolean().default(false).meta({description: 'idp create also creates the GitHub repository and pushes (when a token is set), as with --publish.'}),
  })
  .meta({description: 'The source repository.'})

export const imageSchema = z
  .strictObject({
    repository: z.string().min(1).meta({description: 'Image repository without tag, e.g. ghcr.io/acme/shop.'}),
    tag: templated('Image tag.').default(DEFAULT_IMAGE_TAG),
  })
  .meta({description: 'The container image that deployments use.'})

export const clusterSchema = z
  .strictObject({
    context: z.string().min(1).meta({description: 'Kube context name in your kubeconfig. idp never falls back to the current context.'}),
    kubeconfig: path('Kubeconfig file holding the context; default: KUBECONFIG or ~/.kube/config. Relative to .idp.yml; ~ is your home.').optional(),
  })
  .meta({description: 'A Kubernetes cluster, by kube context.'})

export const helmSchema = z
  .strictObject({
    chart: path('Chart: a local path (relative to .idp.yml), repo/chart, or an oci:// reference.'),
    values: z.array(path('Values file, relative to .idp.yml.')).default([]).meta({description: 'Values files, applied in order.'}),
    set: z.record(z.string().min(1), templatedScalar).default({}).meta({description: 'Values passed with --set (key: value).'}),
  })
  .meta({description: 'Helm chart to install into the environment.'})

export const terraformSchema = z
  .strictObject({
    dir: path('Terraform root module, relative to .idp.yml.'),
    vars: z.record(z.string().min(1), templatedScalar).default({}).meta({description: 'Variables passed with -var (name: value).'}),
    workspace: templated('Terraform workspace.').default(DEFAULT_WORKSPACE_TEMPLATE),
  })
  .meta({description: 'Terraform applied for the environment (one workspace per environment).'})

export const vclusterSchema = z
  .strictObject({
    values: z.array(path('vcluster values file, relative to .idp.yml.')).default([]).meta({description: 'vcluster values files.'}),
    chartVersion: z.string().min(1).optional().meta({description: 'vcluster chart version (vcluster create --chart-version).'}),
    server: templated(
      'Where the virtual cluster\'s API server is exposed (ingress or LoadBalancer), e.g. https://{{env}}.vc.dev.example.com: vcluster connect --server. Without it the vcluster CLI port-forwards, which only works while it keeps running.',
    ).optional(),
  })
  .meta({description: 'vcluster settings; only with driver: vcluster.'})

export const environmentSchema = z
  .strictObject({
    cluster: z.string().min(1).meta({description: 'Key of `clusters` to deploy to.'}),
    driver: z.enum(['vcluster', 'namespace']).default('namespace').meta({description: 'Isolation: a namespace, or a vcluster inside a namespace.'}),
    namespace: templated('Namespace on the host cluster.').default(DEFAULT_NAMESPACE_TEMPLATE),
    ttl: duration('Time to live; `idp env gc` removes the environment after it.').optional(),
    protected: z.boolean().default(false).meta({description: 'Protected environments refuse `env down` and need confirmation to deploy.'}),
    url: templated('Where the environment is reachable; printed and posted on the pull request.').optional(),
    helm: helmSchema.optional(),
    terraform: terraformSchema.optional(),
    vcluster: vclusterSchema.optional(),
  })
  .meta({description: 'An environment. The key is its name, or a pattern such as pr-* (`*` matches any characters).'})

export const argocdSchema = z
  .strictObject({
    namespace: z.string().min(1).default('argocd').meta({description: 'Namespace where Argo CD runs.'}),
    project: z.string().min(1).default('default').meta({description: 'Argo CD project of the Application.'}),
    repoURL: z.string().min(1).meta({description: 'Git repository Argo CD syncs from.'}),
    path: z.string().min(1).meta({description: 'Path of the chart or manifests in that repository.'}),
    targetRevision: templated('Git revision to sync.').default('HEAD'),
    server: z.string().min(1).default('https://kubernetes.default.svc').meta({description: 'Destination API server as Argo CD knows it.'}),
  })
  .meta({description: 'Argo CD Application settings.'})

export const deploySchema = z
  .strictObject({
    strategy: z.enum(['argocd', 'helm']).default('helm').meta({description: 'helm: idp runs helm upgrade --install; argocd: idp writes an Argo CD Application.'}),
    argocd: argocdSchema.optional(),
  })
  .meta({description: 'How `idp deploy` ships the service.'})

export const policyRuleSchema = z
  .strictObject({
    apiGroups: z.array(z.string()).default(['']).meta({description: 'API groups; "" is the core group.'}),
    resources: z.array(z.string().min(1)).min(1),
    verbs: z.array(z.string().min(1)).min(1),
    resourceNames: z.array(z.string().min(1)).optional(),
  })
  .meta({description: 'A Kubernetes RBAC PolicyRule.'})

export const roleSchema = z
  .union([
    z.string().min(1).meta({description: 'Name of an existing ClusterRole (e.g. view, edit, admin).'}),
    z.strictObject({
      clusterRole: z.string().min(1).optional().meta({description: 'Name of an existing ClusterRole.'}),
      rules: z.array(policyRuleSchema).min(1).optional().meta({description: 'RBAC rules for a Role idp creates.'}),
      description: z.string().optional(),
    }),
  ])
  .meta({description: 'A role: a ClusterRole name, or {clusterRole} or {rules}.'})

export const policySchema = z
  .strictObject({
    maxTtl: duration('Longest grant allowed.').optional(),
    requireReason: z.array(z.string().min(1)).default([]).meta({description: 'Roles that need --reason.'}),
    forbid: z
      .record(z.string().min(1), z.array(z.string().min(1)))
      .default({})
      .meta({description: 'Roles that may never be granted, per environment (name or pattern).'}),
  })
  .meta({description: 'Rules every grant must follow.'})

export const accessSchema = z
  .strictObject({
    roles: z.record(z.string().meta({pattern: DNS_LABEL_PATTERN}), roleSchema).default({}).meta({description: 'Roles people can be granted, by name.'}),
    policy: policySchema.default({requireReason: [], forbid: {}}),
  })
  .meta({description: 'Role-based access to environments (`idp access`).'})

export const configSchema = z
  .strictObject({
    version: z.literal(CONFIG_VERSION).meta({description: 'Schema version of this file. Always 1.'}),
    service: serviceSchema,
    repo: repoSchema.optional(),
    image: imageSchema.optional(),
    clusters: z
      .record(z.string().meta({pattern: DNS_LABEL_PATTERN}), clusterSchema)
      .default({})
      .meta({description: 'Clusters by alias; environments refer to an alias.'}),
    environments: z
      .record(z.string().meta({pattern: ENVIRONMENT_KEY_PATTERN}), environmentSchema)
      .default({})
      .meta({description: 'Environments by name or pattern. An exact name beats a pattern; among patterns the most specific wins.'}),
    deploy: deploySchema.default({strategy: 'helm'}),
    access: accessSchema.optional(),
    templates: z
      .strictObject({dirs: z.array(path('Directory holding templates, relative to .idp.yml.')).default([])})
      .optional()
      .meta({description: 'Extra template directories for `idp create`.'}),
    github: z
      .strictObject({apiUrl: httpUrl('GitHub API base URL (GitHub Enterprise); GITHUB_API_URL overrides it. Never put a token here.').optional()})
      .optional()
      .meta({description: 'GitHub settings. The token comes from GITHUB_TOKEN or GH_TOKEN only.'}),
    backstage: z
      .strictObject({baseUrl: httpUrl('Backstage base URL, for printing the catalog register link.').optional()})
      .optional()
      .meta({description: 'Backstage settings.'}),
  })
  .meta({title: 'idp configuration (.idp.yml)', description: 'Configuration of idp, the internal developer platform CLI, for one service repository.'})

export type IdpConfig = z.output<typeof configSchema>
export type IdpConfigInput = z.input<typeof configSchema>
export type ServiceConfig = z.output<typeof serviceSchema>
export type RepoConfig = z.output<typeof repoSchema>
export type ImageConfig = z.output<typeof imageSchema>
export type ClusterConfig = z.output<typeof clusterSchema>
export type EnvironmentConfig = z.output<typeof environmentSchema>
export type HelmConfig = z.output<typeof helmSchema>
export type TerraformConfig = z.output<typeof terraformSchema>
export type VclusterConfig = z.output<typeof vclusterSchema>
export type DeployConfig = z.output<typeof deploySchema>
export type ArgocdConfig = z.output<typeof argocdSchema>
export type AccessConfig = z.output<typeof accessSchema>
export type RoleConfig = z.output<typeof roleSchema>
export type PolicyRuleConfig = z.output<typeof policyRuleSchema>
export type PolicyConfig = z.output<typeof policySchema>
