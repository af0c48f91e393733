/**
 * `partition.metadata` in a partition's log directory, as Kafka keeps it since topic ids (KIP-516):
 * the id of the topic incarnation the directory holds. Directories are named by topic name, so
 * a topic deleted while one of its brokers was down, then created again under the same name,
 * finds that broker's old directory waiting under the new topic's name; only the id tells the
 * two apart. The file is written without fsync: a directory that lost it is adopted again by the
 * next open, as a directory from before the file existed is.
 */
import path from 'node:path'
import { readFileIfExists, writeFileAtomic } from './checkpoint-file.js'
import type { FileHandleCache } from './file-handle-cache.js'

export const PARTITION_METADATA_FILE = 'partition.metadata'
const VERSION = 0

/** The topic id the directory was written for, or null when it names none (new, or from before the file). */
export async function readPartitionTopicId(dir: string, files?: FileHandleCache): Promise<string | null> {
  const bytes = await readFileIfExists(path.join(dir, PARTITION_METADATA_FILE), files)
  if (bytes === null) return null
  const match = /^version: (\d+)\ntopic_id: (\S+)\n?$/.exec(bytes.toString())
  return match === null || Number(match[1]) !== VERSION ? null : match[2]
}

export async function writePartitionTopicId(dir: string, topicId: string, files?: FileHandleCache): Promise<void> {
  await writeFileAtomic(path.join(dir, PARTITION_METADATA_FILE), `version: ${VERSION}\ntopic_id: ${topicId}\n`, false, files)
}
