import * as Flags from '@oclif/core/flags'

import {BaseCommand, type Served} from '../lib/cli/base-command.js'
import type {DoctorResult} from '../lib/doctor/doctor.js'

export default class Doctor extends BaseCommand<typeof Doctor, DoctorResult> {
  static override summary = 'Check that the tools, clusters and tokens this repository needs are in place.'
  static override description = `Checks git, helm, kubectl, terraform, vcluster and argocd (found on PATH, version, minimum), that .idp.yml is valid, that every kube context it names answers /version within 5 seconds, and whether a GitHub token is set (required only with repo.publish; the token is never printed). With --env, only what that environment needs, and whether the image it would run exists in its registry. What is required follows from .idp.yml; without one only git is required. Exits 4 when something required is missing, 3 when .idp.yml is invalid.`
  static override examples = [
    {description: 'Check this repository', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'As JSON, for CI (the checks are in result.checks, or error.details.checks when one fails)', command: '<%= config.bin %> <%= command.id %> --json'},
    {description: 'Check another repository', command: '<%= config.bin %> <%= command.id %> --dir ../shop'},
    {description: 'Check what one environment needs: its tools, its cluster, its secrets and that its image exists', command: '<%= config.bin %> <%= command.id %> --env pr-42'},
  ]

  static override flags = {
    env: Flags.string({description: 'Check only what this environment needs (as env up or deploy would resolve it): its tools, its cluster context, its Vault paths, and that the image it would run exists in its registry.', env: 'IDP_ENV'}),
  }

  async execute(): Promise<Served<DoctorResult>> {
    const {doctor, renderDoctor} = await import('../lib/doctor/doctor.js')
    return this.serve(doctor, renderDoctor, {dir: this.dir, env: this.flags.env})
  }
}
