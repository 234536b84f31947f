// Drives examples/browser in headless Chromium (Debian's /usr/bin/chromium through playwright-core; `npx playwright
// install` cannot download here): clicks through the four steps and checks what the page shows, with the stratadb
// the page loads served from `packageDir` (run.mjs passes the package installed from the packed tarball). Saves a
// screenshot to test/packaging/artifacts/browser.png.
//
//   node test/packaging/browser.mjs [packageDir]       (packageDir defaults to this checkout)
import { mkdirSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import { serve } from '../../examples/browser/serve.mjs'

const here = fileURLToPath(new URL('.', import.meta.url))
const FLAGS = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

function check(cond, what) {
  if (!cond) throw new Error(`browser: ${what}`)
}

export async function browserCheck(packageDir = resolve(here, '../..')) {
  // The import map must name the file the package exports to browsers.
  const exported = JSON.parse(readFileSync(resolve(packageDir, 'package.json'), 'utf8')).exports['.'].browser
  const page_ = readFileSync(resolve(here, '../../examples/browser/index.html'), 'utf8')
  check(page_.includes(`"/stratadb/${exported.replace(/^\.\//, '')}"`), `index.html's import map points at exports["."].browser (${exported})`)

  const server = await serve({ packageDir, port: 0 })
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', headless: true, args: FLAGS })
  const problems = []
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } })
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
    page.on('console', (m) => m.type() === 'error' && problems.push(`console error: ${m.text()}`))
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`))
    page.on('response', (r) => r.status() >= 400 && problems.push(`HTTP ${r.status()}: ${r.url()}`))

    await page.goto(server.url)
    await page.waitForSelector('body[data-ready="true"]', { timeout: 15000 })
    check((await page.textContent('#backend')) === 'wasm', 'the page runs on the wasm backend')
    await page.fill('#agents', '4')
    await page.fill('#tasks', '12')
    await page.click('#reset')

    await page.click('#fork')
    check((await page.textContent('#branches')).split(', ').length === 5, 'a branch per agent, plus default')
    await page.click('#claim')
    await page.waitForSelector('#claim.done', { timeout: 15000 })
    const rows = await page.$$eval('#agent-rows tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)))
    check(rows.length === 4, 'four agents listed')
    const claimed = rows.flatMap((r) => (r[2] === '–' ? [] : r[2].split(', ').map(Number))).sort((a, b) => a - b)
    check(claimed.length === 12 && claimed.every((t, i) => t === i), `each of 12 tasks claimed exactly once (got ${claimed})`)
    check(rows.every((r) => Number(r[3]) === (r[2] === '–' ? 0 : r[2].split(', ').length)), "each agent's results are in its own branch")
    check((await page.textContent('#default-results')) === '0', 'default sees no result before the merges')
    check((await page.textContent('#next')) === '12', 'task:next counted every claim')

    await page.click('#elect')
    const leader = await page.textContent('#leader')
    check(['ada', 'grace', 'linus', 'barbara'].includes(leader), `one of the agents leads (${leader})`)
    await page.click('#merge')
    check((await page.textContent('#default-results')) === '12', 'default has all 12 results after the merges')
    const summary = await page.textContent('#summary')
    check((await page.getAttribute('#summary', 'class')).includes('ok'), `the page reports success (${summary})`)

    const shot = resolve(here, 'artifacts/browser.png')
    mkdirSync(resolve(here, 'artifacts'), { recursive: true })
    await page.screenshot({ path: shot, fullPage: true })
    check(problems.length === 0, problems.join('; '))
    return { browser: `chromium ${browser.version()}`, leader, summary, screenshot: shot, lost: rows.map((r) => Number(r[4])).reduce((a, b) => a + b) }
  } finally {
    await browser.close()
    await server.close()
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(await browserCheck(process.argv[2] && resolve(process.argv[2])))
}
