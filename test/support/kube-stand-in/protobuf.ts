// Decodes the Kubernetes protobuf request bodies that typed client-go clients (helm's release
// storage, `kubectl create namespace|secret|configmap|role...`, `kubectl auth can-i`, DeleteOptions)
// send: the 4-byte magic "k8s\0" and a runtime.Unknown {typeMeta, raw} whose raw bytes are the
// typed message. Field numbers come from k8s.io/api's generated.proto; only the messages those
// clients send are described. Responses are always JSON, which client-go accepts.
import type {KubeObject} from './types.js'

type FieldType = 'string' | 'bytes' | 'int' | 'bool' | 'time' | Schema | 'map<string,string>' | 'map<string,bytes>'
interface Field {
  name: string
  type: FieldType
  repeated?: boolean
}
type Schema = {[fieldNumber: number]: Field}

const time: Schema = {1: {name: 'seconds', type: 'int'}, 2: {name: 'nanos', type: 'int'}}
const ownerReference: Schema = {
  1: {name: 'kind', type: 'string'},
  3: {name: 'name', type: 'string'},
  4: {name: 'uid', type: 'string'},
  5: {name: 'apiVersion', type: 'string'},
  6: {name: 'controller', type: 'bool'},
  7: {name: 'blockOwnerDeletion', type: 'bool'},
}
const objectMeta: Schema = {
  1: {name: 'name', type: 'string'},
  2: {name: 'generateName', type: 'string'},
  3: {name: 'namespace', type: 'string'},
  5: {name: 'uid', type: 'string'},
  6: {name: 'resourceVersion', type: 'string'},
  7: {name: 'generation', type: 'int'},
  8: {name: 'creationTimestamp', type: 'time'},
  11: {name: 'labels', type: 'map<string,string>'},
  12: {name: 'annotations', type: 'map<string,string>'},
  13: {name: 'ownerReferences', type: ownerReference, repeated: true},
  14: {name: 'finalizers', type: 'string', repeated: true},
}
const policyRule: Schema = {
  1: {name: 'verbs', type: 'string', repeated: true},
  2: {name: 'apiGroups', type: 'string', repeated: true},
  3: {name: 'resources', type: 'string', repeated: true},
  4: {name: 'resourceNames', type: 'string', repeated: true},
  5: {name: 'nonResourceURLs', type: 'string', repeated: true},
}
const subject: Schema = {
  1: {name: 'kind', type: 'string'},
  2: {name: 'apiGroup', type: 'string'},
  3: {name: 'name', type: 'string'},
  4: {name: 'namespace', type: 'string'},
}
const roleRef: Schema = {1: {name: 'apiGroup', type: 'string'}, 2: {name: 'kind', type: 'string'}, 3: {name: 'name', type: 'string'}}
const fieldSelectorAttributes: Schema = {1: {name: 'rawSelector', type: 'string'}}
const resourceAttributes: Schema = {
  1: {name: 'namespace', type: 'string'},
  2: {name: 'verb', type: 'string'},
  3: {name: 'group', type: 'string'},
  4: {name: 'version', type: 'string'},
  5: {name: 'resource', type: 'string'},
  6: {name: 'subresource', type: 'string'},
  7: {name: 'name', type: 'string'},
  8: {name: 'fieldSelector', type: fieldSelectorAttributes},
  9: {name: 'labelSelector', type: fieldSelectorAttributes},
}
const nonResourceAttributes: Schema = {1: {name: 'path', type: 'string'}, 2: {name: 'verb', type: 'string'}}
const meta = {1: {name: 'metadata', type: objectMeta}} as const
const labelSelector: Schema = {
  1: {name: 'matchLabels', type: 'map<string,string>'},
  2: {
    name: 'matchExpressions',
    type: {1: {name: 'key', type: 'string'}, 2: {name: 'operator', type: 'string'}, 3: {name: 'values', type: 'string', repeated: true}},
    repeated: true,
  },
}
const container: Schema = {
  1: {name: 'name', type: 'string'},
  2: {name: 'image', type: 'string'},
  3: {name: 'command', type: 'string', repeated: true},
  4: {name: 'args', type: 'string', repeated: true},
  5: {name: 'workingDir', type: 'string'},
  6: {
    name: 'ports',
    type: {1: {name: 'name', type: 'string'}, 2: {name: 'hostPort', type: 'int'}, 3: {name: 'containerPort', type: 'int'}, 4: {name: 'protocol', type: 'string'}},
    repeated: true,
  },
  7: {name: 'env', type: {1: {name: 'name', type: 'string'}, 2: {name: 'value', type: 'string'}}, repeated: true},
  13: {name: 'terminationMessagePath', type: 'string'},
  14: {name: 'imagePullPolicy', type: 'string'},
  20: {name: 'terminationMessagePolicy', type: 'string'},
}
const podSpec: Schema = {
  2: {name: 'containers', type: container, repeated: true},
  3: {name: 'restartPolicy', type: 'string'},
  4: {name: 'terminationGracePeriodSeconds', type: 'int'},
  6: {name: 'dnsPolicy', type: 'string'},
  7: {name: 'nodeSelector', type: 'map<string,string>'},
  8: {name: 'serviceAccountName', type: 'string'},
  20: {name: 'initContainers', type: container, repeated: true},
}

export const SCHEMAS: Record<string, Schema> = {
  'v1/Namespace': {...meta, 2: {name: 'spec', type: {1: {name: 'finalizers', type: 'string', repeated: true}}}},
  'v1/Secret': {
    ...meta,
    2: {name: 'data', type: 'map<string,bytes>'},
    3: {name: 'type', type: 'string'},
    4: {name: 'stringData', type: 'map<string,string>'},
    5: {name: 'immutable', type: 'bool'},
  },
  'v1/ConfigMap': {
    ...meta,
    2: {name: 'data', type: 'map<string,string>'},
    3: {name: 'binaryData', type: 'map<string,bytes>'},
    4: {name: 'immutable', type: 'bool'},
  },
  'v1/ServiceAccount': {...meta, 4: {name: 'automountServiceAccountToken', type: 'bool'}},
  'v1/DeleteOptions': {
    1: {name: 'gracePeriodSeconds', type: 'int'},
    2: {name: 'preconditions', type: {1: {name: 'uid', type: 'string'}, 2: {name: 'resourceVersion', type: 'string'}}},
    3: {name: 'orphanDependents', type: 'bool'},
    4: {name: 'propagationPolicy', type: 'string'},
    5: {name: 'dryRun', type: 'string', repeated: true},
  },
  // `kubectl create deployment` (only the fields it and simple clients set; others are skipped).
  'apps/v1/Deployment': {
    ...meta,
    2: {
      name: 'spec',
      type: {
        1: {name: 'replicas', type: 'int'},
        2: {name: 'selector', type: labelSelector},
        3: {name: 'template', type: {1: {name: 'metadata', type: objectMeta}, 2: {name: 'spec', type: podSpec}}},
        4: {name: 'strategy', type: {1: {name: 'type', type: 'string'}}},
        5: {name: 'minReadySeconds', type: 'int'},
        6: {name: 'revisionHistoryLimit', type: 'int'},
        7: {name: 'paused', type: 'bool'},
        9: {name: 'progressDeadlineSeconds', type: 'int'},
      },
    },
  },
  'rbac.authorization.k8s.io/v1/Role': {...meta, 2: {name: 'rules', type: policyRule, repeated: true}},
  'rbac.authorization.k8s.io/v1/ClusterRole': {...meta, 2: {name: 'rules', type: policyRule, repeated: true}},
  'rbac.authorization.k8s.io/v1/RoleBinding': {
    ...meta,
    2: {name: 'subjects', type: subject, repeated: true},
    3: {name: 'roleRef', type: roleRef},
  },
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': {
    ...meta,
    2: {name: 'subjects', type: subject, repeated: true},
    3: {name: 'roleRef', type: roleRef},
  },
  'authorization.k8s.io/v1/SelfSubjectAccessReview': {
    ...meta,
    2: {name: 'spec', type: {1: {name: 'resourceAttributes', type: resourceAttributes}, 2: {name: 'nonResourceAttributes', type: nonResourceAttributes}}},
  },
}

class Reader {
  pos = 0
  constructor(readonly buf: Buffer) {}
  get done() {
    return this.pos >= this.buf.length
  }
  varint(): bigint {
    let result = 0n
    let shift = 0n
    for (;;) {
      if (this.pos >= this.buf.length) throw new Error('truncated varint')
      const byte = this.buf[this.pos++]!
      result |= BigInt(byte & 0x7f) << shift
      if ((byte & 0x80) === 0) return result
      shift += 7n
    }
  }
  bytes(): Buffer {
    const len = Number(this.varint())
    const out = this.buf.subarray(this.pos, this.pos + len)
    this.pos += len
    return out
  }
  skip(wireType: number) {
    if (wireType === 0) this.varint()
    else if (wireType === 1) this.pos += 8
    else if (wireType === 2) this.bytes()
    else if (wireType === 5) this.pos += 4
    else throw new Error(`unsupported protobuf wire type ${wireType}`)
  }
}

function decodeMessage(buf: Buffer, schema: Schema): Record<string, any> {
  const reader = new Reader(buf)
  const out: Record<string, any> = {}
  while (!reader.done) {
    const tag = Number(reader.varint())
    const number = tag >>> 3
    const wireType = tag & 7
    const field = schema[number]
    if (!field) {
      reader.skip(wireType)
      continue
    }
    let value: any
    const type = field.type
    if (type === 'int') value = Number(BigInt.asIntN(64, reader.varint()))
    else if (type === 'bool') value = reader.varint() !== 0n
    else if (type === 'string') value = reader.bytes().toString('utf8')
    else if (type === 'bytes') value = reader.bytes().toString('base64')
    else if (type === 'time') {
      const t = decodeMessage(reader.bytes(), time)
      value = new Date((t.seconds ?? 0) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z')
    } else if (type === 'map<string,string>' || type === 'map<string,bytes>') {
      const entry = decodeMessage(reader.bytes(), {1: {name: 'key', type: 'string'}, 2: {name: 'value', type: type === 'map<string,string>' ? 'string' : 'bytes'}})
      out[field.name] = {...out[field.name], [entry.key ?? '']: entry.value ?? ''}
      continue
    } else value = decodeMessage(reader.bytes(), type)
    // Go's generated marshallers write zero values; JSON clients omit them, so do the same.
    if (!field.repeated && (value === '' || value === 0 || value === false)) continue
    if (field.repeated) (out[field.name] ??= []).push(value)
    else out[field.name] = value
  }
  return out
}

export const PROTOBUF_MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00])

export class UnsupportedProtobufError extends Error {}

/** Turns a protobuf request body into the JSON object a JSON client would have sent. */
export function decodeKubeProtobuf(body: Buffer): KubeObject {
  if (!body.subarray(0, 4).equals(PROTOBUF_MAGIC)) throw new UnsupportedProtobufError('protobuf body without the k8s\\0 prefix')
  const unknown = decodeMessage(body.subarray(4), {
    1: {name: 'typeMeta', type: {1: {name: 'apiVersion', type: 'string'}, 2: {name: 'kind', type: 'string'}}},
    2: {name: 'raw', type: 'bytes'},
  })
  const apiVersion: string = unknown.typeMeta?.apiVersion ?? ''
  const kind: string = unknown.typeMeta?.kind ?? ''
  // DeleteOptions arrive as meta.k8s.io/v1 or v1; both share the same message.
  const key = kind === 'DeleteOptions' ? 'v1/DeleteOptions' : `${apiVersion}/${kind}`
  const schema = SCHEMAS[key]
  if (!schema) throw new UnsupportedProtobufError(`the stand-in cannot decode protobuf ${apiVersion} ${kind}`)
  const raw = Buffer.from(unknown.raw ?? '', 'base64')
  return {apiVersion, kind, ...decodeMessage(raw, schema)}
}
