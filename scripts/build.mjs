// Builds what the package ships, in order. Each step is cheap when its inputs have not changed (cargo and
// wasm-bindgen are incremental, esbuild and tsc take a second), so `npm test` can always call this first.
//
//   1. toolchain   scripts/setup-toolchain.sh: the wasm32 target and a matching wasm-bindgen CLI (idempotent)
//   2. native      napi build: crates/strata-node -> native/stratadb.<platform>.node + the napi loader index.cjs
//   3. wasm        cargo build --target wasm32-unknown-unknown, then wasm-bindgen --target web -> wasm/
//   4. bundles     esbuild: dist/index.js (Node ESM), dist/index.cjs (Node CommonJS), dist/browser.js (WASM only),
//                  dist/wasm.* and dist/native.* (entries that force a backend; wasm.js is also Deno's)
//   5. types       tsc --emitDeclarationOnly -> dist/*.d.ts, and a CommonJS twin of each, dist/*.d.cts (the package is
//                  ESM, so TypeScript reads a .d.ts as ESM and refuses it to a CommonJS `require` under node16)
//
// `--skip-native` builds everything but the addon (to test the WebAssembly fallback as a user without a binary).
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { build } from 'esbuild'

const skipNative = process.argv.includes('--skip-native')
const root = new URL('..', import.meta.url).pathname
process.chdir(root)

function run(cmd, args, env = {}) {
  execFileSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } })
}

function step(name) {
  console.log(`\n[build] ${name}`)
}

step('toolchain')
run('bash', ['scripts/setup-toolchain.sh'])
const toolchain = execFileSync('bash', ['-c', 'source scripts/lib/wasm-env.sh && echo $WASM_TOOLCHAIN']).toString().trim()

if (!skipNative) {
  step('native addon (napi build)')
  run('npx', [
    'napi', 'build', '--platform', '--release',
    '--manifest-path', 'crates/strata-node/Cargo.toml',
    '--package-json-path', 'package.json',
    '--output-dir', 'native',
    '--js', 'index.cjs',
    '--dts', 'index.d.ts',
  ])
}

step(`wasm (cargo with the ${toolchain} toolchain, then wasm-bindgen)`)
// With the Debian fallback, the wasm32 std only exists for /usr/bin's compiler, and Debian ships the linker as
// wasm-ld-22 instead of rust-lld (see ../shared/TOOLCHAIN.md).
const wasmEnv =
  toolchain === 'debian'
    ? { PATH: `/usr/bin:${process.env.PATH}`, CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER: 'wasm-ld-22', RUSTC: '/usr/bin/rustc' }
    : {}
run(toolchain === 'debian' ? '/usr/bin/cargo' : 'cargo',
  ['build', '--release', '--target', 'wasm32-unknown-unknown', '-p', 'strata-wasm', '--target-dir', `target/wasm-${toolchain}`],
  wasmEnv)
const wasmIn = `target/wasm-${toolchain}/wasm32-unknown-unknown/release/strata_wasm.wasm`
run('wasm-bindgen', ['--target', 'web', '--out-dir', 'wasm', wasmIn])

step('bundles (esbuild)')
const common = { bundle: true, logLevel: 'warning', sourcemap: false, legalComments: 'none' }
await build({ ...common, entryPoints: ['ts/entry/node.ts'], outfile: 'dist/index.js', format: 'esm', platform: 'node', target: 'node20' })
const commonJs = {
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // CommonJS has no import.meta; the entry finds the .wasm and the addon relative to its own file.
  define: { 'import.meta.url': '__stratadb_module_url' },
  banner: { js: "const __stratadb_module_url = require('node:url').pathToFileURL(__filename).href;" },
}
await build({ ...common, ...commonJs, entryPoints: ['ts/entry/node.ts'], outfile: 'dist/index.cjs' })
await build({ ...common, entryPoints: ['ts/entry/browser.ts'], outfile: 'dist/browser.js', format: 'esm', platform: 'neutral', target: 'es2022' })
// `stratadb/wasm` and `stratadb/native` force a backend; dist/wasm.js is also Deno's entry (the .wasm read with node:fs).
for (const name of ['wasm', 'native']) {
  const entryPoints = [`ts/entry/${name}.ts`]
  await build({ ...common, entryPoints, outfile: `dist/${name}.js`, format: 'esm', platform: 'node', target: 'node20' })
  await build({ ...common, ...commonJs, entryPoints, outfile: `dist/${name}.cjs` })
}

step('types (tsc)')
run('npx', ['tsc', '-p', 'tsconfig.build.json'])
for (const f of readdirSync('dist').filter((f) => f.endsWith('.d.ts'))) {
  const esm = readFileSync(`dist/${f}`, 'utf8')
  writeFileSync(`dist/${f.replace(/\.d\.ts$/, '.d.cts')}`, esm.replace(/(from\s+['"]\.\/[\w.-]+)\.js(['"])/g, '$1.cjs$2'))
}
console.log('\n[build] done')
