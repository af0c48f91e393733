/**
 * The one seeded generator of the project (sfc32, seeded through splitmix32), for deterministic
 * simulations, fault tests and the fuzzer: the same (seed, stream) gives the same sequence on
 * every machine and Node version. Streams split one run seed into independent sequences (the
 * fuzzer gives each frame its own, so frame i is the same bytes whatever ran before it).
 */

function splitmix32(state: number): () => number {
  let s = state >>> 0
  return () => {
    s = (s + 0x9e3779b9) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0
    return (z ^ (z >>> 16)) >>> 0
  }
}

interface WeightTable {
  entries: Array<[string, number]>
  total: number
}

/** Weight objects are module constants or small literals; their tables are built once each. */
const tables = new WeakMap<object, WeightTable>()

function tableOf(weights: Readonly<Record<string, number>>): WeightTable {
  let table = tables.get(weights)
  if (table === undefined) {
    const entries = Object.entries(weights)
    table = { entries, total: entries.reduce((sum, [, weight]) => sum + weight, 0) }
    tables.set(weights, table)
  }
  return table
}

const TWO_POW_32 = 0x1_0000_0000

export class SeededRandom {
  #a: number
  #b: number
  #c: number
  #d: number

  constructor(seed: number, stream = 0) {
    const mix = splitmix32((seed ^ Math.imul(stream, 0x27d4eb2f)) >>> 0)
    this.#a = mix()
    this.#b = mix()
    this.#c = mix()
    // sfc32's counter: odd, so no seed starts it on a short cycle of the other words.
    this.#d = mix() | 1
  }

  /** The next 32 random bits, unsigned. */
  next(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0
    this.#d = (this.#d + 1) >>> 0
    this.#a = this.#b ^ (this.#b >>> 9)
    this.#b = (this.#c + (this.#c << 3)) >>> 0
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0
    this.#c = (this.#c + t) >>> 0
    return t
  }

  /** A uniform integer in [0, n), n <= 2^32. */
  below(n: number): number {
    return Math.floor((this.next() / TWO_POW_32) * n)
  }

  /** An integer in [min, max], both inclusive. */
  between(min: number, max: number): number {
    return min + this.below(max - min + 1)
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() / TWO_POW_32 < p
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]
  }

  /** Picks a key of `weights` with probability proportional to its weight. */
  weighted<K extends string>(weights: Readonly<Record<K, number>>): K {
    const table = tableOf(weights)
    let at = (this.next() / TWO_POW_32) * table.total
    for (const [key, weight] of table.entries) {
      if (at < weight) return key as K
      at -= weight
    }
    return table.entries[table.entries.length - 1][0] as K
  }

  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n)
    for (let i = 0; i < n; i++) out[i] = this.next() & 0xff
    return out
  }

  int32(): number {
    return this.next() | 0
  }
}
