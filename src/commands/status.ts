import * as Flags from '@oclif/core/flags'

import {BaseCommand, type Served} from '../lib/cli/base-command.js'
import type {StatusResult} from '../lib/status/status.js'

export default class Status extends BaseCommand<typeof Status, StatusResult> {
  static override summary = 'One screen for this service: what runs in every environment and preview, its health, access grants, and what needs attention first.'
  static override description = `Reads every cluster of .idp.yml at once, one list call per kind per cluster (namespaces, RoleBindings, the helm release Secrets of this service's release, Deployments, Argo CD Applications), and shows:

- the service (name, owner, lifecycle, system, links) from .idp.yml and catalog-info.yaml;
- every configured environment and every preview that exists: what runs there (revision, commit, image tag, chart version), its health (Argo CD sync and health, or the helm release status and its Deployments ready/desired), URL, owner, age and expiry;
- the access grants in those environments (who, role, expiry);
- first, what needs attention, each with the idp command that deals with it: failed or degraded deployments, environments past their expiry (env gc), grants past their expiry (access revoke --expired), clusters that cannot be reached.

A vcluster preview's release and Deployments are read inside its vcluster (through the kubeconfig env up kept on this machine, else vcluster connect --print), every vcluster at once up to a limit, each within its own time limit; a vcluster that cannot be read is a warning on that preview (health Unknown).

With ARGOCD_SERVER set (and ARGOCD_AUTH_TOKEN, read by argocd itself), the Applications are read through that Argo CD API server with one argocd app list, as idp deploy reaches it; otherwise from the clusters (argocd --core's way).

An unreachable cluster is an attention item and a warning; the others are still shown (exit 0). Changes nothing.

--watch reads again every --interval until Ctrl-C (exit 130, as for every command; nothing is left to clean up). On a terminal the screen is redrawn; otherwise (a pipe, a log) only changes are printed, one line per item that changed ("<time> env shop/pr-1 on dev: Healthy, ..."), every item the first time.

--all-services shows every idp environment on the configured clusters; --owner keeps those of one team (the service owner that env up and deploy record as the idp.dev/team label) or one person (who brought the environment up).`

  static override examples = [
    {description: 'This service, everywhere', command: '<%= config.bin %> <%= command.id %>'},
    {description: 'Keep it on screen, refreshed every 10 s', command: '<%= config.bin %> <%= command.id %> --watch --interval 10s'},
    {description: "A team's view across every service on the configured clusters", command: '<%= config.bin %> <%= command.id %> --all-services --owner team-a'},
    {description: 'The commands for what needs attention, for a script', command: "<%= config.bin %> <%= command.id %> --json | jq -r '.result.attention[].command'"},
    {description: 'Log changes from CI or a terminal multiplexer', command: '<%= config.bin %> <%= command.id %> --watch --interval 30s >> status.log'},
    {description: 'Argo CD through its API server, as idp deploy uses it', command: 'ARGOCD_SERVER=argocd.example.com ARGOCD_AUTH_TOKEN=... <%= config.bin %> <%= command.id %>'},
  ]

  static override flags = {
    'all-services': Flags.boolean({description: "Every service's idp environments on the configured clusters, not only this repository's.", env: 'IDP_ALL_SERVICES', allowNo: true}),
    owner: Flags.string({description: 'Only environments of this team (service owner, e.g. team-a) or person (who brought them up).', env: 'IDP_OWNER'}),
    watch: Flags.boolean({char: 'w', description: 'Read again every --interval until Ctrl-C: redraw on a terminal, print only changes otherwise. Not with --json.'}),
    interval: Flags.string({description: 'How often --watch reads, e.g. 5s, 1m (whole seconds; default 5s).', env: 'IDP_INTERVAL'}),
  }

  async execute(): Promise<Served<StatusResult>> {
    const {status, renderStatus} = await import('../lib/status/status.js')
    const {flags} = this
    return this.serve(status, renderStatus, {
      dir: this.dir,
      allServices: flags['all-services'],
      ...(flags.owner === undefined ? {} : {owner: flags.owner}),
      watch: flags.watch,
      ...(flags.interval === undefined ? {} : {interval: flags.interval}),
      json: flags.json,
    })
  }
}
