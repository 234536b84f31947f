import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

// One suite, run once per backend: every test file appears twice in the output, as |native| and |wasm|.
// Tests import 'stratadb', which resolves to the built package, so they test what users install.
const stratadb = fileURLToPath(new URL('./dist/index.js', import.meta.url))

const project = (backend: 'native' | 'wasm') => ({
  resolve: { alias: { stratadb } },
  test: {
    name: backend,
    include: ['test/**/*.test.ts'],
    env: { STRATADB_BACKEND: backend },
    pool: 'forks' as const,
  },
})

export default defineConfig({
  test: {
    projects: [project('native'), project('wasm')],
  },
})
