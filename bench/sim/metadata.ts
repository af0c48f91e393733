/**
 * The controller's metadata store in the power-cut simulation, over the same simulated disk as
 * the replicas: topics are created and deleted and leader epochs bumped through the store, and
 * producer ids handed out. Checked after every power cut: the store always loads (no torn
 * document, no torn temp file taken for it), its cluster id stays, every acknowledged change is
 * there, and producer ids handed out are never handed out again.
 *
 * A change whose save failed (EIO, ENOSPC) was not acknowledged, but its document may still be
 * on disk (the rename can survive a failed directory fsync), so after a power cut the store may
 * hold the acknowledged state or any state a failed save since then tried to write.
 */
import { MetadataStore, type TopicState } from '../../src/controller/metadata-store.js'
import type { SeededRandom } from '../../src/common/random.js'
import type { FileSystem } from '../../src/storage/file-system.js'

const META_DIR = '/meta'
/** Topic names the store cycles through, so deletes and re-creates happen. */
const NAMES_MAX = 6
/** Producer ids one step hands out at most; the store persists its mark once per 1000. */
const PRODUCER_IDS_PER_STEP_MAX = 600

export class MetadataModel {
  clusterId: string | null = null
  /** Topic name -> its acknowledged state, as JSON. */
  #acked = new Map<string, string>()
  /** Whole states failed saves tried to write since the last acknowledged save. */
  #attempted: string[] = []
  /** The highest producer id handed out. */
  #producerIdMax = -1
  acknowledged = 0

  /** Opens the store (after a power cut) and checks it against the model; a message when it fails. */
  open(fs: FileSystem): { store: MetadataStore } | { violation: string } {
    let store: MetadataStore
    try {
      store = MetadataStore.open(META_DIR, { fs })
    } catch (error) {
      return { violation: `the metadata store does not load: ${error instanceof Error ? error.message : String(error)}` }
    }
    if (this.clusterId !== null && store.clusterId !== this.clusterId) return { violation: `the cluster id changed from ${this.clusterId} to ${store.clusterId}` }
    this.clusterId = store.clusterId
    const loaded = stateOf(new Map(store.topics().map((t) => [t.name, JSON.stringify(t)])))
    const acked = stateOf(this.#acked)
    if (loaded !== acked && !this.#attempted.includes(loaded)) return { violation: `the metadata store loaded ${loaded}, not the acknowledged ${acked}` }
    if (loaded !== acked) this.#acked = new Map(store.topics().map((t) => [t.name, JSON.stringify(t)]))
    this.#attempted = []
    const next = store.nextProducerId()
    if (next <= this.#producerIdMax) return { violation: `producer id ${next} is handed out again (${this.#producerIdMax} was before the power cut)` }
    this.#producerIdMax = next
    return { store }
  }

  /** One random change through the store; a save that throws is a refusal, never a crash. */
  step(store: MetadataStore, random: SeededRandom): void {
    const name = `m${random.below(NAMES_MAX)}`
    const existing = store.topic(name)
    const after = new Map(this.#acked)
    let change: () => void
    if (random.chance(0.15)) {
      // Many at once (transactional producers starting), so the persisted mark's blocks are crossed.
      const count = 1 + random.below(PRODUCER_IDS_PER_STEP_MAX)
      try {
        for (let i = 0; i < count; i++) this.#producerIdMax = Math.max(this.#producerIdMax, store.nextProducerId())
      } catch (error) {
        if (!isStorageFailure(error)) throw error
      }
      return
    }
    if (existing === undefined) {
      const topic: TopicState = { name, topicId: `id-${name}-${random.next()}`, configs: {}, partitions: [partition(0), partition(1)] }
      after.set(name, JSON.stringify(topic))
      change = () => store.putTopic(topic)
    } else if (random.chance(0.3)) {
      after.delete(name)
      change = () => store.deleteTopic(name)
    } else {
      // A leader epoch bump, as an election makes: the store is told by its caller, in place.
      const bumped: TopicState = structuredClone(existing)
      const p = bumped.partitions[random.below(bumped.partitions.length)]
      p.leaderEpoch++
      after.set(name, JSON.stringify(bumped))
      change = () => store.putTopic(bumped)
    }
    try {
      change()
    } catch (error) {
      if (!isStorageFailure(error)) throw error
      this.#attempted.push(stateOf(after))
      return
    }
    this.#acked = after
    this.#attempted = []
    this.acknowledged++
  }
}

function partition(index: number): TopicState['partitions'][number] {
  return { partition: index, replicas: [0], leader: 0, leaderEpoch: 0, isr: [0] }
}

/** A state as one comparable string: topics by name. */
function stateOf(topics: ReadonlyMap<string, string>): string {
  return [...topics.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([, json]) => json)
    .join('\n')
}

function isStorageFailure(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code
  return code === 'EIO' || code === 'ENOSPC'
}
