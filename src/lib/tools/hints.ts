import type {ToolName} from './types.js'

/**
 * Known failure texts of the tools idp drives, mapped to the next step a person should take.
 * Matched against the tool's stderr (and stdout, for tools like argocd that print flag errors
 * there). The first matching entry wins, so specific patterns come before general ones.
 */
interface HintRule {
  tools?: ToolName[]
  pattern: RegExp
  hint: (context: HintContext) => string
}

export interface HintContext {
  tool: ToolName
  argv: readonly string[]
  output: string
  /** Put before every command a hint prints, so it runs where idp ran the tool (tool-error.ts placePrefix). */
  prefix: string
}

/** The value of `--flag VALUE`, `--flag=VALUE` or `-f VALUE` in argv. */
export function flagValue(argv: readonly string[], ...names: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    for (const name of names) {
      if (arg === name) return argv[i + 1]
      if (arg.startsWith(`${name}=`)) return arg.slice(name.length + 1)
    }
  }
  return undefined
}

/** The first positional argument after the given subcommand words, e.g. the release of `helm upgrade`. */
function positionalAfter(argv: readonly string[], words: number): string | undefined {
  let seen = 0
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--') return argv[i + 1]
    if (arg.startsWith('-')) {
      // Flags idp passes with a separate value; others are booleans or use `=`.
      if (!arg.includes('=') && ['-n', '--namespace', '-f', '--values', '--set', '--timeout', '--version', '--kube-context', '--kubeconfig', '--revision', '-o', '--output'].includes(arg)) i++
      continue
    }
    if (seen++ >= words) return arg
  }
  return undefined
}

function helmRelease(context: HintContext): {release: string; ns: string} {
  const release = positionalAfter(context.argv, 1) ?? 'RELEASE'
  const namespace = flagValue(context.argv, '-n', '--namespace')
  return {release, ns: namespace ? ` -n ${namespace}` : ''}
}

const RULES: HintRule[] = [
  {
    tools: ['helm'],
    pattern: /another operation \(install\/upgrade\/rollback\) is in progress/iu,
    hint: (c) => {
      const {release, ns} = helmRelease(c)
      return `A previous Helm operation on release "${release}" never finished (the release is stuck in a pending state). Look at it with \`${c.prefix}helm history ${release}${ns}\`, then \`${c.prefix}helm rollback ${release} REVISION${ns}\` to the last deployed revision (or \`${c.prefix}helm uninstall ${release}${ns}\` if it never deployed), and retry.`
    },
  },
  {
    tools: ['helm'],
    pattern: /has no deployed releases/iu,
    hint: (c) => {
      const {release, ns} = helmRelease(c)
      return `Release "${release}" exists but never deployed successfully. Remove it with \`${c.prefix}helm uninstall ${release}${ns}\` and retry.`
    },
  },
  {
    tools: ['helm'],
    pattern: /kubernetes cluster unreachable/iu,
    hint: () => 'Helm could not reach the cluster of the kubeconfig idp passed. Check the context with `idp doctor` (it tests /version of every context in .idp.yml).',
  },
  {
    tools: ['helm', 'kubectl'],
    pattern: /context deadline exceeded|timed out waiting for the condition/iu,
    hint: (c) => {
      const namespace = flagValue(c.argv, '-n', '--namespace')
      return `Resources did not become ready in time. Look at \`${c.prefix}kubectl get pods${namespace ? ` -n ${namespace}` : ''}\` and \`${c.prefix}kubectl get events${namespace ? ` -n ${namespace}` : ''} --sort-by=.lastTimestamp\`, or raise the timeout.`
    },
  },
  {
    tools: ['terraform'],
    pattern: /Error acquiring the state lock/iu,
    hint: (c) => {
      const id = /^\W*ID:\s+(\S+)/mu.exec(c.output)?.[1] ?? 'LOCK_ID'
      return `Another Terraform run holds the state lock. Wait for it to finish; if none is running any more, release the lock with \`${c.prefix}terraform force-unlock ${id}\`.`
    },
  },
  {
    tools: ['terraform'],
    pattern: /terraform init|Inconsistent dependency lock file|Required plugins are not installed|Module not installed|Backend initialization required/iu,
    hint: (c) => `The Terraform directory is not initialised for this configuration: run \`${c.prefix}terraform init\` (idp runs it before apply; a changed backend or provider needs \`${c.prefix}terraform init -upgrade\` or \`-reconfigure\`).`,
  },
  {
    tools: ['terraform'],
    pattern: /Failed to query available provider packages|Failed to install provider|could not connect to registry/iu,
    hint: () => 'Terraform could not download a provider. Check network access to the registry, or configure a provider mirror in the Terraform CLI configuration (TF_CLI_CONFIG_FILE).',
  },
  {
    tools: ['kubectl', 'helm', 'argocd', 'vcluster'],
    pattern: /\bUnauthorized\b|You must be logged in to the server/u,
    hint: () => 'The cluster refused the credentials of the kube context. Log in again (e.g. refresh your cloud CLI session) and check the context with `idp doctor`.',
  },
  {
    tools: ['kubectl', 'helm', 'vcluster'],
    pattern: /\bforbidden\b/iu,
    hint: (c) => {
      const namespace = flagValue(c.argv, '-n', '--namespace')
      return `The kube context's user lacks permission for this. Check with \`${c.prefix}kubectl auth can-i --list${namespace ? ` -n ${namespace}` : ''}\`, or ask a cluster admin for the role (see \`idp access\`).`
    },
  },
  {
    tools: ['kubectl', 'vcluster'],
    pattern: /connection to the server .* was refused|no such host|i\/o timeout|dial tcp .*connect: connection refused/iu,
    hint: () => 'The Kubernetes API server is unreachable. Check the cluster is running and the context points at it (`idp doctor`).',
  },
  {
    tools: ['git'],
    pattern: /not a git repository/iu,
    hint: () => 'This directory is not a git repository. Run idp inside the repository (or pass --dir), or create one with `git init`.',
  },
  {
    tools: ['git'],
    pattern: /Authentication failed|could not read Username|Permission denied \(publickey\)|terminal prompts disabled/iu,
    hint: () => 'git could not authenticate to the remote. Set GITHUB_TOKEN (or GH_TOKEN) to a token with repo access, or configure a credential helper / SSH key for this remote.',
  },
  {
    tools: ['git'],
    pattern: /Please tell me who you are|empty ident name/iu,
    hint: () => 'git needs an author identity: `git config --global user.name "Your Name"` and `git config --global user.email you@example.com`.',
  },
  {
    tools: ['git'],
    pattern: /\[rejected\]|non-fast-forward|fetch first/iu,
    hint: () => 'The remote has commits you do not have. Pull (or rebase) first, then push again.',
  },
  {
    tools: ['vcluster'],
    pattern: /multiple vclusters with name/iu,
    hint: () => 'Several vclusters share this name: pass the namespace (--namespace) to pick one.',
  },
  {
    tools: ['vcluster'],
    pattern: /couldn't find vcluster/iu,
    hint: () => 'No vcluster of that name exists in the context. List them with `vcluster list` (or `idp env list`).',
  },
  {
    tools: ['argocd'],
    pattern: /Argo CD server address unspecified/iu,
    hint: () => 'The argocd CLI has no server: run `argocd login SERVER`, set ARGOCD_SERVER (and ARGOCD_AUTH_TOKEN), or use `--core` to talk to the cluster directly.',
  },
  {
    tools: ['argocd'],
    pattern: /PermissionDenied|permission denied/iu,
    hint: () => 'Argo CD refused the request: the application or project may not exist, or the token lacks the role. Check `argocd account can-i get applications PROJECT/APP`.',
  },
  {
    tools: ['vcluster', 'argocd', 'helm', 'kubectl', 'terraform', 'git'],
    pattern: /unknown (?:shorthand )?flag|flag provided but not defined/iu,
    hint: (c) => `The installed ${c.tool} does not accept a flag idp passed; it is probably too old or too new. Compare \`${c.tool} version\` with the range \`idp doctor\` reports.`,
  },
]

/** The specific next step for a known failure text, if any. */
export function hintFor(tool: ToolName, argv: readonly string[], output: string, prefix = ''): string | undefined {
  const context: HintContext = {tool, argv, output, prefix}
  for (const rule of RULES) {
    if (rule.tools && !rule.tools.includes(tool)) continue
    if (rule.pattern.test(output)) return rule.hint(context)
  }
  return undefined
}
