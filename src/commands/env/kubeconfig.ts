import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'

import {BaseCommand} from '../../lib/cli/base-command.js'

export interface EnvKubeconfigResult {
  service: string
  env: string
  /** The private kubeconfig idp keeps for the environment. */
  path: string
  /** Where --write copied it. */
  written?: string
}

export default class EnvKubeconfig extends BaseCommand<typeof EnvKubeconfig> {
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
    force: Flags.boolean({description: 'Let --write overwrite an existing file, even one of your kubeconfig files.', env: 'IDP_FORCE'}),
  }

  async execute(): Promise<EnvKubeconfigResult> {
    const [{assertDnsLabel}, {loadConfig}, {stateDir}, {envKubeconfigPath}, {PrerequisiteError, UsageError}, {kubeconfigPaths}, fs, path] = await Promise.all([
      import('../../lib/cli/names.js'),
      import('../../lib/config/load.js'),
      import('../../lib/cli/paths.js'),
      import('../../lib/env/paths.js'),
      import('../../lib/cli/errors.js'),
      import('../../lib/kube/kubeconfig.js'),
      import('node:fs/promises'),
      import('node:path'),
    ])
    const name = assertDnsLabel(this.args.env, 'environment name')
    const target = this.flags.write === undefined ? undefined : path.resolve(this.flags.write)
    if (target && !this.flags.force) {
      // Checked before anything else is read: refusing is the one safe answer here.
      if (kubeconfigPaths().includes(target)) {
        throw new UsageError(`Refusing to write over ${target}: it is one of your kubeconfig files.`, {
          hint: 'idp never changes your kubeconfig. Write to another file, or pass --force if you really mean to replace it.',
        })
      }
      const exists = await fs.stat(target).then(
        () => true,
        () => false,
      )
      if (exists) throw new UsageError(`Refusing to overwrite ${target}.`, {hint: 'Choose a new file, or pass --force to replace it.'})
    }
    const {config} = await loadConfig({dir: this.dir, required: true})
    const service = config.service.name
    const file = envKubeconfigPath(stateDir(), service, name)
    let content: string
    try {
      content = await fs.readFile(file, 'utf8')
    } catch {
      throw new PrerequisiteError(`No kubeconfig for environment ${name} of ${service} on this machine (${file}).`, {
        hint: `Run \`idp env up ${name}\`: it writes the kubeconfig (running it again on an existing environment updates it in place). \`idp env list\` shows which environments exist.`,
      })
    }
    if (!target) return {service, env: name, path: file}
    const {writePrivateFile} = await import('../../lib/cli/paths.js')
    await writePrivateFile(target, content, {userDir: true})
    return {service, env: name, path: file, written: target}
  }

  protected override human(result: EnvKubeconfigResult): string {
    // Only the path on stdout, so $(idp env kubeconfig ENV) works; the copy note goes to stderr.
    if (result.written) this.out.info(`Copied to ${result.written} (mode 0600).`)
    return result.path
  }
}
