/**
 * `yaml`'s parse and stringify for modules that load them only when they need them
 * (`await import('../cli/yaml.js')`). In the bundle, `import('yaml')` itself (a CommonJS
 * package) does not come with its named exports; this module imports them statically.
 */
export {LineCounter, parse, parseAllDocuments, stringify} from 'yaml'
