/**
 * The lifecycle group and transaction coordinators share: one coordinator per partition of the
 * internal topic this node leads, following the metadata image, with loads tried again until they
 * succeed or the coordinator stops.
 */
import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../src/common/clock.js'
import { CoordinatorSlots, type CoordinatorSlot } from '../../src/broker/coordinator-slots.js'
import { MetadataImage, type PartitionState } from '../../src/metadata/image.js'

const NODE = 1
const TOPIC = '__internal'

class FakeCoordinator {
  closed = false
  loads = 0
  constructor(
    readonly partition: number,
    readonly leaderEpoch: number,
  ) {}
  close(): void {
    this.closed = true
  }
}

/** Partition i's leader and epoch, as [leader, epoch] pairs. */
function imageOf(version: number, leaders: Array<[number, number]>, image = new MetadataImage()): MetadataImage {
  const partitions: PartitionState[] = leaders.map(([leader, leaderEpoch], partition) => ({ partition, replicas: [0, 1], leader, leaderEpoch, isr: [0, 1] }))
  image.apply({ version, topics: [{ name: TOPIC, topicId: 'id', configs: {}, partitions }] })
  return image
}

function setUp(image: MetadataImage, load: (slot: CoordinatorSlot<FakeCoordinator>) => Promise<void> = async () => {}) {
  const clock = new ManualClock()
  const warnings: string[] = []
  const created: FakeCoordinator[] = []
  const slots = new CoordinatorSlots<FakeCoordinator>({
    topic: TOPIC,
    nodeId: NODE,
    image,
    clock,
    log: { warn: (message) => warnings.push(message) },
    contents: 'things',
    create: (partition, leaderEpoch) => {
      const coordinator = new FakeCoordinator(partition, leaderEpoch)
      created.push(coordinator)
      return coordinator
    },
    load,
  })
  return { slots, clock, warnings, created }
}

/** Lets every settled promise's continuations run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve()
}

describe('CoordinatorSlots', () => {
  it('runs a coordinator for each partition this node leads, and none for the others', async () => {
    const { slots, created } = setUp(imageOf(1, [[NODE, 3], [0, 1], [NODE, 5]]))
    slots.follow()
    await slots.whenLoaded()
    expect(created.map((c) => [c.partition, c.leaderEpoch])).toEqual([
      [0, 3],
      [2, 5],
    ])
    expect(slots.get(1)).toBeUndefined()
    expect(slots.size).toBe(2)
  })

  it('stops a coordinator whose leadership or leader epoch moves, and starts one for the new epoch', async () => {
    const image = imageOf(1, [[NODE, 3], [NODE, 4]])
    const { slots, created } = setUp(image)
    slots.follow()
    imageOf(2, [[0, 4], [NODE, 5]], image)
    slots.follow()
    expect(created.map((c) => [c.partition, c.leaderEpoch, c.closed])).toEqual([
      [0, 3, true],
      [1, 4, true],
      [1, 5, false],
    ])
    expect(slots.get(0)).toBeUndefined()
    expect(slots.get(1)?.coordinator).toBe(created[2])
  })

  it('keeps a coordinator whose leader epoch stays, without loading it again', async () => {
    const image = imageOf(1, [[NODE, 3]])
    let loads = 0
    const { slots, created } = setUp(image, async () => void loads++)
    slots.follow()
    imageOf(2, [[NODE, 3]], image)
    slots.follow()
    await slots.whenLoaded()
    expect(created).toHaveLength(1)
    expect(loads).toBe(1)
  })

  it('tries a failing load again after a pause, and warns once every 100 failures', async () => {
    let failures = 0
    const { slots, clock, warnings } = setUp(imageOf(1, [[NODE, 1]]), async (slot) => {
      if (failures < 150) {
        failures++
        throw new Error('not the leader yet')
      }
      slot.coordinator.loads++
    })
    slots.follow()
    let loaded = false
    void slots.whenLoaded().then(() => (loaded = true))
    for (let i = 0; i < 150; i++) {
      await settle()
      clock.advance(50)
    }
    await settle()
    expect(loaded).toBe(true)
    expect(slots.get(0)?.coordinator.loads).toBe(1)
    expect(warnings).toEqual([`loading things of ${TOPIC}-0 keeps failing: not the leader yet`])
  })

  it('gives up a load once its coordinator stops', async () => {
    const image = imageOf(1, [[NODE, 1]])
    let attempts = 0
    const { slots, clock } = setUp(image, async () => {
      attempts++
      throw new Error('unreadable')
    })
    slots.follow()
    const first = slots.get(0)!
    await settle()
    imageOf(2, [[0, 2]], image)
    slots.follow()
    expect(first.closed).toBe(true)
    clock.advance(1_000)
    await first.loaded
    expect(attempts).toBe(1)
  })

  it('stops every coordinator on close', () => {
    const { slots, created } = setUp(imageOf(1, [[NODE, 1], [NODE, 1]]))
    slots.follow()
    slots.close()
    expect(created.every((c) => c.closed)).toBe(true)
    expect(slots.size).toBe(0)
  })
})
