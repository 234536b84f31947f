// Runs seed.mjs against an installed stratadb, as a user's ESM script would. Copied next to a scratch project's
// node_modules by run.mjs and started by Node, Deno, Bun or an arm64 Node under qemu:
//
//   <runtime> smoke.mjs <specifier> <expected backend> [directory for a durable round trip]
//
// <specifier> is a package name (resolved from the scratch project) or a path relative to this file (the release
// workflow passes ../../dist/index.js).
//
// No Node built-in is imported here (the caller makes and removes the directory), so Deno needs no permission beyond
// reading the package and reading and writing that directory.
//
// Prints one line `SMOKE {json}`; exits non-zero when a check fails or the backend is not the expected one.
import { durableRoundTrip, seedPatterns } from './seed.mjs'

const [specifier = 'stratadb', expected, dir] = process.argv.slice(2)
const runtime = typeof Deno !== 'undefined' ? `deno ${Deno.version.deno}` : typeof Bun !== 'undefined' ? `bun ${Bun.version}` : `node ${process.version}`
const mod = await import(specifier)
if (mod.Strata.backend !== expected) throw new Error(`${specifier} loaded the ${mod.Strata.backend} backend, expected ${expected}`)
const result = { runtime, arch: process.arch, specifier, module: 'esm', ...(await seedPatterns(mod)) }
if (dir !== undefined) Object.assign(result, durableRoundTrip(mod, `${dir}/db`))
console.log(`SMOKE ${JSON.stringify(result)}`)
