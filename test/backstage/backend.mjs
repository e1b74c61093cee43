// A real Backstage backend with the catalog plugin, as `backstage-cli new` makes one
// (packages/backend/src/index.ts), started by test/support/backstage.ts in its own Node process
// with `--config <app-config.yaml>`. Installed next to its node_modules by
// test/support/setup-backstage.mjs; SIGTERM stops it (Backstage's own shutdown handler).
import {createBackend} from '@backstage/backend-defaults'

const backend = createBackend()
backend.add(import('@backstage/plugin-catalog-backend'))
await backend.start()
