#!/usr/bin/env node
// What the bundled templates share (the Helm chart, the Terraform module, .idp.yml and the
// preview workflow) has one source: templates/_shared/skeleton. Each template's skeleton keeps a
// copy, because Backstage fetches `url: ./skeleton` from the template's own directory and cannot
// reach ../_shared. This script writes those copies and checks them, and keeps the idp release each
// template pins (the default of its idpPackage parameter) equal to package.json's name@version.
//   node scripts/templates.mjs sync    # npm run templates:sync: write the copies from the source
//   node scripts/templates.mjs check   # exit 1 naming every copy that differs, is missing or is stale
import {chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, unlinkSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

export const TEMPLATES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'templates')
/** A leading underscore: no template.yaml in it, and never a valid template (entity) name. */
export const SHARED_DIR = '_shared'
export const SYNC_COMMAND = 'npm run templates:sync'
/**
 * Directories the source owns whole: a file in a template's copy of them that the source lacks is
 * stale (sync deletes it). Elsewhere a template keeps its own files (.github/workflows/ci.yml).
 */
export const OWNED_DIRS = ['chart', 'infra']

function walk(dir, base = dir) {
  return readdirSync(dir, {withFileTypes: true}).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return walk(full, base)
    return [path.relative(base, full).split(path.sep).join('/')]
  })
}

const sourceDir = (templatesDir) => path.join(templatesDir, SHARED_DIR, 'skeleton')
const skeletonDir = (templatesDir, name) => path.join(templatesDir, name, 'skeleton')
/** Git keeps only the executable bit, and fetch:template passes it on to the new service. */
const executable = (file) => (statSync(file).mode & 0o111) !== 0

/** The shared files, as paths inside a skeleton. */
export function sharedFiles(templatesDir = TEMPLATES_DIR) {
  const dir = sourceDir(templatesDir)
  if (!existsSync(dir)) throw new Error(`${dir} is missing: it is the source of the files every template shares.`)
  return walk(dir).sort()
}

/** The templates that receive the copies: every directory with a template.yaml, as idp discovers them. */
export function templateNames(templatesDir = TEMPLATES_DIR) {
  return readdirSync(templatesDir, {withFileTypes: true})
    .filter((entry) => entry.isDirectory() && existsSync(path.join(templatesDir, entry.name, 'template.yaml')))
    .map((entry) => entry.name)
    .sort()
}

/** Copies that differ from their source, are missing, or (in OWNED_DIRS) have no source. */
function drift(templatesDir) {
  const files = sharedFiles(templatesDir)
  const wanted = new Set(files)
  const out = []
  for (const name of templateNames(templatesDir)) {
    const skeleton = skeletonDir(templatesDir, name)
    for (const rel of files) {
      const source = path.join(sourceDir(templatesDir), rel)
      const copy = path.join(skeleton, rel)
      if (!existsSync(copy)) out.push({kind: 'missing', rel, source, copy})
      else if (!readFileSync(copy).equals(readFileSync(source))) out.push({kind: 'differs', rel, source, copy})
      else if (executable(copy) !== executable(source)) out.push({kind: 'mode', rel, source, copy})
    }
    for (const owned of OWNED_DIRS) {
      const dir = path.join(skeleton, owned)
      if (!existsSync(dir)) continue
      for (const rel of walk(dir, skeleton)) if (!wanted.has(rel)) out.push({kind: 'stale', rel, skeleton, copy: path.join(skeleton, rel)})
    }
  }
  return out
}

/**
 * The idp release a bundled template pins in its preview workflow: the default of its `idpPackage`
 * parameter is this package's own name@version, so a service's CI runs exactly the idp that
 * generated it. `npm version` runs the sync (the "version" script), so a release never ships a
 * template that pins another one.
 */
export function idpPackage(root = path.dirname(TEMPLATES_DIR)) {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'))
  return `${pkg.name}@${pkg.version}`
}

/** `idpPackage:` … `default: X` in a template.yaml: the prefix, the value. */
const IDP_PACKAGE_DEFAULT = /(\n([ \t]+)idpPackage:\n(?:\2[ \t]+.*\n)*?\2[ \t]+default: )(\S*)/u

function versionDrift(templatesDir, wanted) {
  const out = []
  for (const name of templateNames(templatesDir)) {
    const file = path.join(templatesDir, name, 'template.yaml')
    const match = IDP_PACKAGE_DEFAULT.exec(readFileSync(file, 'utf8'))
    if (!match) out.push({kind: 'no-idp-package', file})
    else if (match[3] !== wanted) out.push({kind: 'idp-package', file, found: match[3]})
  }
  return out
}

/** One line per problem, naming the file and the command that fixes it; empty when all is in step. */
export function checkTemplates(templatesDir = TEMPLATES_DIR, wanted = idpPackage()) {
  const shown = (file) => path.relative(path.dirname(templatesDir), file).split(path.sep).join('/')
  const versions = versionDrift(templatesDir, wanted).map(({kind, file, found}) =>
    kind === 'no-idp-package'
      ? `${shown(file)} has no idpPackage parameter with a default: its preview workflow could not pin the idp release (${wanted})`
      : `${shown(file)} pins ${found} (the idpPackage default), but this idp is ${wanted}: run ${SYNC_COMMAND}`,
  )
  return [...versions, ...drift(templatesDir).map(({kind, source, copy}) => {
    if (kind === 'stale') return `${shown(copy)} is not in ${shown(sourceDir(templatesDir))}: run ${SYNC_COMMAND} to delete it`
    if (kind === 'missing') return `${shown(copy)} is missing (its source is ${shown(source)}): run ${SYNC_COMMAND}`
    const what = kind === 'mode' ? 'differs in its executable bit from' : 'differs from'
    return `${shown(copy)} ${what} its source ${shown(source)}: make the change in the source, then run ${SYNC_COMMAND}`
  })]
}

/** Writes the copies in step with the source, and the idpPackage defaults; returns what it changed. */
export function syncTemplates(templatesDir = TEMPLATES_DIR, wanted = idpPackage()) {
  const changed = []
  for (const {kind, file} of versionDrift(templatesDir, wanted)) {
    if (kind !== 'idp-package') continue
    writeFileSync(file, readFileSync(file, 'utf8').replace(IDP_PACKAGE_DEFAULT, (_all, prefix) => `${prefix}${wanted}`))
    changed.push(`wrote ${file} (idpPackage ${wanted})`)
  }
  for (const {kind, source, copy, skeleton} of drift(templatesDir)) {
    if (kind === 'stale') {
      unlinkSync(copy)
      // Drop the directories the deletion emptied, below the owned directory itself.
      const removable = (dir) => path.dirname(path.relative(skeleton, dir)) !== '.' && readdirSync(dir).length === 0
      for (let dir = path.dirname(copy); removable(dir); dir = path.dirname(dir)) rmdirSync(dir)
      changed.push(`deleted ${copy}`)
      continue
    }
    mkdirSync(path.dirname(copy), {recursive: true})
    writeFileSync(copy, readFileSync(source))
    chmodSync(copy, statSync(source).mode & 0o777)
    changed.push(`wrote ${copy}`)
  }
  return changed
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const mode = process.argv[2]
  if (mode === 'sync') {
    const changed = syncTemplates()
    for (const line of changed) console.log(line)
    console.log(changed.length === 0 ? 'templates: every copy already matches templates/_shared' : `templates: ${changed.length} file(s) brought in step with templates/_shared`)
  } else if (mode === 'check') {
    const problems = checkTemplates()
    for (const line of problems) console.error(line)
    process.exit(problems.length === 0 ? 0 : 1)
  } else {
    console.error('usage: node scripts/templates.mjs sync|check')
    process.exit(2)
  }
}
