import * as z from 'zod/mini'
import {en} from 'zod/locales'

// The schemas use zod/mini rather than zod: the same validation core and issues without the
// method-chaining classes, so loading them costs less at the start of every command that reads
// .idp.yml or a template (issue 6). zod/mini ships no messages; English ones keep the texts that
// issues without our own message show (e.g. "Invalid key in record").
// `jitless`: zod compiles a fast parser per object schema on its first parse (new Function); a
// CLI parses one file once, and compiling cost more than it saved (first parse of .idp.yml.example
// ~20 ms with it, ~11 ms without).
z.config({...en(), jitless: true})
