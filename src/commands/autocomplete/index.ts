// `idp autocomplete` is @oclif/plugin-autocomplete's command, bundled as one of idp's own
// commands: a core plugin is read from node_modules (package.json + manifest) on every start,
// `idp --help` included, while a bundled command costs nothing until it runs (issue 6).
// The package exports no command paths, hence the file path.
export {default} from '../../../node_modules/@oclif/plugin-autocomplete/lib/commands/autocomplete/index.js'
