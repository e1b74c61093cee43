#!/usr/bin/env -S node --import tsx
// Development entry: runs the TypeScript sources directly (needs `npm i -D tsx`); `bin/run.js` runs the build.
import {execute} from '@oclif/core'

// The package root: bin/package.json only marks bin/run.js as CommonJS.
await execute({development: true, dir: new URL('../package.json', import.meta.url).href})
