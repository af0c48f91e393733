/**
 * Durable cluster metadata: topics, their configs, replica placement, leaders, leader epochs and
 * in-sync sets, and the producer-id high mark. Lives on the main thread beside the supervisor.
 *
 * The whole state is small (a few KB per hundred partitions), so it is rewritten as one JSON
 * document on every change, atomically (temp file, fsync, rename, fsync of the directory): a
 * crash leaves either the old or the new document, never a torn one; the CRC guards against a
 * damaged disk rather than a torn write. Its files go through the FileSystem seam (the real one
 * in production), so the power-cut simulation runs it over the simulated disk.
 */
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { crc32c } from '@node-rs/crc32'
import { PartitaError } from '../common/errors.js'
import { assert } from '../common/assert.js'
import { readBytesIfExistsSync, writeFileAtomicSync } from '../storage/checkpoint-file.js'
import { FileHandleCache } from '../storage/file-handle-cache.js'
import { type FileSystem, realFileSystem } from '../storage/file-system.js'
import type { DynamicBrokerConfigs } from '../metadata/broker-dynamic-configs.js'
import type { TopicState } from '../metadata/image.js'

export type { PartitionState, TopicState } from '../metadata/image.js'

/**
 * What a save changed in one topic: the partitions named (added or changed, with the topic's
 * configs), or the whole topic when `partitions` is absent (created, deleted, shrunk). Naming the
 * partitions keeps a change to a huge topic as small as the change on its way to every node.
 */
export interface TopicChange {
  topic: string
  partitions?: readonly number[]
}

export interface ClusterState {
  clusterId: string
  topics: Record<string, TopicState>
  /** Producer ids below this mark may have been handed out; a restart continues above it. */
  producerIdMark: number
  /** Dynamic broker configs by level ('' the cluster default, else a broker id), by Kafka broker key (absent in older files: none). */
  brokerConfigs?: Record<string, Record<string, string>>
}

const FILE_NAME = 'cluster-metadata.json'
const PRODUCER_ID_BLOCK = 1000
/** The store opens one file at a time (the document, or its temp file and directory). */
const STORE_OPEN_FILES_MAX = 4

export class MetadataStore {
  readonly #path: string
  readonly #files: FileHandleCache
  #state: ClusterState
  #nextProducerId: number
  readonly #listeners: Array<(changes: readonly TopicChange[]) => void> = []

  private constructor(path: string, files: FileHandleCache, state: ClusterState) {
    this.#path = path
    this.#files = files
    this.#state = state
    this.#nextProducerId = state.producerIdMark
  }

  static open(dir: string, options: { fs?: FileSystem } = {}): MetadataStore {
    const files = new FileHandleCache({ fs: options.fs ?? realFileSystem, openFilesMax: STORE_OPEN_FILES_MAX })
    files.fs.mkdirpSync(dir)
    const path = join(dir, FILE_NAME)
    const state = readState(path, files)
    const store = new MetadataStore(path, files, state ?? { clusterId: newClusterId(), topics: {}, producerIdMark: 0 })
    if (state === null) store.save()
    return store
  }

  get clusterId(): string {
    return this.#state.clusterId
  }

  topic(name: string): TopicState | undefined {
    return this.#state.topics[name]
  }

  topics(): TopicState[] {
    return Object.values(this.#state.topics)
  }

  /**
   * Adds or replaces a topic; if it cannot be persisted, the store is left as it was. `partitions`
   * names the only partitions that differ from the stored topic (added ones, say), when they are known.
   */
  putTopic(topic: TopicState, partitions?: readonly number[]): void {
    const before = this.#state.topics[topic.name]
    this.#state.topics[topic.name] = topic
    this.#saveOrUndo(() => {
      if (before === undefined) delete this.#state.topics[topic.name]
      else this.#state.topics[topic.name] = before
    }, { topic: topic.name, partitions: before === undefined ? undefined : partitions })
  }

  brokerConfigs(): DynamicBrokerConfigs {
    return this.#state.brokerConfigs ?? {}
  }

  /** Replaces the dynamic broker configs; if they cannot be persisted, the store is left as it was. */
  putBrokerConfigs(configs: Record<string, Record<string, string>>): void {
    const before = this.#state.brokerConfigs
    this.#state.brokerConfigs = configs
    try {
      this.save()
    } catch (error) {
      this.#state.brokerConfigs = before
      throw error
    }
  }

  /** Removes a topic; if that cannot be persisted, the store is left as it was. */
  deleteTopic(name: string): void {
    const before = this.#state.topics[name]
    delete this.#state.topics[name]
    this.#saveOrUndo(() => {
      if (before !== undefined) this.#state.topics[name] = before
    }, { topic: name })
  }

  #saveOrUndo(undo: () => void, change: TopicChange): void {
    try {
      this.save([change])
    } catch (error) {
      undo()
      throw error
    }
  }

  /** Called after every save with what it changed (the image publisher listens). */
  onChange(listener: (changes: readonly TopicChange[]) => void): void {
    this.#listeners.push(listener)
  }

  /** Hands out a fresh producer id; the persisted mark moves in blocks so most calls write nothing. */
  nextProducerId(): number {
    if (this.#nextProducerId >= this.#state.producerIdMark) {
      const before = this.#state.producerIdMark
      this.#state.producerIdMark = this.#nextProducerId + PRODUCER_ID_BLOCK
      try {
        this.save()
      } catch (error) {
        // Ids are handed out only below a mark on disk: a restart must never hand them out again.
        this.#state.producerIdMark = before
        throw error
      }
    }
    return this.#nextProducerId++
  }

  /**
   * Persists the current state; callers mutate TopicState objects in place and then save, naming
   * what they changed (the partitions, when they know them) so the nodes' images follow.
   */
  save(changes: readonly TopicChange[] = []): void {
    const body = Buffer.from(JSON.stringify(this.#state))
    writeFileAtomicSync(this.#path, Buffer.concat([Buffer.from(`${crc32c(body)}\n`), body]), true, this.#files)
    if (changes.length > 0) for (const listener of this.#listeners) listener(changes)
  }
}

function readState(path: string, files: FileHandleCache): ClusterState | null {
  const bytes = readBytesIfExistsSync(path, files)
  if (bytes === null) return null
  const newline = bytes.indexOf(0x0a)
  const body = bytes.subarray(newline + 1)
  if (newline <= 0 || Number(bytes.subarray(0, newline).toString()) !== crc32c(body)) {
    throw new PartitaError('PARTITA_METADATA_CORRUPT', `cluster metadata at ${path} fails its CRC check`)
  }
  const state = JSON.parse(body.toString()) as ClusterState
  assert(typeof state.clusterId === 'string' && typeof state.topics === 'object', 'metadata has its shape')
  return state
}

/** Kafka cluster ids are 22-character URL-safe base64 UUIDs. */
function newClusterId(): string {
  return Buffer.from(randomUUID().replaceAll('-', ''), 'hex').toString('base64url')
}
