import nunjucks from 'nunjucks'
import {describe, expect, it} from 'vitest'

import {createRenderer, TemplateRenderError} from '../../src/lib/create/render.js'

/**
 * Known nunjucks sandbox escapes (SSTI payloads). Plain nunjucks runs them; idp's renderer must
 * refuse every one, and never let a template reach Function, process or require.
 */
const PAYLOADS = [
  '${{ "".constructor.constructor("return process")() }}',
  "${{ ''['constructor']['constructor']('return process')() }}",
  '${{ range.constructor("return process")() }}',
  '${{ cycler.constructor("return process")() }}',
  '${{ joiner.constructor("return process")() }}',
  '${{ constructor.constructor("return process")() }}',
  '${{ values.__proto__.constructor.constructor("return process")() }}',
  '${{ values.name.split.constructor("return process")() }}',
  '${{ values.name.split.call.constructor("return process")() }}',
  '${{ [].constructor.constructor("return process")() }}',
  '${{ ({}).constructor.constructor("return process")() }}',
  '{% set f = range %}${{ f.constructor("return process")() }}',
  '{% macro m() %}x{% endmacro %}${{ m.constructor("return process")() }}',
  '${{ values.prototype }}',
  '${{ process.env }}',
  '${{ require("child_process") }}',
  '${{ toString.constructor("return process")() }}',
  '${{ hasOwnProperty.constructor("return process")() }}',
  '{% macro m() %}x{% endmacro %}${{ values.name.replace("s", m) }}',
  '${{ (cycler("a")).next.constructor("return process")() }}',
  '${{ r/x/.constructor.constructor("return process")() }}',
  '${{ values.obj.valueOf() }}',
  '${{ values.name.repeat(1000000000) }}',
  '${{ range(0, 1000000000000) | length }}',
]

describe('template expressions cannot run code', () => {
  it('plain nunjucks is escapable (so this test is meaningful)', () => {
    const env = new nunjucks.Environment([], {autoescape: false, tags: {variableStart: '${{', variableEnd: '}}'}})
    const out = env.renderString('${{ "".constructor.constructor("return typeof process")() }}', {})
    expect(out).toBe('object')
  })

  it.each(PAYLOADS)('refuses %s', (payload) => {
    const r = createRenderer()
    expect(() => r.renderString(payload, {values: {name: 'shop', obj: {a: 1}}})).toThrow(/TemplateSecurityError: (Access to .* is not allowed|.* too large|.* larger than)/u)
  })

  it('a lookup that would return process is refused, not merely empty', () => {
    const r = createRenderer()
    expect(() => r.renderString('${{ "".constructor.constructor("return process")() }}', {})).toThrow(/"constructor" is not allowed/u)
    expect(() => r.renderValue('${{ process }}', {})).toThrow(/"process" is not allowed/u)
  })

  it('filters receive copies: a filter cannot mutate template values', () => {
    const seen: unknown[] = []
    const r = createRenderer({
      filters: {
        grab: (value: unknown) => {
          seen.push(value)
          ;(value as Record<string, unknown>).polluted = true
          return 'ok'
        },
      },
    })
    const values = {obj: {a: 1}}
    expect(r.renderString('${{ values.obj | grab }}${{ values.obj.polluted }}', {values})).toBe('ok')
    expect(values.obj).toEqual({a: 1})
    expect(Object.getPrototypeOf(seen[0])).toBe(Object.prototype)
  })

  it('values do not leak prototypes: Object.prototype is not polluted by {% set %} tricks', () => {
    const r = createRenderer()
    r.renderString('{% set __proto__ = {polluted: 1} %}${{ values.a }}', {values: {a: 1}})
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('a filter name reaches only registered filters, never Object.prototype (| valueOf used to hand back the filter table)', () => {
    const r = createRenderer()
    for (const name of ['constructor', 'valueOf', 'toString', 'hasOwnProperty', '__proto__']) {
      expect(() => r.renderString(`\${{ values.name | ${name} }}`, {values: {name: 'shop'}})).toThrow(new RegExp(`filter not found: ${name}`, 'u'))
    }
    expect(r.renderString('${{ values.name | upper }}', {values: {name: 'shop'}})).toBe('SHOP')
  })

  describe('a name that is not an identifier never reaches the JavaScript nunjucks compiles', () => {
    // Nunjucks lexes `a"b` as one name and pastes it between double quotes into generated code.
    const code = (js: string) => [...js].map((c) => (/[A-Za-z0-9]/u.test(c) ? c : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)).join('')
    const mark = '__idpRenderEscape'
    const escape = code(`globalThis.${mark}=process.pid;return 1`)
    const injected = [
      `\${{ a"&&Function\`${escape}\`\`\`&&" }}`,
      `\${{ values.name | a"&&Function\`${escape}\`\`\`&&" }}`,
      `{% set a"&&Function\`${escape}\`\`\`&&" = 1 %}`,
      `{% for a"&&Function\`${escape}\`\`\`&&" in [1] %}{% endfor %}`,
      `{% macro a"&&Function\`${escape}\`\`\`&&"() %}{% endmacro %}`,
      `{% block a"&&Function\`${escape}\`\`\`&&" %}{% endblock %}`,
      `{% from "x" import a"&&Function\`${escape}\`\`\`&&" %}`,
      '${{ a\\ }}',
      // A quoted string where nunjucks' parser accepts a name: pasted just the same.
      ...[
        '{% set NAME = 1 %}',
        '{% for k, NAME in {a: 1} %}{% endfor %}',
        '{% macro m(NAME=1) %}{% endmacro %}',
        '{% macro NAME() %}{% endmacro %}',
        '${{ 1 is NAME }}',
        '${{ 1 is NAME(1) }}',
        '{% from "t" import NAME %}',
        '{% from "t" import a as NAME %}',
        '{% import "t" as NAME %}',
      ].map((form) => form.replace('NAME', `'x"+(globalThis.${mark}=process.pid)+"'`)),
    ]

    it('plain nunjucks runs such a name as code (so the payloads are meaningful)', () => {
      const env = new nunjucks.Environment([], {autoescape: false, tags: {variableStart: '${{', variableEnd: '}}'}})
      env.renderString(injected[0]!, {})
      expect((globalThis as Record<string, unknown>)[mark]).toBe(process.pid)
      delete (globalThis as Record<string, unknown>)[mark]
    })

    it.each(injected)('refuses %s before compiling it', (payload) => {
      const r = createRenderer()
      let error: unknown
      try {
        r.renderString(payload, {values: {name: 'shop'}})
      } catch (caught) {
        error = caught
      }
      expect((globalThis as Record<string, unknown>)[mark]).toBeUndefined()
      expect(error).toBeInstanceOf(TemplateRenderError)
      expect((error as TemplateRenderError).security).toBe(true)
      expect((error as Error).message).toMatch(/is not a name/u)
      // A step input is never kept as written when the sandbox refused it.
      expect(() => r.renderValue(payload, {values: {name: 'shop'}}, 'input', () => {})).toThrow(/is not a name/u)
      expect((globalThis as Record<string, unknown>)[mark]).toBeUndefined()
    })

    it('ordinary names still render: letters, digits, _, $, dotted filter names, non-ASCII letters', () => {
      const r = createRenderer({filters: {'a.b': (v: unknown) => `<${String(v)}>`}})
      expect(r.renderString('${{ 2 is odd }}${{ 4 is divisibleby(2) }}${{ none is none }}${{ 1 is defined }}', {})).toBe('falsetruetruetrue')
      expect(r.renderString('{% set café_2 = values.name %}{% for x in [1] %}${{ café_2 | upper }}${{ x | a.b }}{% endfor %}{% macro m(k=1) %}${{ k }}{% endmacro %}${{ m(k=2) }}', {values: {name: 'shop'}})).toBe('SHOP<1>2')
    })
  })

  it('include/import/extends cannot read files', () => {
    const r = createRenderer()
    expect(() => r.renderString('{% include "/etc/passwd" %}', {})).toThrow(/template not found|Error/u)
  })
})
