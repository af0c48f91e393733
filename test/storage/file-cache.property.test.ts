import path from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/common/clock.js'
import { FileHandleCache } from '../../src/storage/file-handle-cache.js'
import { PartitionLog } from '../../src/storage/log.js'
import { batch, removeDir, smallConfig, tempDir } from './helpers.js'

const LOGS = 3
const SEGMENT_MS = 1_000

type Command =
  | { kind: 'append'; log: number; records: number; valueBytes: number }
  | { kind: 'read'; log: number; pick: number }
  | { kind: 'roll'; log: number }
  | { kind: 'truncate'; log: number; pick: number }
  | { kind: 'flush'; log: number }
  | { kind: 'reopen'; log: number; clean: boolean }

const logIndex = fc.integer({ min: 0, max: LOGS - 1 })
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('append' as const), log: logIndex, records: fc.integer({ min: 1, max: 4 }), valueBytes: fc.integer({ min: 1, max: 300 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('read' as const), log: logIndex, pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('roll' as const), log: logIndex }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), log: logIndex, pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('flush' as const), log: logIndex }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reopen' as const), log: logIndex, clean: fc.boolean() }) },
)

/** The uncached model of one log: its batches as stamped, with their record counts. */
interface ModelLog {
  batches: Array<{ bytes: Buffer; baseOffset: number; records: number }>
}

function modelEnd(model: ModelLog): number {
  const last = model.batches[model.batches.length - 1]
  return last === undefined ? 0 : last.baseOffset + last.records
}

function expectSameReads(log: PartitionLog, model: ModelLog, pick: number): void {
  expect(log.logEndOffset).toBe(modelEnd(model))
  if (model.batches.length === 0) {
    expect(log.read(0, 1 << 20).batchCount).toBe(0)
    return
  }
  const i = pick % model.batches.length
  const one = log.read(model.batches[i].baseOffset, 1)
  expect(one.records.equals(model.batches[i].bytes)).toBe(true)
  // A large read returns whole batches from there to the end of that batch's segment.
  const many = log.read(model.batches[i].baseOffset, 1 << 20)
  const expected = Buffer.concat(model.batches.slice(i, i + many.batchCount).map((b) => b.bytes))
  expect(many.records.equals(expected)).toBe(true)
}

describe('logs sharing a tiny file cache', () => {
  it('give the same reads as an uncached model through random appends, reads, rolls, truncations, flushes and reopens', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 4 }), fc.array(command, { minLength: 10, maxLength: 80 }), async (openFilesMax, commands) => {
        const root = tempDir()
        const files = new FileHandleCache({ openFilesMax })
        const clock = new ManualClock()
        const config = smallConfig({ segmentBytes: 1500, indexIntervalBytes: 200, segmentMs: SEGMENT_MS })
        const open = (i: number): Promise<PartitionLog> => PartitionLog.open(path.join(root, `p-${i}`), config, { clock, files, fsync: false })
        const logs: PartitionLog[] = []
        const models: ModelLog[] = []
        try {
          for (let i = 0; i < LOGS; i++) {
            logs.push(await open(i))
            models.push({ batches: [] })
          }
          for (const c of commands) {
            const log = logs[c.log]
            const model = models[c.log]
            switch (c.kind) {
              case 'append': {
                const bytes = batch(c.records, clock.nowMs(), { valueBytes: c.valueBytes, tag: model.batches.length })
                const result = log.append(bytes, { leaderEpoch: 0, assignOffsets: true })
                expect(result.baseOffset).toBe(modelEnd(model))
                model.batches.push({ bytes: Buffer.from(bytes), baseOffset: result.baseOffset, records: c.records })
                break
              }
              case 'read':
                expectSameReads(log, model, c.pick)
                break
              case 'roll':
                clock.advance(SEGMENT_MS + 1)
                await log.housekeeping()
                break
              case 'truncate': {
                const keep = c.pick % (model.batches.length + 1)
                log.truncateTo(keep < model.batches.length ? model.batches[keep].baseOffset : modelEnd(model))
                model.batches.length = keep
                break
              }
              case 'flush':
                await log.flush()
                break
              case 'reopen':
                // Not closing is a crash as far as the files can tell (nothing is fsynced here):
                // the next open must find no clean-shutdown marker after any change.
                if (c.clean) await log.close()
                logs[c.log] = await open(c.log)
                break
            }
            expect(logs[c.log].logEndOffset).toBe(modelEnd(model))
            expect(files.stats.open).toBeLessThanOrEqual(openFilesMax)
          }
          for (let i = 0; i < LOGS; i++) {
            for (let pick = 0; pick < models[i].batches.length; pick++) expectSameReads(logs[i], models[i], pick)
          }
        } finally {
          for (const log of logs) await log.close()
          files.closeAll()
          removeDir(root)
        }
      }),
      { seed: 0x5eed_f11e, numRuns: 60 },
    )
  })
})
