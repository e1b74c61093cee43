/**
 * The little XML the S3 and STS stand-ins read and write: request bodies of the bucket
 * configuration calls (no attributes that matter, no mixed content, no DTDs) parsed into a tree,
 * and responses rendered with S3's namespace and escaping.
 */

export interface XmlNode {
  name: string
  children: XmlNode[]
  text: string
}

const ENTITIES: Record<string, string> = {amp: '&', lt: '<', gt: '>', quot: '"', apos: "'"}

function decode(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/giu, (whole, entity: string) => {
    if (entity.startsWith('#x') || entity.startsWith('#X')) return String.fromCodePoint(Number.parseInt(entity.slice(2), 16))
    if (entity.startsWith('#')) return String.fromCodePoint(Number.parseInt(entity.slice(1), 10))
    return ENTITIES[entity] ?? whole
  })
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/gu, (c) => `&${Object.entries(ENTITIES).find(([, v]) => v === c)![0]};`)
}

/** Parses a document; throws on anything malformed (the caller answers S3's MalformedXML). */
export function parseXml(source: string): XmlNode {
  const text = source.replace(/^\uFEFF/u, '').replace(/<\?xml[^?]*\?>/u, '').replace(/<!--[\s\S]*?-->/gu, '')
  const stack: XmlNode[] = [{name: '#document', children: [], text: ''}]
  const tag = /<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[\w.:-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|([^<]+)/gy
  let match: RegExpExecArray | null
  let index = 0
  while (index < text.length) {
    tag.lastIndex = index
    match = tag.exec(text)
    if (!match) throw new Error(`malformed XML at ${index}`)
    index = tag.lastIndex
    const [, closing, rawName, , selfClosing, chars] = match
    const top = stack.at(-1)!
    if (chars !== undefined) {
      top.text += decode(chars)
      continue
    }
    const name = rawName!.includes(':') ? rawName!.split(':').pop()! : rawName!
    if (closing) {
      if (top.name !== name || stack.length === 1) throw new Error(`unexpected </${name}>`)
      stack.pop()
      continue
    }
    const node: XmlNode = {name, children: [], text: ''}
    top.children.push(node)
    if (!selfClosing) stack.push(node)
  }
  if (stack.length !== 1) throw new Error('unclosed element')
  const roots = stack[0]!.children
  if (roots.length !== 1 || stack[0]!.text.trim() !== '') throw new Error('a document has one root element')
  return roots[0]!
}

export const child = (node: XmlNode | undefined, name: string): XmlNode | undefined => node?.children.find((c) => c.name === name)
export const children = (node: XmlNode | undefined, name: string): XmlNode[] => node?.children.filter((c) => c.name === name) ?? []
export const textOf = (node: XmlNode | undefined, name: string): string | undefined => {
  const found = child(node, name)
  return found ? found.text.trim() : undefined
}

/** Renders a tree back (element-only content is indented nowhere, as S3 answers). */
export function renderXml(node: XmlNode): string {
  if (node.children.length === 0) return node.text === '' ? `<${node.name}></${node.name}>` : `<${node.name}>${escapeXml(node.text.trim())}</${node.name}>`
  return `<${node.name}>${node.children.map(renderXml).join('')}</${node.name}>`
}

export const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/'
export const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

/** A response document: the declaration, the root in S3's namespace, the inner elements. */
export function document(root: string, inner: string, namespace = S3_NS): string {
  return `${XML_DECLARATION}<${root} xmlns="${namespace}">${inner}</${root}>`
}

export const element = (name: string, value: string | number | boolean): string => `<${name}>${escapeXml(String(value))}</${name}>`
