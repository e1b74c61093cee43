// Hidden helper of `idp autocomplete` (writes the completion scripts); see ./index.ts.
export {default} from '../../../node_modules/@oclif/plugin-autocomplete/lib/commands/autocomplete/create.js'
