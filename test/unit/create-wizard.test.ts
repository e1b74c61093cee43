import {checkbox, confirm, input, number, password, select} from '@inquirer/prompts'
import {render} from '@inquirer/testing'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'

import {parameterPages, resolveValues} from '../../src/lib/create/parameters.js'
import {resolveTemplate} from '../../src/lib/create/sources.js'
import {parseTemplateText} from '../../src/lib/create/template-schema.js'
import type {Prompter} from '../../src/lib/cli/prompter.js'
import {runWizard} from '../../src/lib/create/wizard.js'

const FIXTURE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/templates/backstage-style')

type Rendered = Awaited<ReturnType<typeof render>>
type Driver = (screen: Rendered) => Promise<void>

const tick = () => new Promise((resolve) => setTimeout(resolve, 5))

/**
 * The real @inquirer prompts, each rendered through @inquirer/testing and driven by the next
 * scripted driver; the screens and messages are recorded for assertions.
 */
function scriptedPrompts(drivers: Driver[]): {prompts: Prompter; screens: string[]; messages: string[]} {
  const screens: string[] = []
  const messages: string[] = []
  const run = async (prompt: any, config: any): Promise<any> => {
    messages.push(config.message)
    const driver = drivers.shift()
    if (!driver) throw new Error(`Unexpected prompt: ${config.message}`)
    const rendered = await render(prompt, config)
    await driver(rendered)
    const answer = await rendered.answer
    screens.push(rendered.getFullOutput())
    return answer
  }
  const prompts: Prompter = {
    input: (config) => run(input, config),
    password: (config) => run(password, config),
    number: (config) => run(number, config),
    confirm: (config) => run(confirm, config),
    select: (config) => run(select, config),
    checkbox: (config) => run(checkbox, config),
  }
  return {prompts, screens, messages}
}

const type = (text: string): Driver => async ({events}) => {
  events.type(text)
  events.keypress('enter')
}

describe('create wizard (real prompts through @inquirer/testing)', () => {
  it('asks page by page for what was not given, typed and validated', async () => {
    const template = await resolveTemplate(FIXTURE)
    const pages = parameterPages(template.doc)
    const resolved = resolveValues({pages, name: 'my-svc'})
    const written: string[] = []
    const {prompts, messages, screens} = scriptedPrompts([
      type('Shop API'), // description
      async ({events, getScreen}) => {
        // owner: required, so an empty answer is refused with a message, then answered.
        events.keypress('enter')
        await tick()
        expect(getScreen()).toContain('Owner is required.')
        events.type('team-a')
        events.keypress('enter')
      },
      type('github.com?owner=acme&repo=my-svc'), // repoUrl
      async ({events, getScreen}) => {
        // port: integer >= 1024
        events.type('80')
        events.keypress('enter')
        await tick()
        expect(getScreen()).toMatch(/1024/u)
        events.keypress('backspace')
        events.keypress('backspace')
        events.type('9000')
        events.keypress('enter')
      },
      type('n'), // includeDocs
      async ({events}) => {
        events.keypress('down') // tier: silver (default) -> gold
        events.keypress('enter')
      },
      async ({events}) => events.keypress('enter'), // tags: keep the default
    ])
    const values = await runWizard(pages, {prompts, values: resolved.values, given: resolved.given, write: (t) => written.push(t)})
    expect(values).toEqual({
      component_id: 'my-svc',
      description: 'Shop API',
      owner: 'team-a',
      repoUrl: 'github.com?owner=acme&repo=my-svc',
      port: 9000,
      includeDocs: false,
      tier: 'gold',
      tags: ['nodejs', 'http'],
    })
    expect(messages[0]).toBe('Description (Help others understand what this website is for.)')
    expect(written.join('')).toContain('Provide some simple information')
    expect(written.join('')).toContain('Choose a location')
    expect(screens.length).toBe(7)
  })

  it('refuses input that does not match the pattern, saying why in words', async () => {
    const doc = parseTemplateText(`apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata: {name: t}
spec:
  parameters:
    title: Only page
    required: [name]
    properties:
      name: {type: string, title: Name, pattern: '^[a-z0-9-]+$'}
  steps: []
`)
    const pages = parameterPages(doc)
    const {prompts} = scriptedPrompts([
      async ({events, getScreen}) => {
        events.type('Bad_Name')
        events.keypress('enter')
        await tick()
        expect(getScreen().replace(/\s+/gu, ' ')).toContain('Name must be lowercase letters, digits and dashes, starting and ending with a letter or digit (e.g. my-service)')
        expect(getScreen()).not.toContain('^[a-z0-9-]+$')
        for (let i = 0; i < 'Bad_Name'.length; i++) events.keypress('backspace')
        events.type('good-name')
        events.keypress('enter')
      },
    ])
    const values = await runWizard(pages, {prompts, values: {}, given: new Set(), write: () => {}})
    expect(values).toEqual({name: 'good-name'})
  })

  it('with --yes asks only for required parameters that have no value', async () => {
    const template = await resolveTemplate(FIXTURE)
    const pages = parameterPages(template.doc)
    const resolved = resolveValues({pages, name: 'my-svc'})
    const {prompts, messages} = scriptedPrompts([type('team-a'), type('github.com?owner=a&repo=b')])
    const values = await runWizard(pages, {prompts, values: resolved.values, given: resolved.given, onlyMissing: true, write: () => {}})
    expect(messages).toEqual(['Owner (Owner of the component)', 'Repository Location'])
    expect(values).toMatchObject({owner: 'team-a', port: 8080, tier: 'silver'})
  })
})
