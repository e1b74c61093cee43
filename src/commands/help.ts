// `idp help [COMMAND]` is @oclif/plugin-help's command, bundled as one of idp's own commands so
// no plugin is loaded from node_modules at start-up (issue 6); see ./autocomplete/index.ts.
import {commands} from '@oclif/plugin-help'

export default commands.help
