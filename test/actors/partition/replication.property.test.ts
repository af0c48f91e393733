import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { ErrorCode } from '../../../src/common/error-codes.js'
import { decodeRecords, iterateBatches } from '../../../src/records/record-batch.js'
import type { PartitionReplica } from '../../../src/actors/partition/partition-replica.js'
import { batch, cluster, pumpOnce, pumpUntilCaughtUp } from './replica-harness.js'

type Op =
  | { kind: 'produce'; acks: 1 | -1 }
  | { kind: 'pump'; replica: number }
  | { kind: 'elect'; pick: number }
  | { kind: 'advance'; ms: number }

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('produce' as const), acks: fc.constantFrom(1 as const, -1 as const) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('pump' as const), replica: fc.integer({ min: 0, max: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('elect' as const), pick: fc.integer({ min: 0, max: 1 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1_000, max: 20_000 }) }) },
)

function values(records: Buffer): string[] {
  const out: string[] = []
  for (const { pos } of iterateBatches(records)) for (const r of decodeRecords(records, pos)) out.push(r.value!.toString())
  return out
}

describe('replication under random leader changes', () => {
  it('keeps every acks=-1 record and converges all replicas byte for byte', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 40 }), async (ops) => {
        const c = cluster()
        try {
          const ids = [1, 2, 3]
          const replicas = new Map<number, PartitionReplica>()
          for (const id of ids) replicas.set(id, await c.open(id, { replicaLagTimeMaxMs: 10_000 }))
          let leaderId = 1
          let epoch = 1
          replicas.get(1)!.becomeLeader({ leaderEpoch: epoch, replicas: ids, isr: ids })
          for (const id of [2, 3]) replicas.get(id)!.becomeFollower({ leaderId, leaderEpoch: epoch })
          const acked: string[] = []
          const pending: Array<Promise<void>> = []
          let n = 0
          let lastHw = 0
          for (const step of ops) {
            const leader = replicas.get(leaderId)!
            if (step.kind === 'produce') {
              const name = `v${n++}`
              const done = leader.produce(batch(name), step.acks, 30_000).then((r) => {
                if (step.acks === -1 && r.errorCode === ErrorCode.NONE) acked.push(`${name}-0`)
              })
              pending.push(done)
            } else if (step.kind === 'pump') {
              const follower = replicas.get(ids[step.replica])!
              if (follower !== leader) await pumpOnce(follower, leader)
            } else if (step.kind === 'elect') {
              // A clean election: the new leader comes from the ISR the old leader reported.
              const candidates = leader.stats().isr.filter((id) => id !== leaderId)
              if (candidates.length === 0) continue
              const isr = leader.stats().isr
              leaderId = candidates[step.pick % candidates.length]
              epoch++
              lastHw = 0
              replicas.get(leaderId)!.becomeLeader({ leaderEpoch: epoch, replicas: ids, isr })
              for (const id of ids) if (id !== leaderId) replicas.get(id)!.becomeFollower({ leaderId, leaderEpoch: epoch })
            } else {
              c.clock.advance(step.ms)
            }
            const hw = replicas.get(leaderId)!.highWatermark
            expect(hw).toBeGreaterThanOrEqual(lastHw)
            lastHw = hw
            await Promise.resolve()
          }
          const leader = replicas.get(leaderId)!
          for (const id of ids) if (id !== leaderId) await pumpUntilCaughtUp(replicas.get(id)!, leader)
          c.clock.advance(60_000) // time out whatever still waits
          await Promise.all(pending)
          const expected = leader.log.read(leader.logStartOffset, 1 << 24).records
          for (const id of ids) {
            const r = replicas.get(id)!
            expect(Buffer.compare(r.log.read(r.logStartOffset, 1 << 24).records, expected)).toBe(0)
          }
          const final = new Set(values(expected))
          for (const value of acked) expect(final.has(value)).toBe(true)
        } finally {
          await c.close()
        }
      }),
      { seed: 42, numRuns: 40 },
    )
  })
})
