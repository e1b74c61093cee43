import * as z from 'zod/mini'

import {dnsLabelProblem, GITHUB_OWNER, GITHUB_REPO_NAME} from '../cli/names.js'
import {DURATION_EXAMPLES, DURATION_PATTERN, durationProblem} from './duration.js'
import {closest} from './suggest.js'
import {PLACEHOLDERS, templateProblems} from './template.js'
import {DEFAULT_STATE_NAMESPACE, TERRAFORM_STATE_SUFFIX} from './terraform-state.js'
import './zod-setup.js'

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

type Meta = z.core.GlobalMeta
const meta = <T extends z.ZodMiniType>(schema: T, metadata: Meta): T => schema.check(z.meta(metadata))
const text = () => z.string().check(z.minLength(1))
const described = (description: string) => meta(text(), {description})

function custom(ctx: z.core.$RefinementCtx<string>, message: string, expected: string): void {
  ctx.addIssue({code: 'custom', message, params: {expected}})
}

const dnsLabel = (description: string) =>
  z.string().check(
    z.superRefine((value: string, ctx) => {
      const problem = dnsLabelProblem(value)
      if (problem) custom(ctx, `not a DNS-1123 label: ${problem}`, 'lower-case letters, digits and "-", at most 63 characters')
    }),
    z.meta({description, pattern: DNS_LABEL_PATTERN, maxLength: 63}),
  )

const templated = (description: string) =>
  z.string().check(
    z.minLength(1),
    z.superRefine((value: string, ctx) => {
      for (const problem of templateProblems(value)) {
        const unknown = /^unknown placeholder \{\{(.*)\}\}$/u.exec(problem)?.[1]
        const suggestion = unknown === undefined ? undefined : closest(unknown, PLACEHOLDERS)
        ctx.addIssue({code: 'custom', message: problem, params: {expected: `only ${PLACEHOLDER_LIST}`, suggestion: suggestion && `{{${suggestion}}}`}})
      }
    }),
    z.meta({description: `${description} Placeholders: ${PLACEHOLDER_LIST}.`}),
  )

const duration = (description: string) =>
  z.string().check(
    z.superRefine((value: string, ctx) => {
      const problem = durationProblem(value)
      if (problem) custom(ctx, problem, `a duration such as ${DURATION_EXAMPLES}`)
    }),
    z.meta({description: `${description} A duration: ${DURATION_EXAMPLES}.`, pattern: DURATION_PATTERN, examples: ['72h']}),
  )

const path = described
const httpUrl = (description: string) => meta(z.url({protocol: /^https?$/u, error: 'not an http(s) URL'}), {description})

/** Scalar values passed to helm `--set` or terraform `-var`; strings may use placeholders. */
const templatedScalar = z.union([templated('A value.'), z.number(), z.boolean()])

export const serviceSchema = meta(
  z.strictObject({
    name: dnsLabel('Service name: a DNS-1123 label; used for namespaces, labels, the repository and the catalog entry.'),
    owner: described('Owning team or user, as in Backstage spec.owner (e.g. team-a).'),
    description: meta(z.optional(z.string()), {description: 'One line saying what the service does.'}),
    system: meta(z.optional(text()), {description: 'Backstage system the service belongs to.'}),
    lifecycle: meta(z._default(z.enum(['experimental', 'production', 'deprecated']), 'experimental'), {description: 'Backstage lifecycle.'}),
    type: meta(z._default(text(), 'service'), {description: 'Backstage component type (service, website, library, ...).'}),
  }),
  {description: 'The service this repository holds; also its Backstage catalog entry.'},
)

export const repoSchema = meta(
  z.strictObject({
    provider: meta(z._default(z.literal('github'), 'github'), {description: 'Where the repository lives. Only github for now.'}),
    owner: meta(z.string().check(z.regex(GITHUB_OWNER, {error: 'not a GitHub user or organisation name'})), {description: 'GitHub organisation or user.'}),
    name: meta(z.optional(z.string().check(z.regex(GITHUB_REPO_NAME, {error: 'not a GitHub repository name'}))), {description: 'Repository name; defaults to service.name.'}),
    visibility: meta(z._default(z.enum(['private', 'internal', 'public']), 'private'), {description: 'Visibility when idp creates the repository.'}),
    defaultBranch: meta(z._default(text(), 'main'), {description: 'Default branch.'}),
    publish: meta(z._default(z.boolean(), false), {description: 'idp create also creates the GitHub repository and pushes (when a token is set), as with --publish.'}),
  }),
  {description: 'The source repository.'},
)

export const imageSchema = meta(
  z.strictObject({
    repository: described('Image repository without tag, e.g. ghcr.io/acme/shop.'),
    tag: z._default(templated('Image tag.'), DEFAULT_IMAGE_TAG),
  }),
  {description: 'The container image that deployments use.'},
)

export const clusterSchema = meta(
  z.strictObject({
    context: described('Kube context name in your kubeconfig. idp never falls back to the current context.'),
    kubeconfig: z.optional(path('Kubeconfig file holding the context; default: KUBECONFIG or ~/.kube/config. Relative to .idp.yml; ~ is your home.')),
  }),
  {description: 'A Kubernetes cluster, by kube context.'},
)

export const helmSchema = meta(
  z.strictObject({
    // A positional argument of `helm upgrade --install`: "--post-renderer=x" would be read as an option.
    chart: meta(z.string().check(z.minLength(1), z.regex(/^[^-]/u, {error: 'starts with "-", which helm would read as an option; write a local chart so named as ./-name'})), {
      description: 'Chart: a local path (relative to .idp.yml), repo/chart, or an oci:// reference.',
    }),
    values: meta(z._default(z.array(path('Values file, relative to .idp.yml.')), []), {description: 'Values files, applied in order.'}),
    set: meta(z._default(z.record(text(), templatedScalar), {}), {description: 'Values passed with --set (key: value).'}),
  }),
  {description: 'Helm chart to install into the environment.'},
)

export const terraformSchema = meta(
  z.strictObject({
    dir: path('Terraform root module, relative to .idp.yml.'),
    vars: meta(z._default(z.record(text(), templatedScalar), {}), {description: 'Variables passed with -var (name: value).'}),
    workspace: z._default(templated('Terraform workspace.'), DEFAULT_WORKSPACE_TEMPLATE),
    stateNamespace: z.optional(
      dnsLabel(
        `Namespace on the environment's cluster where idp keeps Terraform state when the module declares \`terraform { backend "kubernetes" {} }\` (a Secret tfstate-<workspace>-${TERRAFORM_STATE_SUFFIX}-<service>, locked through a Lease). Default ${DEFAULT_STATE_NAMESPACE}, which idp creates and labels app.kubernetes.io/managed-by=idp and refuses if someone else made it; a namespace named here is used as it is (created if missing).`,
      ),
    ),
  }),
  {description: 'Terraform applied for the environment (one workspace per environment).'},
)

export const vclusterSchema = meta(
  z.strictObject({
    values: meta(z._default(z.array(path('vcluster values file, relative to .idp.yml.')), []), {description: 'vcluster values files.'}),
    chartVersion: meta(z.optional(text()), {description: 'vcluster chart version (vcluster create --chart-version).'}),
    server: z.optional(
      templated(
        'Where the virtual cluster\'s API server is exposed (ingress or LoadBalancer), e.g. https://{{env}}.vc.dev.example.com: vcluster connect --server. Without it the vcluster CLI port-forwards, which only works while it keeps running.',
      ),
    ),
  }),
  {description: 'vcluster settings; only with driver: vcluster.'},
)

export const environmentSchema = meta(
  z.strictObject({
    cluster: described('Key of `clusters` to deploy to.'),
    driver: meta(z._default(z.enum(['vcluster', 'namespace']), 'namespace'), {description: 'Isolation: a namespace, or a vcluster inside a namespace.'}),
    namespace: z._default(templated('Namespace on the host cluster.'), DEFAULT_NAMESPACE_TEMPLATE),
    ttl: z.optional(duration('Time to live; `idp env gc` removes the environment after it.')),
    protected: meta(z._default(z.boolean(), false), {description: 'Protected environments refuse `env down` and need confirmation to deploy.'}),
    url: z.optional(templated('Where the environment is reachable; printed and posted on the pull request.')),
    helm: z.optional(helmSchema),
    terraform: z.optional(terraformSchema),
    vcluster: z.optional(vclusterSchema),
  }),
  {description: 'An environment. The key is its name, or a pattern such as pr-* (`*` matches any characters).'},
)

export const argocdSchema = meta(
  z.strictObject({
    namespace: meta(z._default(text(), 'argocd'), {description: 'Namespace where Argo CD runs.'}),
    project: meta(z._default(text(), 'default'), {description: 'Argo CD project of the Application.'}),
    repoURL: described('Git repository Argo CD syncs from.'),
    path: described('Path of the chart or manifests in that repository.'),
    targetRevision: z._default(templated('Git revision to sync.'), 'HEAD'),
    server: meta(z._default(text(), 'https://kubernetes.default.svc'), {description: 'Destination API server as Argo CD knows it.'}),
  }),
  {description: 'Argo CD Application settings.'},
)

export const deploySchema = meta(
  z.strictObject({
    strategy: meta(z._default(z.enum(['argocd', 'helm']), 'helm'), {description: 'helm: idp runs helm upgrade --install; argocd: idp writes an Argo CD Application.'}),
    argocd: z.optional(argocdSchema),
  }),
  {description: 'How `idp deploy` ships the service.'},
)

const texts = () => z.array(text())

export const policyRuleSchema = meta(
  z.strictObject({
    apiGroups: meta(z._default(z.array(z.string()), ['']), {description: 'API groups; "" is the core group.'}),
    resources: texts().check(z.minLength(1)),
    verbs: texts().check(z.minLength(1)),
    resourceNames: z.optional(texts()),
  }),
  {description: 'A Kubernetes RBAC PolicyRule.'},
)

export const roleSchema = meta(
  z.union([
    described('Name of an existing ClusterRole (e.g. view, edit, admin).'),
    z.strictObject({
      clusterRole: meta(z.optional(text()), {description: 'Name of an existing ClusterRole.'}),
      rules: meta(z.optional(z.array(policyRuleSchema).check(z.minLength(1))), {description: 'RBAC rules for a Role idp creates.'}),
      description: z.optional(z.string()),
    }),
  ]),
  {description: 'A role: a ClusterRole name, or {clusterRole} or {rules}.'},
)

export const policySchema = meta(
  z.strictObject({
    maxTtl: z.optional(duration('Longest grant allowed.')),
    requireReason: meta(z._default(texts(), []), {description: 'Roles that need --reason.'}),
    forbid: meta(z._default(z.record(text(), texts()), {}), {description: 'Roles that may never be granted, per environment (name or pattern).'}),
  }),
  {description: 'Rules every grant must follow.'},
)

export const accessSchema = meta(
  z.strictObject({
    roles: meta(z._default(z.record(meta(z.string(), {pattern: DNS_LABEL_PATTERN}), roleSchema), {}), {description: 'Roles people can be granted, by name.'}),
    policy: z._default(policySchema, {requireReason: [], forbid: {}}),
  }),
  {description: 'Role-based access to environments (`idp access`).'},
)

/** A Kubernetes Secret name: a DNS-1123 subdomain (lower-case letters, digits, "-" and "."), at most 253 characters. */
export const SECRET_NAME_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'
/** A key of a Kubernetes Secret's data (and of a KV v2 secret idp copies): letters, digits, "-", "_" and ".". */
export const SECRET_KEY_PATTERN = '^[-._a-zA-Z0-9]+$'

const secretKey = meta(z.string().check(z.regex(new RegExp(SECRET_KEY_PATTERN, 'u'), {error: 'not a Kubernetes Secret key'}), z.maxLength(253)), {
  description: 'A key at the Vault path; also the key in the Kubernetes Secret. Letters, digits, "-", "_" and ".".',
})

export const vaultAuthSchema = meta(
  z.strictObject({
    method: meta(z._default(z.enum(['token', 'jwt']), 'token'), {
      description: 'With token, idp uses VAULT_TOKEN (or ~/.vault-token, as the vault CLI reads it). With jwt, in GitHub Actions the job\'s OIDC token is exchanged through Vault\'s JWT auth method for a short-lived Vault token idp revokes when the command ends; outside Actions, VAULT_TOKEN.',
    }),
    role: meta(z.optional(text()), {description: 'The JWT auth role to log in with (method jwt).'}),
    path: meta(z._default(text(), 'jwt'), {description: 'Where the JWT auth method is mounted (auth/<path>/login).'}),
    audience: meta(z.optional(text()), {description: 'The audience of the GitHub OIDC token (the role\'s bound_audiences); default GitHub\'s own.'}),
  }),
  {description: 'How idp logs in to Vault.'},
)

export const vaultSchema = meta(
  z.strictObject({
    address: z.optional(httpUrl('Vault address, e.g. https://vault.example.com:8200; wins over VAULT_ADDR, which is used when this is not set.')),
    namespace: meta(z.optional(text()), {description: 'Vault Enterprise namespace (X-Vault-Namespace); wins over VAULT_NAMESPACE.'}),
    caCert: z.optional(path('PEM file of the CA that signed Vault\'s certificate, relative to .idp.yml; wins over VAULT_CACERT.')),
    mount: meta(z._default(text(), 'secret'), {description: 'Where the KV version 2 secrets engine is mounted.'}),
    auth: z._default(vaultAuthSchema, {method: 'token', path: 'jwt'}),
  }),
  {description: 'The Vault server the secrets are read from (KV version 2).'},
)

export const secretSourceSchema = meta(
  z.strictObject({
    path: templated('Path of the secret in the KV v2 mount, without the mount and without data/, e.g. shop/{{env}}/db.'),
    keys: meta(z.optional(z.array(secretKey).check(z.minLength(1))), {description: 'The keys to copy; default every key at the path.'}),
    version: meta(z.optional(z.int().check(z.positive())), {description: 'A fixed version of the secret (KV v2 ?version=); default the current one.'}),
  }),
  {description: 'Where a Kubernetes Secret\'s data comes from in Vault.'},
)

export const secretsSchema = meta(
  z.strictObject({
    vault: z._default(vaultSchema, {mount: 'secret', auth: {method: 'token', path: 'jwt'}}),
    env: meta(
      z._default(
        z.record(
          meta(z.string(), {pattern: ENVIRONMENT_KEY_PATTERN}),
          meta(z.record(meta(z.string(), {pattern: SECRET_NAME_PATTERN, maxLength: 253}), secretSourceSchema), {description: 'Kubernetes Secret name → its Vault source.'}),
        ),
        {},
      ),
      {description: 'Per environment (name or pattern, matched like environments): the Kubernetes Secrets idp writes into it from Vault before helm runs.'},
    ),
  }),
  {description: 'Secrets from Vault (KV v2), written as Kubernetes Secrets into environments. Values never reach a file, the plan or any output.'},
)

export const configSchema = meta(
  z.strictObject({
    version: meta(z.literal(CONFIG_VERSION), {description: 'Schema version of this file. Always 1.'}),
    service: serviceSchema,
    repo: z.optional(repoSchema),
    image: z.optional(imageSchema),
    clusters: meta(z._default(z.record(meta(z.string(), {pattern: DNS_LABEL_PATTERN}), clusterSchema), {}), {description: 'Clusters by alias; environments refer to an alias.'}),
    environments: meta(z._default(z.record(meta(z.string(), {pattern: ENVIRONMENT_KEY_PATTERN}), environmentSchema), {}), {
      description: 'Environments by name or pattern. An exact name beats a pattern; among patterns the most specific wins.',
    }),
    deploy: z._default(deploySchema, {strategy: 'helm'}),
    access: z.optional(accessSchema),
    secrets: z.optional(secretsSchema),
    templates: meta(z.optional(z.strictObject({dirs: z._default(z.array(path('Directory holding templates, relative to .idp.yml.')), [])})), {description: 'Extra template directories for `idp create`.'}),
    github: meta(z.optional(z.strictObject({apiUrl: z.optional(httpUrl('GitHub API base URL (GitHub Enterprise); GITHUB_API_URL overrides it. Never put a token here.'))})), {
      description: 'GitHub settings. The token comes from GITHUB_TOKEN or GH_TOKEN only.',
    }),
    backstage: meta(z.optional(z.strictObject({baseUrl: z.optional(httpUrl('Backstage base URL: idp create --publish registers catalog-info.yaml there with the token in BACKSTAGE_TOKEN, idp catalog reads it. --backstage-url overrides it; BACKSTAGE_URL is used when it is not set.'))})), {description: 'Backstage settings. The token comes from BACKSTAGE_TOKEN only.'}),
  }),
  {title: 'idp configuration (.idp.yml)', description: 'Configuration of idp, the internal developer platform CLI, for one service repository.'},
)

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
export type SecretsConfig = z.output<typeof secretsSchema>
export type VaultConfig = z.output<typeof vaultSchema>
export type SecretSourceConfig = z.output<typeof secretSourceSchema>
