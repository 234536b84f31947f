/** Numbers for people: rates, times, bytes, ratios. */
export function rate(x) {
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)}M`
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)}k`
  return x >= 10 ? x.toFixed(0) : x.toFixed(2)
}

/** The time of one op, from its rate. */
export const perOp = (opsPerSecond) => duration(1 / opsPerSecond)

/** A time in seconds, in the unit that reads best. */
export function duration(s) {
  if (s >= 1) return `${s.toFixed(2)} s`
  if (s >= 1e-3) return `${(s * 1e3).toFixed(1)} ms`
  if (s >= 1e-6) return `${(s * 1e6).toFixed(2)} µs`
  return `${(s * 1e9).toFixed(0)} ns`
}

export function bytes(x) {
  const sign = x < 0 ? '-' : ''
  const a = Math.abs(x)
  if (a >= 1 << 20) return `${sign}${(a / (1 << 20)).toFixed(1)} MiB`
  if (a >= 1 << 10) return `${sign}${(a / (1 << 10)).toFixed(1)} KiB`
  return `${sign}${a.toFixed(1)} B`
}

export function ratio(x) {
  if (x >= 100) return `${x.toFixed(0)}x`
  if (x >= 0.01) return `${x.toFixed(2)}x`
  return `${x.toExponential(1)}x`
}

/** A statistic in its own unit. */
export function metric(x, unit) {
  if (unit === 'ops/s') return `${rate(x)}/s`
  if (unit === 'B') return bytes(x)
  if (unit === 'ratio') return `${(x * 100).toFixed(1)}%`
  if (unit === 'µs') return duration(x / 1e6)
  if (unit === 's') return duration(x)
  return `${x} ${unit}`
}

/** Median and spread: `1.23M/s (1.20M–1.25M)`, or the bare median of a single sample. */
export function stat(s) {
  if (s.samples.length < 2) return metric(s.median, s.unit)
  const short = (x) => metric(x, s.unit).replace(/\/s$/, '')
  return `${metric(s.median, s.unit)} (${short(s.min)}–${short(s.max)})`
}
