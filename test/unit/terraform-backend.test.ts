// Which backend a Terraform module declares, read from its files (tools/terraform-backend.ts):
// what counts (a top-level terraform block's backend or cloud block, override files last, JSON
// syntax) and what does not (comments, strings, heredocs, nested blocks).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'

import {declaredBackend} from '../../src/lib/tools/terraform-backend.js'
import {terraformStateOf} from '../../src/lib/env/tf-state.js'
import {terraformInitArgs} from '../../src/lib/tools/terraform.js'

const dirs: string[] = []
function moduleWith(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'idp-tf-backend-'))
  dirs.push(dir)
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text)
  return dir
}
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, {recursive: true, force: true})
})

describe('declaredBackend', () => {
  it('finds none in a module without a backend block (Terraform then keeps local state)', async () => {
    expect(await declaredBackend(moduleWith({'main.tf': 'terraform {\n  required_version = ">= 1.5"\n}\nresource "terraform_data" "x" {}\n'}))).toBeUndefined()
  })

  it('reads the partial kubernetes block idp fills in, and a configured one as the module\'s own', async () => {
    expect(await declaredBackend(moduleWith({'versions.tf': 'terraform {\n  backend "kubernetes" {}\n}\n'}))).toEqual({type: 'kubernetes', file: 'versions.tf', empty: true})
    expect(await declaredBackend(moduleWith({'versions.tf': 'terraform {\n  backend "kubernetes" {\n    # comment only\n  }\n}\n'}))).toMatchObject({empty: true})
    expect(await declaredBackend(moduleWith({'versions.tf': 'terraform {\n  backend "kubernetes" {\n    secret_suffix = "x"\n  }\n}\n'}))).toMatchObject({type: 'kubernetes', empty: false})
  })

  it('reads remote backends, an explicit local one and HCP Terraform\'s cloud block', async () => {
    expect(await declaredBackend(moduleWith({'a.tf': 'terraform { backend "s3" { bucket = "b" } }'}))).toMatchObject({type: 's3'})
    expect(await declaredBackend(moduleWith({'a.tf': 'terraform {\n  backend "local" {}\n}'}))).toMatchObject({type: 'local', empty: true})
    expect(await declaredBackend(moduleWith({'a.tf': 'terraform {\n  cloud {\n    organization = "acme"\n  }\n}'}))).toMatchObject({type: 'cloud'})
  })

  it('ignores the word in comments, strings, heredocs and nested blocks', async () => {
    const text = [
      '# terraform { backend "s3" {} }',
      '// backend "gcs" {}',
      '/* terraform {',
      '  backend "remote" {}',
      '} */',
      'locals {',
      '  a = "terraform { backend \\"s3\\" {} } ${jsonencode({b = "}"})}"',
      '  b = <<-EOT',
      '    terraform { backend "s3" {} }',
      '    EOT',
      '}',
      'module "m" {',
      '  source = "./m"',
      '  terraform { backend "s3" {} }',
      '}',
      'terraform {',
      '  required_providers {',
      '    aws = { source = "hashicorp/aws" }',
      '  }',
      '}',
    ].join('\n')
    expect(await declaredBackend(moduleWith({'main.tf': text}))).toBeUndefined()
    expect(await declaredBackend(moduleWith({'main.tf': `${text}\nterraform {\n  backend "kubernetes" {}\n}\n`}))).toMatchObject({type: 'kubernetes'})
  })

  it('lets an override file win, reads .tf.json, and skips the files Terraform ignores', async () => {
    expect(await declaredBackend(moduleWith({'main.tf': 'terraform {\n  backend "kubernetes" {}\n}', 'backend_override.tf': 'terraform {\n  backend "s3" {}\n}'}))).toMatchObject({type: 's3', file: 'backend_override.tf'})
    expect(await declaredBackend(moduleWith({'main.tf.json': JSON.stringify({terraform: {backend: {gcs: {bucket: 'b'}}}})}))).toMatchObject({type: 'gcs', empty: false})
    expect(await declaredBackend(moduleWith({'main.tf.json': JSON.stringify({terraform: [{backend: [{kubernetes: {}}]}]})}))).toMatchObject({type: 'kubernetes', empty: true})
    expect(await declaredBackend(moduleWith({'.hidden.tf': 'terraform { backend "s3" {} }', 'main.tf~': 'terraform { backend "s3" {} }', 'main.tf': ''}))).toBeUndefined()
  })
})

describe('terraformInitArgs', () => {
  it('configures a backend with -reconfigure, or moves existing state with -migrate-state -force-copy', () => {
    expect(terraformInitArgs({backendConfig: {namespace: 'idp-system', config_path: '/s/kubeconfig'}, reconfigure: true})).toEqual([
      'init', '-input=false', '-no-color', '-reconfigure', '-backend-config=config_path=/s/kubeconfig', '-backend-config=namespace=idp-system',
    ])
    expect(terraformInitArgs({backendConfig: {namespace: 'n'}, migrateState: true, reconfigure: true})).toEqual(['init', '-input=false', '-no-color', '-migrate-state', '-force-copy', '-backend-config=namespace=n'])
  })
})

describe('terraformStateOf', () => {
  it('two services whose workspace template is {{env}} alone never share a state Secret or lock (the namespace is shared)', async () => {
    const dir = moduleWith({'versions.tf': 'terraform {\n  backend "kubernetes" {}\n}\n'})
    const env = (service: string) => ({key: 'staging', service, terraform: {dir, workspace: 'staging'}}) as unknown as Parameters<typeof terraformStateOf>[0]
    const [shop, cart] = await Promise.all([terraformStateOf(env('shop')), terraformStateOf(env('cart'))])
    expect(shop).toMatchObject({backend: 'kubernetes', namespace: 'idp-system', secret: 'tfstate-staging-idp-shop', lease: 'lock-tfstate-staging-idp-shop', suffix: 'idp-shop'})
    expect(cart).toMatchObject({backend: 'kubernetes', namespace: 'idp-system', secret: 'tfstate-staging-idp-cart', lease: 'lock-tfstate-staging-idp-cart', suffix: 'idp-cart'})
  })
})
