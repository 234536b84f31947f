/**
 * chart.svg: for every throughput workload, each driver's ops/s relative to stratadb-native, as bars from the 1x
 * line on a log scale (right: faster than stratadb native, left: slower). Plain SVG, written by hand.
 */
import { drivers, BASELINE } from '../drivers/index.mjs'
import { ratio } from './format.mjs'

const COLORS = { 'stratadb-wasm': '#7b61ff', lmdb: '#e8a33d', 'sqlite-memory': '#2f8fce', 'sqlite-wal': '#1b5e8c', 'classic-level': '#4caf6a' }
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

export function chart(results) {
  const peers = Object.keys(drivers).filter((d) => d !== BASELINE)
  const groups = results.workloads
    .filter((w) => w.kind === 'throughput' && w.rows[BASELINE]?.status === 'ok')
    .map((w) => {
      const base = w.rows[BASELINE].metrics.ops.median
      return {
        title: w.title,
        bars: peers.map((d) => {
          const row = w.rows[d]
          return row?.status === 'ok' ? { d, r: row.metrics.ops.median / base } : { d, status: row?.status ?? 'not run' }
        }),
      }
    })
  const ratios = groups.flatMap((g) => g.bars.filter((b) => b.r).map((b) => b.r))
  // Margin beyond the extreme bars, so that a ratio label never runs into the workload titles.
  const lo = Math.log10(Math.min(0.1, ...ratios)) - 0.8
  const hi = Math.log10(Math.max(10, ...ratios)) + 0.3

  const W = 960
  const left = 300
  const right = W - 70
  const x = (r) => left + ((Math.log10(r) - lo) / (hi - lo)) * (right - left)
  const bar = 12
  const top = 70
  const groupH = peers.length * (bar + 2) + 14
  const H = top + groups.length * groupH + 30

  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="600">ops/s relative to stratadb-native (log scale; right of 1x is faster than native) — ${esc(results.date)}, ${esc(results.mode)}</text>`,
  ]
  // Legend.
  peers.forEach((d, i) => {
    const lx = left + i * 130
    svg.push(`<rect x="${lx}" y="32" width="10" height="10" fill="${COLORS[d] ?? '#888'}"/><text x="${lx + 14}" y="41">${esc(d)}</text>`)
  })
  // Decades, with 1x (stratadb-native) drawn heavier.
  for (let e = Math.ceil(lo); e <= hi; e++) {
    const gx = x(10 ** e)
    svg.push(`<line x1="${gx}" y1="${top - 8}" x2="${gx}" y2="${H - 24}" stroke="${e === 0 ? '#333' : '#ddd'}" stroke-width="${e === 0 ? 1.5 : 1}"/>`)
    svg.push(`<text x="${gx}" y="${H - 10}" text-anchor="middle" fill="#555">${e < -3 ? `1e${e}` : e < 0 ? (10 ** e).toFixed(-e) : 10 ** e}x</text>`)
  }
  groups.forEach((g, gi) => {
    const gy = top + gi * groupH
    svg.push(`<text x="${left - 10}" y="${gy + (peers.length * (bar + 2)) / 2 + 4}" text-anchor="end" font-weight="600">${esc(g.title)}</text>`)
    g.bars.forEach((b, bi) => {
      const by = gy + bi * (bar + 2)
      if (!b.r) {
        svg.push(`<text x="${x(1) + 4}" y="${by + bar - 2}" fill="#999">${esc(b.d)}: ${esc(b.status)}</text>`)
        return
      }
      const x0 = Math.min(x(1), x(b.r))
      const w = Math.max(1, Math.abs(x(b.r) - x(1)))
      const tx = b.r >= 1 ? x0 + w + 4 : x0 - 4
      svg.push(`<rect x="${x0}" y="${by}" width="${w}" height="${bar}" fill="${COLORS[b.d] ?? '#888'}"><title>${esc(b.d)}: ${esc(ratio(b.r))}</title></rect>`)
      svg.push(`<text x="${tx}" y="${by + bar - 2}" text-anchor="${b.r >= 1 ? 'start' : 'end'}" fill="#333">${esc(ratio(b.r))}</text>`)
    })
  })
  svg.push('</svg>')
  return svg.join('\n') + '\n'
}
