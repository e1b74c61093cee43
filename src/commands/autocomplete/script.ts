// Hidden helper of `idp autocomplete` (prints the shell setup line); see ./index.ts.
export {default} from '../../../node_modules/@oclif/plugin-autocomplete/lib/commands/autocomplete/script.js'
