// smoke.mjs for CommonJS: `require()`s the package, then runs the same seed.mjs on what it got.
//
//   node smoke.cjs <specifier> <expected backend> [directory for a durable round trip]
const [specifier = 'stratadb', expected, dir] = process.argv.slice(2)
const runtime = typeof Bun !== 'undefined' ? `bun ${Bun.version}` : `node ${process.version}`
const mod = require(specifier)

async function main() {
  if (mod.Strata.backend !== expected) throw new Error(`${specifier} loaded the ${mod.Strata.backend} backend, expected ${expected}`)
  const { seedPatterns, durableRoundTrip } = await import('./seed.mjs')
  const result = { runtime, arch: process.arch, specifier, module: 'cjs', ...(await seedPatterns(mod)) }
  if (dir !== undefined) Object.assign(result, durableRoundTrip(mod, `${dir}/db`))
  console.log(`SMOKE ${JSON.stringify(result)}`)
}
main().catch((e) => {
  console.error(e)
  process.exit(1)
})
