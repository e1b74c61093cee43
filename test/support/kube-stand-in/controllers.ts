// Just enough controller behaviour for `helm --wait`, `kubectl rollout status` and Argo CD
// syncs to finish (or to fail the way a broken rollout does, when a test injects that).
import {createHash, randomBytes} from 'node:crypto'
import type {Change, Cluster} from './cluster.js'
import type {KubeObject} from './types.js'

export interface NeverReady {
  reason: string
  message: string
  log: string
}

export type ArgoOutcome = 'Healthy' | 'Degraded' | 'Progressing' | 'OutOfSync' | 'Failed'

export interface ControllerFaults {
  neverReady: Map<string, NeverReady>
  argo: Map<string, ArgoOutcome>
  /** An outcome that lasts this many ms after the sync, then turns Healthy (a brief Degraded during a rollout). */
  argoFor: Map<string, number>
}

const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')
const suffix = () => randomBytes(3).toString('hex').slice(0, 5)

export class Controllers {
  private readonly timers = new Set<NodeJS.Timeout>()
  private stopped = false

  constructor(
    private readonly cluster: Cluster,
    private readonly faults: ControllerFaults,
    private readonly delayMs: number,
  ) {
    cluster.onChange((change) => this.observe(change))
  }

  stop(): void {
    this.stopped = true
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
  }

  private later(fn: () => void, delayMs = this.delayMs) {
    if (this.stopped) return
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      if (this.stopped) return
      try {
        fn()
      } catch {
        // The object changed or vanished meanwhile; the next change reconciles again.
      }
    }, delayMs)
    this.timers.add(timer)
  }

  private observe(change: Change) {
    if (change.type === 'DELETED') return
    const {resource, object} = change
    const ns = object.metadata?.namespace ?? ''
    const name = object.metadata?.name as string
    if (resource.group === 'apps' && resource.kind === 'Deployment') {
      if (object.status?.observedGeneration !== object.metadata?.generation) this.later(() => this.reconcileDeployment(ns, name))
    } else if (resource.group === 'apps' && resource.kind === 'StatefulSet') {
      if (object.status?.observedGeneration !== object.metadata?.generation) this.later(() => this.reconcileStatefulSet(ns, name))
    } else if (resource.group === 'argoproj.io' && resource.kind === 'Application') {
      const automated = object.spec?.syncPolicy?.automated !== undefined
      const changed = object.status?.observedGeneration !== object.metadata?.generation
      if (object.operation?.sync !== undefined || (automated && changed)) this.later(() => this.syncApplication(ns, name))
    }
  }

  /** Re-runs the Deployment controller now (after a fault is added or cleared). */
  kickDeployment(ns: string, name: string): void {
    this.later(() => this.reconcileDeployment(ns, name, true))
  }

  private type(group: string, plural: string) {
    return this.cluster.type(group, 'v1', plural)
  }

  private event(ns: string, involved: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string) {
    const name = `${involved.metadata?.name}.${randomBytes(8).toString('hex')}`
    this.cluster.create(this.type('', 'events'), ns, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: {name, namespace: ns},
      involvedObject: {
        kind: involved.kind,
        namespace: ns,
        name: involved.metadata?.name,
        uid: involved.metadata?.uid,
        apiVersion: involved.apiVersion,
      },
      reason,
      message,
      type,
      source: {component: type === 'Warning' ? 'kubelet' : 'deployment-controller'},
      firstTimestamp: now(),
      lastTimestamp: now(),
      count: 1,
    })
  }

  private reconcileDeployment(ns: string, name: string, force = false) {
    const deployments = this.type('apps', 'deployments')
    const replicaSets = this.type('apps', 'replicasets')
    const pods = this.type('', 'pods')
    const dep = this.cluster.tryGet(deployments, ns, name)
    if (!dep) return
    if (!force && dep.status?.observedGeneration === dep.metadata?.generation) return
    const fault = this.faults.neverReady.get(`${ns}/${name}`)
    const replicas: number = dep.spec?.replicas ?? 1
    const hash = createHash('sha256').update(JSON.stringify(dep.spec?.template ?? {})).digest('hex').slice(0, 10)
    const rsName = `${name}-${hash}`
    const owner = (o: KubeObject) => [{apiVersion: o.apiVersion, kind: o.kind, name: o.metadata?.name, uid: o.metadata?.uid, controller: true, blockOwnerDeletion: true}]
    const templateLabels = {...dep.spec?.template?.metadata?.labels, 'pod-template-hash': hash}
    const owned = (o: KubeObject, uid: string) => (o.metadata?.ownerReferences ?? []).some((r: any) => r.uid === uid)

    // Old ReplicaSets scale to zero and lose their pods.
    for (const rs of this.cluster.list(replicaSets, ns)) {
      if (!owned(rs, dep.metadata?.uid) || rs.metadata?.name === rsName) continue
      for (const pod of this.cluster.list(pods, ns)) if (owned(pod, rs.metadata?.uid)) this.cluster.delete(pods, ns, pod.metadata!.name)
      if (rs.spec?.replicas !== 0) {
        this.cluster.update(replicaSets, ns, rs.metadata!.name, {...rs, spec: {...rs.spec, replicas: 0}})
        const fresh = this.cluster.get(replicaSets, ns, rs.metadata!.name)
        this.cluster.update(replicaSets, ns, rs.metadata!.name, {...fresh, status: {replicas: 0, observedGeneration: fresh.metadata?.generation}}, {subresource: 'status'})
      }
    }

    let rs = this.cluster.tryGet(replicaSets, ns, rsName)
    const template = structuredClone(dep.spec?.template ?? {})
    template.metadata = {...template.metadata, labels: templateLabels}
    const rsSpec = {
      replicas,
      selector: {...dep.spec?.selector, matchLabels: {...dep.spec?.selector?.matchLabels, 'pod-template-hash': hash}},
      template,
    }
    if (!rs) {
      rs = this.cluster.create(replicaSets, ns, {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {name: rsName, namespace: ns, labels: templateLabels, ownerReferences: owner(dep)},
        spec: rsSpec,
      })
      this.event(ns, dep, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${rsName} from 0 to ${replicas}`)
    } else if (rs.spec?.replicas !== replicas) {
      rs = this.cluster.update(replicaSets, ns, rsName, {...rs, spec: rsSpec})
    }

    // Pods of the current ReplicaSet: as many as wanted, running or crash-looping.
    const current = this.cluster.list(pods, ns).filter((p) => owned(p, rs!.metadata?.uid))
    for (const pod of current.slice(replicas)) this.cluster.delete(pods, ns, pod.metadata!.name)
    const containers: any[] = template.spec?.containers ?? []
    const podStatus = (): KubeObject => ({
      phase: 'Running',
      conditions: [
        {type: 'Ready', status: fault ? 'False' : 'True', lastTransitionTime: now()},
        {type: 'ContainersReady', status: fault ? 'False' : 'True', lastTransitionTime: now()},
        {type: 'PodScheduled', status: 'True', lastTransitionTime: now()},
      ],
      containerStatuses: containers.map((c) => ({
        name: c.name,
        image: c.image,
        ready: !fault,
        started: !fault,
        restartCount: fault ? 3 : 0,
        state: fault ? {waiting: {reason: fault.reason, message: fault.message}} : {running: {startedAt: now()}},
        ...(fault ? {lastState: {terminated: {exitCode: 1, reason: 'Error', finishedAt: now()}}} : {}),
      })),
      startTime: now(),
    })
    const live = current.slice(0, replicas)
    for (let i = live.length; i < replicas; i++) {
      live.push(
        this.cluster.create(pods, ns, {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: {name: `${rsName}-${suffix()}`, namespace: ns, labels: templateLabels, ownerReferences: owner(rs)},
          spec: template.spec ?? {containers: []},
        }),
      )
    }
    for (const pod of live) {
      const fresh = this.cluster.get(pods, ns, pod.metadata!.name)
      this.cluster.update(pods, ns, pod.metadata!.name, {...fresh, status: podStatus()}, {subresource: 'status'})
      if (fault) {
        this.cluster.podLogs.set(`${ns}/${pod.metadata!.name}`, fault.log)
        this.event(ns, fresh, 'Warning', 'BackOff', `Back-off restarting failed container ${containers[0]?.name ?? 'app'} in pod ${pod.metadata!.name}: ${fault.message}`)
      } else this.cluster.podLogs.set(`${ns}/${pod.metadata!.name}`, `${name} started\n`)
    }
    const ready = fault ? 0 : replicas
    const freshRs = this.cluster.get(replicaSets, ns, rsName)
    this.cluster.update(
      replicaSets,
      ns,
      rsName,
      {...freshRs, status: {replicas, fullyLabeledReplicas: replicas, readyReplicas: ready, availableReplicas: ready, observedGeneration: freshRs.metadata?.generation}},
      {subresource: 'status'},
    )
    const freshDep = this.cluster.get(deployments, ns, name)
    const conditions = fault
      ? [
          {type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.', lastUpdateTime: now(), lastTransitionTime: now()},
          {type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', message: `ReplicaSet "${rsName}" is progressing.`, lastUpdateTime: now(), lastTransitionTime: now()},
        ]
      : [
          {type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.', lastUpdateTime: now(), lastTransitionTime: now()},
          {type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${rsName}" has successfully progressed.`, lastUpdateTime: now(), lastTransitionTime: now()},
        ]
    this.cluster.update(
      deployments,
      ns,
      name,
      {
        ...freshDep,
        status: {
          observedGeneration: freshDep.metadata?.generation,
          replicas,
          updatedReplicas: replicas,
          readyReplicas: ready,
          availableReplicas: ready,
          ...(fault ? {unavailableReplicas: replicas} : {}),
          conditions,
        },
      },
      {subresource: 'status'},
    )
  }

  private reconcileStatefulSet(ns: string, name: string) {
    const sets = this.type('apps', 'statefulsets')
    const sts = this.cluster.tryGet(sets, ns, name)
    if (!sts) return
    const replicas: number = sts.spec?.replicas ?? 1
    const revision = `${name}-${createHash('sha256').update(JSON.stringify(sts.spec?.template ?? {})).digest('hex').slice(0, 10)}`
    const ready = this.faults.neverReady.has(`${ns}/${name}`) ? 0 : replicas
    this.cluster.update(
      sets,
      ns,
      name,
      {
        ...sts,
        status: {
          observedGeneration: sts.metadata?.generation,
          replicas,
          readyReplicas: ready,
          currentReplicas: replicas,
          updatedReplicas: replicas,
          availableReplicas: ready,
          currentRevision: revision,
          updateRevision: revision,
          collisionCount: 0,
        },
      },
      {subresource: 'status'},
    )
  }

  /**
   * Argo CD's application controller, in short: run the requested sync (a rollback's operation
   * carries the history entry's revision and source), set sync and health, list the synced
   * Deployment under status.resources with the health message Argo CD's Deployment check gives,
   * and record a successful sync in status.history (next id, last revisionHistoryLimit entries).
   */
  private syncApplication(ns: string, name: string) {
    const apps = this.cluster.findType('argoproj.io', 'v1alpha1', 'applications')
    if (!apps) return
    const app = this.cluster.tryGet(apps, ns, name)
    if (!app) return
    const key = this.faults.argo.has(`${ns}/${name}`) ? `${ns}/${name}` : name
    const outcome = this.faults.argo.get(key) ?? 'Healthy'
    const source = app.operation?.sync?.source ?? app.spec?.source
    const revision = (app.operation?.sync?.source ? app.operation.sync.revision : undefined) ?? source?.targetRevision ?? 'HEAD'
    const failed = outcome === 'Failed' || outcome === 'OutOfSync'
    const synced = !failed && JSON.stringify(source) === JSON.stringify(app.spec?.source)
    const {operation, ...rest} = app
    const health = failed ? 'Missing' : outcome
    const history: Array<Record<string, any>> = app.status?.history ?? []
    const nextId = history.length > 0 ? Number(history[history.length - 1]!.id) + 1 : 0
    const at = now()
    const next: KubeObject = {
      ...rest,
      status: {
        ...app.status,
        observedGeneration: app.metadata?.generation,
        sync: {status: synced ? 'Synced' : 'OutOfSync', revision, comparedTo: {source: app.spec?.source, destination: app.spec?.destination}},
        health: {status: health},
        resources: [this.argoResource(app, health, synced)],
        reconciledAt: at,
        operationState: {
          operation: operation ?? {sync: {revision}, initiatedBy: {automated: true}},
          phase: failed ? 'Failed' : 'Succeeded',
          message: failed ? 'one or more objects failed to apply (injected by the stand-in)' : 'successfully synced (all tasks run)',
          startedAt: at,
          finishedAt: at,
          syncResult: {revision, source},
        },
        history: failed ? history : [...history, {id: nextId, revision, deployStartedAt: at, deployedAt: at, source, initiatedBy: operation?.initiatedBy ?? {automated: true}}].slice(-(app.spec?.revisionHistoryLimit ?? 10)),
      },
    }
    this.cluster.update(apps, ns, name, next)
    const lasts = this.faults.argoFor.get(key)
    if (lasts !== undefined && health !== 'Healthy' && !failed) {
      this.faults.argo.delete(key)
      this.faults.argoFor.delete(key)
      this.later(() => {
        const current = this.cluster.tryGet(apps, ns, name)
        if (!current) return
        this.cluster.update(apps, ns, name, {...current, status: {...current.status, health: {status: 'Healthy'}, resources: [this.argoResource(current, 'Healthy', current.status?.sync?.status === 'Synced')]}})
      }, lasts)
    }
  }

  /** The app's Deployment as status.resources lists it (gitops-engine's Deployment health messages). */
  private argoResource(app: KubeObject, health: string, synced: boolean) {
    const name = app.metadata?.name as string
    const message = health === 'Degraded' ? `Deployment "${name}" exceeded its progress deadline` : health === 'Progressing' ? `Waiting for rollout to finish: 0 of 1 updated replicas are available...` : undefined
    return {group: 'apps', version: 'v1', kind: 'Deployment', namespace: app.spec?.destination?.namespace, name, status: synced ? 'Synced' : 'OutOfSync', health: {status: health, ...(message ? {message} : {})}}
  }
}
