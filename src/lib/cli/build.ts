/** Set by the build (scripts/build.mjs) to a hash of idp's sources and locked dependencies. */
declare const __IDP_BUILD_ID__: string | undefined

/**
 * What this build is made of; results kept across runs (the validated .idp.yml, the Kubernetes
 * client's compiled code) are keyed by it. Undefined when running from source: nothing is kept.
 */
export const BUILD_ID: string | undefined = typeof __IDP_BUILD_ID__ === 'string' ? __IDP_BUILD_ID__ : undefined
