/**
 * JSONPath for `db.json`: `$` (the whole document) followed by `.name`, `['name']` and `[index]` steps. As in RFC
 * 9535, a `.name` may hold any non-ASCII character, a bracketed name may be quoted with `'` or `"` (a backslash
 * escapes the next character), and an index has no leading zeros; `-` and `$` are allowed in `.name` too. Documents
 * are plain `Value`s; these functions read and change them by path and throw `INVALID_PATH` naming the step.
 */
import { StrataError } from './errors.js'
import type { Value } from './value.js'

export type Step = { key: string } | { index: number }

function invalid(path: string, at: number, why: string): StrataError {
  return new StrataError('INVALID_PATH', `path ${JSON.stringify(path)}: ${why} at offset ${at}; use $, .name, ['name'] or [index] steps`)
}

const NAME = /^[A-Za-z_$\u0080-\u{10FFFF}][A-Za-z0-9_$\-\u0080-\u{10FFFF}]*/u

/** Parses a path into steps; `$` alone is `[]`. */
export function parsePath(path: unknown): Step[] {
  if (typeof path !== 'string') throw new StrataError('INVALID_PATH', `a path must be a string like '$.a[0]', got ${typeof path}`)
  if (!path.startsWith('$')) throw invalid(path, 0, 'a path starts with $')
  const steps: Step[] = []
  let i = 1
  while (i < path.length) {
    const rest = path.slice(i)
    if (rest.startsWith('.')) {
      const m = NAME.exec(rest.slice(1))
      if (m === null) throw invalid(path, i, `'${rest.slice(0, 8)}' is not a .name step`)
      steps.push({ key: m[0] })
      i += 1 + m[0].length
    } else if (rest.startsWith("['") || rest.startsWith('["')) {
      const quote = rest[1]!
      let j = 2
      let key = ''
      for (; j < rest.length && rest[j] !== quote; j++) {
        if (rest[j] === '\\' && j + 1 < rest.length) j++
        key += rest[j]
      }
      if (rest.slice(j, j + 2) !== `${quote}]`) throw invalid(path, i, `the [${quote}name${quote}] step is not closed`)
      steps.push({ key })
      i += j + 2
    } else if (rest.startsWith('[')) {
      const m = /^\[(0|[1-9]\d*)\]/.exec(rest)
      if (m === null) throw invalid(path, i, `'${rest.slice(0, 8)}' is not an [index] step`)
      steps.push({ index: Number(m[1]) })
      i += m[0].length
    } else {
      throw invalid(path, i, `unexpected '${rest[0]}'`)
    }
  }
  return steps
}

/** A step as a path writes it: a name as `.name` where that parses back, else as `['name']`. */
function stepText(s: Step): string {
  if (!('key' in s)) return `[${s.index}]`
  return NAME.exec(s.key)?.[0] === s.key ? `.${s.key}` : `['${s.key.replace(/[\\']/g, '\\$&')}']`
}

/** The path of the first `n` steps. */
function describe(steps: Step[], n: number): string {
  return '$' + steps.slice(0, n).map(stepText).join('')
}

function isObject(v: Value | undefined): v is { [key: string]: Value } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)
}

function child(node: Value | undefined, step: Step): Value | undefined {
  if ('key' in step) return isObject(node) && Object.hasOwn(node, step.key) ? node[step.key] : undefined
  return Array.isArray(node) ? node[step.index] : undefined
}

/** The value at `steps`, or `undefined` when any step is missing. */
export function getAt(doc: Value, steps: Step[]): Value | undefined {
  let node: Value | undefined = doc
  for (const s of steps) {
    node = child(node, s)
    if (node === undefined) return undefined
  }
  return node
}

function shallowCopy(node: Value): Value {
  if (Array.isArray(node)) return node.slice()
  const copy: { [key: string]: Value } = {}
  for (const k of Object.keys(node as object)) setOwn(copy, k, (node as { [key: string]: Value })[k] as Value)
  return copy
}

/** Sets a key as an own data property, `__proto__` included. */
function setOwn(obj: { [key: string]: Value }, key: string, value: Value): void {
  Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true })
}

/**
 * A copy of `doc` with `value` at `steps`. Missing intermediate containers are created (an object, or an array when
 * the next step is an index); an index past the end of an array, or a step into a non-container, is `INVALID_PATH`.
 */
export function setAt(doc: Value | undefined, steps: Step[], value: Value): Value {
  if (steps.length === 0) return value
  const root = doc === undefined ? ('key' in steps[0]! ? {} : []) : doc
  const walk = (node: Value, i: number): Value => {
    const step = steps[i]!
    const last = i === steps.length - 1
    const copy = shallowCopy(node)
    const next = (existing: Value | undefined): Value => {
      if (last) return value
      if (existing === undefined) return walk('key' in steps[i + 1]! ? {} : [], i + 1)
      if (typeof existing !== 'object' || existing === null || existing instanceof Uint8Array) {
        throw new StrataError('INVALID_PATH', `cannot step into ${describe(steps, i + 1)}: it is not an object or array`)
      }
      return walk(existing, i + 1)
    }
    if ('key' in step) {
      if (!isObject(copy)) throw new StrataError('INVALID_PATH', `cannot use ${stepText(step)} on ${describe(steps, i)}: it is not an object`)
      setOwn(copy, step.key, next(Object.hasOwn(copy, step.key) ? copy[step.key] : undefined))
    } else {
      if (!Array.isArray(copy)) throw new StrataError('INVALID_PATH', `cannot use ${stepText(step)} on ${describe(steps, i)}: it is not an array`)
      if (step.index > copy.length) {
        throw new StrataError('INVALID_PATH', `index ${step.index} is past the end of ${describe(steps, i)} (length ${copy.length})`)
      }
      copy[step.index] = next(copy[step.index])
    }
    return copy
  }
  if (typeof root !== 'object' || root === null || root instanceof Uint8Array) {
    throw new StrataError('INVALID_PATH', 'cannot step into $: the document is not an object or array')
  }
  return walk(root, 0)
}

/** A copy of `doc` without the value at `steps`, or `undefined` when nothing is there. */
export function deleteAt(doc: Value, steps: Step[]): Value | undefined {
  const parentSteps = steps.slice(0, -1)
  const last = steps[steps.length - 1]!
  const parent = getAt(doc, parentSteps)
  if (child(parent, last) === undefined) return undefined
  const without = shallowCopy(parent as Value)
  if ('key' in last) delete (without as { [key: string]: Value })[last.key]
  else (without as Value[]).splice(last.index, 1)
  return parentSteps.length === 0 ? without : setAt(doc, parentSteps, without)
}
