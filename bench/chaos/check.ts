/**
 * The chaos runs' checker. It knows only what the clients were told and what a reader finds in
 * the log afterwards, never the broker's internals: every record the producer saw acknowledged
 * must be in the log at the partition and offset of its acknowledgement, exactly once, and each
 * partition must hold its values in the order they were sent (the producer sends 0, 1, 2, ... and
 * an idempotent producer keeps order within a partition).
 */

/** A record as the producer's acknowledgement, the final read or the group consumer saw it. */
export interface SeenRecord {
  /** The value: the producer's sequence number. */
  v: number
  /** Partition. */
  p: number
  /** Offset. */
  o: number
}

export interface ChaosVerdict {
  ok: boolean
  acked: number
  /** Acknowledged records not found at their acknowledged partition and offset. */
  lost: number
  /** Values stored more than once. */
  duplicates: number
  /** Places where a partition holds a value after a larger one. */
  outOfOrder: number
  /** Records in the log: acknowledged ones plus those whose acknowledgement never arrived. */
  stored: number
  /** Acknowledged values the group consumer never received. */
  notConsumed: number
  /** Deliveries to the group consumer beyond the first of each value (at-least-once redelivery after a fault). */
  redelivered: number
  /** The first few problems, one line each. */
  problems: string[]
}

const PROBLEMS_KEPT = 10

export function checkChaos(acked: readonly SeenRecord[], log: readonly SeenRecord[], consumed: readonly SeenRecord[]): ChaosVerdict {
  const problems: string[] = []
  const note = (line: string): void => {
    if (problems.length < PROBLEMS_KEPT) problems.push(line)
  }
  const atOffset = new Map<string, number>()
  const timesStored = new Map<number, number>()
  for (const r of log) {
    atOffset.set(`${r.p}@${r.o}`, r.v)
    timesStored.set(r.v, (timesStored.get(r.v) ?? 0) + 1)
  }
  let lost = 0
  for (const a of acked) {
    const stored = atOffset.get(`${a.p}@${a.o}`)
    if (stored === a.v) continue
    lost++
    note(`value ${a.v} acknowledged at ${a.p}@${a.o} but the log holds ${stored === undefined ? 'nothing' : `value ${stored}`} there`)
  }
  let duplicates = 0
  for (const [v, times] of timesStored) {
    if (times === 1) continue
    duplicates += times - 1
    note(`value ${v} stored ${times} times`)
  }
  let outOfOrder = 0
  const byPartition = new Map<number, SeenRecord[]>()
  for (const r of log) {
    const records = byPartition.get(r.p)
    if (records === undefined) byPartition.set(r.p, [r])
    else records.push(r)
  }
  for (const [p, records] of byPartition) {
    records.sort((a, b) => a.o - b.o)
    for (let i = 1; i < records.length; i++) {
      if (records[i].v > records[i - 1].v) continue
      outOfOrder++
      note(`partition ${p} holds value ${records[i].v} at offset ${records[i].o} after value ${records[i - 1].v}`)
    }
  }
  const timesConsumed = new Map<number, number>()
  for (const c of consumed) timesConsumed.set(c.v, (timesConsumed.get(c.v) ?? 0) + 1)
  let notConsumed = 0
  for (const a of acked) {
    if (timesConsumed.has(a.v)) continue
    notConsumed++
    note(`acknowledged value ${a.v} (${a.p}@${a.o}) never reached the group consumer`)
  }
  let redelivered = 0
  for (const times of timesConsumed.values()) redelivered += times - 1
  return {
    ok: lost === 0 && duplicates === 0 && outOfOrder === 0 && notConsumed === 0,
    acked: acked.length,
    lost,
    duplicates,
    outOfOrder,
    stored: log.length,
    notConsumed,
    redelivered,
    problems,
  }
}
