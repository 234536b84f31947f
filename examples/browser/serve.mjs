// A static server for the browser example: the page from this folder at `/`, and the stratadb package (its dist/
// and wasm/ folders) at `/stratadb/`, which is where index.html's import map points. The browser entry finds its
// `.wasm` relative to its own URL, so nothing else is needed.
//
//   node examples/browser/serve.mjs [--port 8080] [--package <dir>]
//
// --package defaults to this checkout (after `npm run build`); test/packaging/browser.mjs points it at the package
// installed from the packed tarball instead.
import { createReadStream, existsSync, statSync } from 'node:fs'
import { createServer } from 'node:http'
import { extname, join, normalize, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = fileURLToPath(new URL('.', import.meta.url))
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm', // instantiateStreaming needs it
  '.png': 'image/png',
}

/** The file `path` names under `root`, or undefined when it is outside it or not a file. */
function fileUnder(root, path) {
  const file = normalize(join(root, path))
  if (file !== root && !file.startsWith(root.endsWith(sep) ? root : root + sep)) return undefined
  return existsSync(file) && statSync(file).isFile() ? file : undefined
}

/** Starts the server; resolves to its URL. */
export function serve({ packageDir = resolve(here, '../..'), port = 8080, host = '127.0.0.1' } = {}) {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname)
    let file
    if (path.startsWith('/stratadb/')) {
      const rest = path.slice('/stratadb/'.length)
      if (rest.startsWith('dist/') || rest.startsWith('wasm/')) file = fileUnder(resolve(packageDir), rest)
    } else {
      file = fileUnder(here, path === '/' ? 'index.html' : path.slice(1))
      if (file?.endsWith('serve.mjs')) file = undefined
    }
    if (file === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}\n`)
      return
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' })
    createReadStream(file).pipe(res)
  })
  return new Promise((ok, fail) => {
    server.once('error', fail)
    server.listen(port, host, () => {
      const { port: actual } = server.address()
      ok({ url: `http://${host}:${actual}/`, close: () => new Promise((done) => server.close(done)) })
    })
  })
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const arg = (name) => {
    const i = process.argv.indexOf(name)
    return i > 0 ? process.argv[i + 1] : undefined
  }
  const { url } = await serve({ port: Number(arg('--port') ?? 8080), packageDir: arg('--package') })
  console.log(`stratadb browser example: ${url}`)
}
