import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {BaseCommand, type Served} from '../../lib/cli/base-command.js'
import type {EnvKubeconfigResult} from '../../lib/env/kubeconfig.js'

export default class EnvKubeconfig extends BaseCommand<typeof EnvKubeconfig, EnvKubeconfigResult> {
  static override summary = 'Print the path of the private kubeconfig idp keeps for an environment.'
  static override description = `\`idp env up\` writes a private kubeconfig (mode 0600) for each environment under the idp state directory: the vcluster's for the vcluster driver, the host context narrowed to the environment's namespace for the namespace driver. This prints its path, so you can use it without idp ever touching ~/.kube/config or your current context. --write copies it to FILE (mode 0600); it refuses to overwrite an existing file, and any of your kubeconfig files (KUBECONFIG, ~/.kube/config), unless --force.`

  static override examples = [
    {description: 'Use an environment with kubectl, for this shell only', command: 'export KUBECONFIG="$(<%= config.bin %> <%= command.id %> pr-42)"'},
    {description: 'One command against the environment', command: 'kubectl --kubeconfig "$(<%= config.bin %> <%= command.id %> pr-42)" get pods'},
    {description: 'Copy it somewhere', command: '<%= config.bin %> <%= command.id %> pr-42 --write ./pr-42.kubeconfig'},
  ]

  static override args = {
    env: Args.string({description: 'Environment name, e.g. pr-42.', required: true}),
  }

  static override flags = {
    write: Flags.string({description: 'Copy the kubeconfig to this file (mode 0600).', env: 'IDP_KUBECONFIG_WRITE'}),
    force: Flags.boolean({description: 'Let --write overwrite an existing file, even one of your kubeconfig files.', env: 'IDP_FORCE', allowNo: true}),
  }

  async execute(): Promise<Served<EnvKubeconfigResult>> {
    const {envKubeconfig, renderEnvKubeconfig} = await import('../../lib/env/kubeconfig.js')
    return this.serve(envKubeconfig, renderEnvKubeconfig, {dir: this.dir, env: this.args.env, write: this.flags.write, force: this.flags.force})
  }
}
