// Parity of `idp create` with the real Backstage scaffolder, file by file and byte for byte.
//
//   BACKSTAGE_MODULES=/path/to/node_modules node scripts/parity/backstage-parity.mjs [TEMPLATE_DIR...]
//
// BACKSTAGE_MODULES is a node_modules holding @backstage/plugin-scaffolder-backend@3.0.1 and
// @backstage/plugin-scaffolder-node (not a dependency of idp: see docs/create.md, "Parity with
// Backstage"); BACKSTAGE_NODE the Node that runs it (default: this one; its isolated-vm 5 builds
// for Node 18 to 22, while idp may run on a newer Node). The test suite runs this script
// (test/e2e/backstage-parity.test.ts) with the install test/support/setup-backstage.mjs makes. Each template is rendered by the built idp (`create --json`, no git push), then by
// Backstage's NunjucksWorkflowRunner with the same parameters (scripts/parity/backstage-driver.mjs),
// and the two trees are compared (paths, bytes, links, the executable bit). Exit 1 on any difference.
import {execFileSync, spawnSync} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..', '..')
// Default: the install the test suite made (`node test/support/setup-backstage.mjs scaffolder`).
const suiteInstall = path.join(root, '.tools', 'backstage-scaffolder')
const modules = process.env.BACKSTAGE_MODULES || path.join(suiteInstall, 'node_modules')
if (!fs.existsSync(path.join(modules, '@backstage/plugin-scaffolder-backend/package.json'))) {
  process.stderr.write(`No @backstage/plugin-scaffolder-backend in ${modules}: run \`node test/support/setup-backstage.mjs scaffolder\` (with Node 20 or 22), or set BACKSTAGE_MODULES to a node_modules that has it.\n`)
  process.exit(2)
}
const recordedNode = path.join(suiteInstall, 'node')
const backstageNode = process.env.BACKSTAGE_NODE || (!process.env.BACKSTAGE_MODULES && fs.existsSync(recordedNode) ? fs.readFileSync(recordedNode, 'utf8').trim() : process.execPath)
const backstageVersion = JSON.parse(fs.readFileSync(path.join(modules, '@backstage/plugin-scaffolder-backend/package.json'), 'utf8')).version

const REPO = ['--set', 'repoUrl=github.com?owner=acme&repo=svc']
const DEFAULTS = [
  ...['go-service', 'python-service', 'typescript-service'].map((name) => ({dir: path.join(root, 'templates', name), args: REPO})),
  ...['go-service', 'typescript-service'].map((name) => ({dir: path.join(root, 'templates', name), args: [...REPO, '--set', 'enableInfra=false'], label: `${name} (enableInfra=false)`})),
  {dir: path.join(root, 'test/fixtures/templates/backstage-style'), args: [...REPO, '--set', 'owner=group:default/team-a']},
  ...['copy-without-render', 'raw-inputs', 'if-truthiness', 'each-loop', 'binary-detection'].map((name) => ({dir: path.join(root, 'test/fixtures/backstage-semantics', name), args: []})),
]
const cases = process.argv.length > 2 ? process.argv.slice(2).map((dir) => ({dir: path.resolve(dir), args: []})) : DEFAULTS

/** path → {kind, bytes|target, exec} for every entry under dir but .git. */
function tree(dir) {
  const out = new Map()
  const walk = (rel) => {
    for (const entry of fs.readdirSync(path.join(dir, rel), {withFileTypes: true})) {
      const relPath = rel ? `${rel}/${entry.name}` : entry.name
      if (relPath === '.git') continue
      const full = path.join(dir, relPath)
      if (entry.isSymbolicLink()) out.set(relPath, {kind: 'link', target: fs.readlinkSync(full)})
      else if (entry.isDirectory()) walk(relPath)
      else out.set(relPath, {kind: 'file', bytes: fs.readFileSync(full), exec: (fs.statSync(full).mode & 0o111) !== 0})
    }
  }
  walk('')
  return out
}

function compare(idpTree, backstageTree) {
  const problems = []
  for (const [rel, a] of idpTree) {
    const b = backstageTree.get(rel)
    if (!b) problems.push(`${rel}: only idp writes it`)
    else if (a.kind !== b.kind) problems.push(`${rel}: a ${a.kind} from idp, a ${b.kind} from Backstage`)
    else if (a.kind === 'link' && a.target !== b.target) problems.push(`${rel}: link to ${a.target} (idp) vs ${b.target} (Backstage)`)
    else if (a.kind === 'file' && !a.bytes.equals(b.bytes)) problems.push(`${rel}: contents differ\n    idp:       ${JSON.stringify(a.bytes.toString('utf8').slice(0, 200))}\n    Backstage: ${JSON.stringify(b.bytes.toString('utf8').slice(0, 200))}`)
    else if (a.kind === 'file' && a.exec !== b.exec) problems.push(`${rel}: executable bit differs`)
  }
  for (const rel of backstageTree.keys()) if (!idpTree.has(rel)) problems.push(`${rel}: only Backstage writes it`)
  return problems
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-parity-'))
const home = path.join(work, 'home')
fs.mkdirSync(home)
const env = {...process.env, CI: '1', NO_COLOR: '1', HOME: home, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: path.join(home, '.gitconfig'), GITHUB_TOKEN: '', GH_TOKEN: ''}
let failed = 0
for (const [i, c] of cases.entries()) {
  const label = c.label ?? path.relative(root, c.dir)
  const base = path.join(work, `idp-${i}`)
  fs.mkdirSync(base)
  const idp = spawnSync(process.execPath, [path.join(root, 'bin/run.js'), 'create', 'svc', '--template', c.dir, '--no-input', '--dir', base, '--json', ...c.args], {env, encoding: 'utf8'})
  const envelope = JSON.parse(idp.stdout || '{}')
  if (envelope.status !== 0) {
    failed++
    process.stdout.write(`✗ ${label}: idp failed: ${envelope.error?.message ?? idp.stderr}\n`)
    continue
  }
  const outDir = path.join(work, `backstage-${i}`)
  let answer
  try {
    const stdout = execFileSync(backstageNode, ['--no-node-snapshot', path.join(root, 'scripts/parity/backstage-driver.mjs'), modules, path.join(c.dir, 'template.yaml'), JSON.stringify(envelope.result.values), outDir], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']})
    answer = JSON.parse(stdout.trim().split('\n').pop())
  } catch (error) {
    answer = JSON.parse(String(error.stdout || '{}').trim().split('\n').pop() || '{}')
    answer.ok = false
    answer.error ??= String(error.stderr || error.message).slice(0, 500)
  }
  if (!answer.ok) {
    failed++
    process.stdout.write(`✗ ${label}: Backstage ${backstageVersion} failed: ${answer.error}\n`)
    continue
  }
  const problems = compare(tree(path.join(base, 'svc')), tree(outDir))
  if (problems.length > 0) failed++
  const warnings = (envelope.warnings ?? []).length
  process.stdout.write(`${problems.length === 0 ? '✓' : '✗'} ${label}: ${tree(outDir).size} files${problems.length === 0 ? ' identical' : ''}; idp warnings: ${warnings}${problems.map((p) => `\n  ${p}`).join('')}\n`)
}
fs.rmSync(work, {recursive: true, force: true})
process.stdout.write(`${cases.length - failed} of ${cases.length} templates render identically under idp and @backstage/plugin-scaffolder-backend ${backstageVersion}\n`)
process.exitCode = failed > 0 ? 1 : 0
