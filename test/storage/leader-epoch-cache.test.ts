import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { LeaderEpochCache } from '../../src/storage/leader-epoch-cache.js'
import { removeDir, tempDir } from './helpers.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) removeDir(d)
})

function cache(end = { value: 100 }): { c: LeaderEpochCache; dir: string; end: { value: number } } {
  const dir = tempDir()
  dirs.push(dir)
  return { c: new LeaderEpochCache(dir, () => end.value), dir, end }
}

describe('LeaderEpochCache', () => {
  it('answers OffsetsForLeaderEpoch as Kafka does', () => {
    const { c } = cache()
    c.assign(1, 0)
    c.assign(3, 40)
    c.assign(5, 70)
    expect(c.endOffsetFor(5)).toEqual({ epoch: 5, endOffset: 100 })
    expect(c.endOffsetFor(3)).toEqual({ epoch: 3, endOffset: 70 })
    expect(c.endOffsetFor(4)).toEqual({ epoch: 3, endOffset: 70 })
    expect(c.endOffsetFor(2)).toEqual({ epoch: 1, endOffset: 40 })
    expect(c.endOffsetFor(0)).toEqual({ epoch: 0, endOffset: 0 })
    expect(c.endOffsetFor(6)).toEqual({ epoch: -1, endOffset: -1 })
    expect(c.endOffsetFor(-1)).toEqual({ epoch: -1, endOffset: -1 })
  })

  it('ignores a repeated epoch and removes entries a lower epoch or offset contradicts', () => {
    const { c } = cache()
    c.assign(1, 0)
    c.assign(1, 10)
    c.assign(2, 20)
    c.assign(3, 30)
    expect(c.entries()).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 2, startOffset: 20 },
      { epoch: 3, startOffset: 30 },
    ])
    c.assign(4, 25)
    expect(c.entries()).toEqual([
      { epoch: 1, startOffset: 0 },
      { epoch: 2, startOffset: 20 },
      { epoch: 4, startOffset: 25 },
    ])
  })

  it('truncates from the end and from the start, and persists in the Kafka checkpoint format on sync', () => {
    const { c, dir, end } = cache()
    c.assign(1, 0)
    c.assign(2, 20)
    c.assign(3, 30)
    c.truncateFromEnd(30)
    expect(c.latestEpoch()).toBe(2)
    c.truncateFromStart(25)
    expect(c.entries()).toEqual([{ epoch: 2, startOffset: 25 }])
    // Changes are written lazily: a partition's leader change or first append writes no file.
    expect(fs.existsSync(path.join(dir, 'leader-epoch-checkpoint'))).toBe(false)
    c.sync()
    expect(fs.readFileSync(path.join(dir, 'leader-epoch-checkpoint'), 'utf8')).toBe('0\n1\n2 25\n')
    const reloaded = new LeaderEpochCache(dir, () => end.value)
    expect(reloaded.entries()).toEqual([{ epoch: 2, startOffset: 25 }])
  })

  it('starts empty from a damaged checkpoint', () => {
    const { dir } = cache()
    fs.writeFileSync(path.join(dir, 'leader-epoch-checkpoint'), '0\n2\n1 0\n')
    expect(new LeaderEpochCache(dir, () => 0).entries()).toEqual([])
  })
})
