/** Set by the build (scripts/build.mjs) to a hash of idp's sources and locked dependencies. */
declare const __IDP_BUILD_ID__: string | undefined

/**
 * What this build is made of: every cache key holds it (./cache.ts), since another build may work
 * an answer out differently. Undefined when running from source, where an edit changes the code
 * but not this: the validated .idp.yml and compiled code are then not kept.
 */
export const BUILD_ID: string | undefined = typeof __IDP_BUILD_ID__ === 'string' ? __IDP_BUILD_ID__ : undefined
