/**
 * The parts of @kubernetes/client-node idp uses, imported by name so that the bundle keeps only
 * these API groups: `await import('@kubernetes/client-node')` yields the whole namespace, all
 * ~60 generated API groups (3.5 MB), which every cluster command then compiled at start-up.
 */
export {AppsV1Api, CoordinationV1Api, CoreV1Api, KubeConfig, KubernetesObjectApi, Observable, PatchStrategy, RbacAuthorizationV1Api} from '@kubernetes/client-node'
