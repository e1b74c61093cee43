import * as z from 'zod/mini'
import {en} from 'zod/locales'

// The schemas use zod/mini rather than zod: the same validation core and issues without the
// method-chaining classes, so loading them costs less at the start of every command that reads
// .idp.yml or a template (issue 6). zod/mini ships no messages; English ones keep the texts that
// issues without our own message show (e.g. "Invalid key in record").
// `jitless`: zod compiles a parser per object schema (new Function) on its first parse. A CLI
// parses one file once, so that only pays off in long runs; measured on .idp.yml.example, the
// first parse took ~16 ms with it and ~10 ms without on zod classic, ~6.4 vs ~5.9 ms on zod/mini.
// zod reads the flag when a schema is built: import this module before defining schemas.
z.config({...en(), jitless: true})
