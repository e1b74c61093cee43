// The resource kinds the stand-in serves out of the box, in the shape discovery needs.

export type KubeObject = Record<string, any> & {
  apiVersion?: string
  kind?: string
  metadata?: Record<string, any>
}

export interface ResourceType {
  group: string
  version: string
  kind: string
  plural: string
  singular: string
  namespaced: boolean
  shortNames?: string[]
  categories?: string[]
  /** 'status', 'log', 'scale' ... served as /<name>/<subresource>. */
  subresources?: string[]
  /** Only creatable (reviews): no storage, no list/get. */
  createOnly?: boolean
}

export const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch']

const core = (kind: string, plural: string, namespaced: boolean, extra: Partial<ResourceType> = {}): ResourceType => ({
  group: '',
  version: 'v1',
  kind,
  plural,
  singular: kind.toLowerCase(),
  namespaced,
  ...extra,
})

const grouped = (
  group: string,
  version: string,
  kind: string,
  plural: string,
  namespaced: boolean,
  extra: Partial<ResourceType> = {},
): ResourceType => ({group, version, kind, plural, singular: kind.toLowerCase(), namespaced, ...extra})

export const BUILTIN_TYPES: ResourceType[] = [
  core('Namespace', 'namespaces', false, {shortNames: ['ns'], subresources: ['status', 'finalize']}),
  core('ConfigMap', 'configmaps', true, {shortNames: ['cm']}),
  core('Secret', 'secrets', true),
  core('Service', 'services', true, {shortNames: ['svc'], categories: ['all'], subresources: ['status']}),
  core('ServiceAccount', 'serviceaccounts', true, {shortNames: ['sa']}),
  core('Pod', 'pods', true, {shortNames: ['po'], categories: ['all'], subresources: ['status', 'log']}),
  core('Event', 'events', true, {shortNames: ['ev']}),
  core('PersistentVolumeClaim', 'persistentvolumeclaims', true, {shortNames: ['pvc'], subresources: ['status']}),
  grouped('apps', 'v1', 'Deployment', 'deployments', true, {shortNames: ['deploy'], categories: ['all'], subresources: ['status', 'scale']}),
  grouped('apps', 'v1', 'StatefulSet', 'statefulsets', true, {shortNames: ['sts'], categories: ['all'], subresources: ['status', 'scale']}),
  grouped('apps', 'v1', 'ReplicaSet', 'replicasets', true, {shortNames: ['rs'], categories: ['all'], subresources: ['status', 'scale']}),
  grouped('events.k8s.io', 'v1', 'Event', 'events', true, {shortNames: ['ev']}),
  grouped('rbac.authorization.k8s.io', 'v1', 'Role', 'roles', true),
  grouped('rbac.authorization.k8s.io', 'v1', 'RoleBinding', 'rolebindings', true),
  grouped('rbac.authorization.k8s.io', 'v1', 'ClusterRole', 'clusterroles', false),
  grouped('rbac.authorization.k8s.io', 'v1', 'ClusterRoleBinding', 'clusterrolebindings', false),
  grouped('coordination.k8s.io', 'v1', 'Lease', 'leases', true),
  grouped('authorization.k8s.io', 'v1', 'SelfSubjectAccessReview', 'selfsubjectaccessreviews', false, {createOnly: true}),
  grouped('authorization.k8s.io', 'v1', 'SubjectAccessReview', 'subjectaccessreviews', false, {createOnly: true}),
  grouped('apiextensions.k8s.io', 'v1', 'CustomResourceDefinition', 'customresourcedefinitions', false, {
    shortNames: ['crd', 'crds'],
    subresources: ['status'],
  }),
]

/** Minimal Argo CD CRDs (the real ones are large; discovery and storage need only names and scope). */
export function argoCdCrds(): KubeObject[] {
  const crd = (kind: string, plural: string, shortNames: string[]): KubeObject => ({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {name: `${plural}.argoproj.io`, labels: {'app.kubernetes.io/part-of': 'argocd'}},
    spec: {
      group: 'argoproj.io',
      scope: 'Namespaced',
      names: {kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase(), shortNames},
      versions: [
        {
          name: 'v1alpha1',
          served: true,
          storage: true,
          schema: {openAPIV3Schema: {type: 'object', 'x-kubernetes-preserve-unknown-fields': true}},
        },
      ],
    },
  })
  return [crd('Application', 'applications', ['app', 'apps']), crd('AppProject', 'appprojects', ['appproj', 'appprojs'])]
}

/** The types a CustomResourceDefinition object declares (one per served version). */
export function typesFromCrd(crd: KubeObject): ResourceType[] {
  const spec = crd.spec ?? {}
  const names = spec.names ?? {}
  return (spec.versions ?? [])
    .filter((v: any) => v.served !== false)
    .map((v: any) => ({
      group: spec.group,
      version: v.name,
      kind: names.kind,
      plural: names.plural,
      singular: names.singular ?? String(names.kind).toLowerCase(),
      namespaced: spec.scope !== 'Cluster',
      shortNames: names.shortNames,
      categories: names.categories,
      subresources: v.subresources?.status ? ['status'] : [],
    }))
}

export function apiVersionOf(type: ResourceType): string {
  return type.group ? `${type.group}/${type.version}` : type.version
}

/** Built-in ClusterRoles a real cluster ships, reduced to what access checks need. */
export function builtinClusterRoles(): KubeObject[] {
  const workloads = [
    {apiGroups: [''], resources: ['pods', 'pods/log', 'services', 'configmaps', 'persistentvolumeclaims', 'serviceaccounts', 'events']},
    {apiGroups: ['apps'], resources: ['deployments', 'statefulsets', 'replicasets', 'deployments/scale', 'statefulsets/scale']},
    {apiGroups: ['coordination.k8s.io'], resources: ['leases']},
    {apiGroups: ['argoproj.io'], resources: ['applications']},
  ]
  const read = ['get', 'list', 'watch']
  const write = ['create', 'delete', 'deletecollection', 'patch', 'update']
  const role = (name: string, rules: any[]): KubeObject => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: {name, labels: {'kubernetes.io/bootstrapping': 'rbac-defaults'}},
    rules,
  })
  return [
    role('cluster-admin', [
      {apiGroups: ['*'], resources: ['*'], verbs: ['*']},
      {nonResourceURLs: ['*'], verbs: ['*']},
    ]),
    role('admin', [
      ...workloads.map((r) => ({...r, verbs: [...read, ...write]})),
      {apiGroups: [''], resources: ['secrets'], verbs: [...read, ...write]},
      {apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles', 'rolebindings'], verbs: [...read, ...write]},
    ]),
    role('edit', [
      ...workloads.map((r) => ({...r, verbs: [...read, ...write]})),
      {apiGroups: [''], resources: ['secrets'], verbs: [...read, ...write]},
    ]),
    role('view', workloads.map((r) => ({...r, verbs: read}))),
  ]
}
