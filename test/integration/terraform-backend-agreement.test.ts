// The backend idp reads from a module's files (tools/terraform-backend.ts) is the one real
// Terraform configures: each module below goes through `terraform init` (the local backend, so
// nothing leaves the machine), and Terraform's "Successfully configured the backend" line must
// name the same type idp found, or none when idp found none.
import {execFile} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'
import {afterAll, describe, expect, it} from 'vitest'

import {declaredBackend} from '../../src/lib/tools/terraform-backend.js'
import {toolEnv} from '../support/tool-env.js'

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-tf-backend-agree-'))
afterAll(() => fs.rmSync(root, {recursive: true, force: true}))

/** What Terraform configures for a module: the backend type, or undefined for none. */
async function terraformBackend(dir: string): Promise<string | undefined> {
  const {stdout} = await promisify(execFile)('terraform', ['init', '-input=false', '-no-color', '-backend=true'], {cwd: dir, env: toolEnv({env: {HOME: root}})})
  return /Successfully configured the backend "([^"]+)"/u.exec(stdout)?.[1]
}

const TRICKS = [
  '# terraform { backend s3 {} }',
  '// backend gcs {}',
  '/* terraform {',
  '  backend remote {}',
  '} */',
  'locals {',
  '  a = "terraform { backend s3 {} } ${jsonencode({b = "}"})}"',
  '  b = <<-EOT',
  '    terraform { backend s3 {} }',
  '    EOT',
  '  c = <<EOT',
  'terraform {',
  '  backend s3 {}',
  '}',
  'EOT',
  '}',
].join('\n')

const cases: Record<string, string> = {
  'an unquoted label': 'terraform {\n  backend local {}\n}\n',
  'an unquoted label with settings on one line': 'terraform {\n  backend local { path = "s.tfstate" }\n}\n',
  'a quoted label': 'terraform {\n  backend "local" {}\n}\n',
  'an unquoted label after comments, strings and heredocs holding the word': `${TRICKS}\nterraform {\n  required_version = ">= 1.5" # backend s3 {}\n  backend local /* label */ {\n    # nothing\n  }\n}\n`,
  'only comments, strings and heredocs holding the word': `${TRICKS}\nterraform {\n  required_version = ">= 1.5"\n}\n`,
  'the word as a nested block elsewhere': 'locals {\n  x = 1\n}\nresource "terraform_data" "backend" {\n  input = "backend local {}"\n}\n',
}

describe('idp reads the backend Terraform configures', () => {
  for (const [name, text] of Object.entries(cases)) {
    it(name, async () => {
      const dir = fs.mkdtempSync(path.join(root, 'm-'))
      fs.writeFileSync(path.join(dir, 'main.tf'), text)
      const ours = await declaredBackend(dir)
      const terraform = await terraformBackend(dir)
      expect(ours?.type).toBe(terraform)
      if (name.includes('label')) expect(terraform).toBe('local')
    })
  }

  it('an unquoted kubernetes block is the partial block idp fills in', async () => {
    const dir = fs.mkdtempSync(path.join(root, 'k-'))
    fs.writeFileSync(path.join(dir, 'versions.tf'), 'terraform {\n  backend kubernetes {\n  }\n}\n')
    expect(await declaredBackend(dir)).toEqual({type: 'kubernetes', file: 'versions.tf', empty: true})
  })
})
