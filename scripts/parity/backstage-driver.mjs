// Runs a template's steps with the real @backstage/plugin-scaffolder-backend: its
// NunjucksWorkflowRunner (step inputs, if:, each:) and its fetch:*, fs:delete and fs:rename
// actions, with SecureTemplater in isolated-vm. Actions idp does not run locally (publish:*,
// catalog:register, debug:log, anything else) are replaced by one that does nothing but give
// the outputs idp gives. A last step copies the workspace to OUT_DIR before the runner removes it.
//
//   node --no-node-snapshot scripts/parity/backstage-driver.mjs BACKSTAGE_NODE_MODULES TEMPLATE_YAML PARAMETERS_JSON OUT_DIR
//
// Used by scripts/parity/backstage-parity.mjs; needs an install of
// @backstage/plugin-scaffolder-backend@3.0.1 (see docs/create.md, "Parity with Backstage").
import fs from 'node:fs'
import {createRequire} from 'node:module'
import os from 'node:os'
import path from 'node:path'

const [, , modules, templateYaml, parametersJson, outDir] = process.argv
if (!modules || !templateYaml || !parametersJson || !outDir) {
  process.stderr.write('usage: backstage-driver.mjs BACKSTAGE_NODE_MODULES TEMPLATE_YAML PARAMETERS_JSON OUT_DIR\n')
  process.exit(2)
}
// Backstage's packages are CommonJS, resolved from that node_modules (not idp's).
const require = createRequire(path.join(modules, 'noop.js'))
// Deep files of the package, by path: its exports map does not list them.
const backend = (rel) => require(path.join(modules, '@backstage/plugin-scaffolder-backend/dist', rel))
const {NunjucksWorkflowRunner} = backend('scaffolder/tasks/NunjucksWorkflowRunner.cjs.js')
const {createFetchTemplateAction} = backend('scaffolder/actions/builtin/fetch/template.cjs.js')
const {createFetchTemplateFileAction} = backend('scaffolder/actions/builtin/fetch/templateFile.cjs.js')
const {createFetchPlainAction} = backend('scaffolder/actions/builtin/fetch/plain.cjs.js')
const {createFetchPlainFileAction} = backend('scaffolder/actions/builtin/fetch/plainFile.cjs.js')
const {createFilesystemDeleteAction} = backend('scaffolder/actions/builtin/filesystem/delete.cjs.js')
const {createFilesystemRenameAction} = backend('scaffolder/actions/builtin/filesystem/rename.cjs.js')
const {createTemplateAction} = require('@backstage/plugin-scaffolder-node')
const {ScmIntegrations} = require('@backstage/integration')
const {ConfigReader} = require('@backstage/config')
const {parse} = require('yaml')

const logs = []
const logger = {
  info: (m) => logs.push(`info ${m}`),
  warn: (m) => logs.push(`warn ${m}`),
  error: (m) => logs.push(`error ${m}`),
  debug: () => {},
  child() {
    return logger
  },
}

async function main() {
  const doc = parse(fs.readFileSync(templateYaml, 'utf8'))
  const parameters = JSON.parse(parametersJson)
  const integrations = ScmIntegrations.fromConfig(new ConfigReader({}))
  const reader = {readTree: () => Promise.reject(new Error('offline')), readUrl: () => Promise.reject(new Error('offline'))}
  const real = [
    createFetchTemplateAction({reader, integrations}),
    createFetchTemplateFileAction({reader, integrations}),
    createFetchPlainAction({reader, integrations}),
    createFetchPlainFileAction({reader, integrations}),
    createFilesystemDeleteAction(),
    createFilesystemRenameAction(),
  ]
  const actions = new Map(real.map((a) => [a.id, a]))
  const capture = createTemplateAction({
    id: 'idp:capture',
    async handler(ctx) {
      fs.cpSync(ctx.workspacePath, outDir, {recursive: true, verbatimSymlinks: true})
    },
  })
  // What idp reports for the actions it does not run (steps.ts): publish:github's URLs, nothing else.
  const elsewhere = (id) =>
    createTemplateAction({
      id,
      async handler(ctx) {
        if (id === 'publish:github' && typeof ctx.input.repoUrl === 'string') {
          const url = new URL(`https://${ctx.input.repoUrl}`)
          const remoteUrl = `https://${url.host}/${url.searchParams.get('owner')}/${url.searchParams.get('repo')}`
          ctx.output('remoteUrl', remoteUrl)
          ctx.output('repoContentsUrl', `${remoteUrl}/blob/${ctx.input.defaultBranch || 'main'}`)
        }
      },
    })
  const actionRegistry = {
    async get(id) {
      if (id === 'idp:capture') return capture
      if (!actions.has(id)) actions.set(id, elsewhere(id))
      return actions.get(id)
    },
  }
  const workingDirectory = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-backstage-'))
  const runner = new NunjucksWorkflowRunner({actionRegistry, integrations, logger, workingDirectory})
  const steps = [...doc.spec.steps.map((s, i) => ({id: `step-${i + 1}`, name: s.id ?? `step-${i + 1}`, ...s})), {id: '__capture', name: 'capture', action: 'idp:capture'}]
  const task = {
    spec: {apiVersion: 'scaffolder.backstage.io/v1beta3', steps, parameters, output: {}, templateInfo: {baseUrl: `file://${path.resolve(templateYaml)}`, entityRef: 'template:default/parity'}, user: {}},
    secrets: {},
    isDryRun: false,
    cancelSignal: new AbortController().signal,
    getWorkspaceName: async () => 'parity',
    getInitiatorCredentials: async () => ({}),
    emitLog: async () => {},
    getTaskState: async () => undefined,
  }
  await runner.execute(task)
  fs.rmSync(workingDirectory, {recursive: true, force: true})
}

main().then(
  () => process.stdout.write(`${JSON.stringify({ok: true, logs: logs.filter((l) => l.startsWith('error') || l.startsWith('warn'))})}\n`),
  (error) => {
    process.stdout.write(`${JSON.stringify({ok: false, error: String(error && error.message), logs})}\n`)
    process.exitCode = 1
  },
)
