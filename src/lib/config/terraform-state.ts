/**
 * The defaults of where idp keeps Terraform state (env/tf-state.ts), here rather than in the
 * schema so that reading them loads no zod.
 */

/** Where idp keeps Terraform state on a cluster unless terraform.stateNamespace says otherwise. */
export const DEFAULT_STATE_NAMESPACE = 'idp-system'
/** Start of the secret_suffix of the kubernetes backend idp configures: the state Secret is tfstate-<workspace>-idp-<service>. */
export const TERRAFORM_STATE_SUFFIX = 'idp'
