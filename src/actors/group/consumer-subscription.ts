/**
 * The topics in a consumer's group-protocol metadata (Kafka's ConsumerProtocolSubscription: a
 * version, then the topic names; later fields are not needed here). The coordinator reads them
 * only to refuse OffsetDelete on a topic a live group consumes (GROUP_SUBSCRIBED_TO_TOPIC), as
 * Kafka's GroupMetadata.isSubscribedToTopic does. The client's assignors write and read the whole
 * structure (src/client/assignors.ts); the coordinator may not import the client, so it reads
 * this prefix itself.
 */

/** The subscribed topics, or null when the metadata is not a consumer subscription it can read. */
export function subscribedTopics(metadata: Buffer): string[] | null {
  if (metadata.length < 6) return null
  let pos = 2 // version
  const count = metadata.readInt32BE(pos)
  pos += 4
  if (count < 0 || count > metadata.length) return null
  const topics: string[] = []
  for (let i = 0; i < count; i++) {
    if (pos + 2 > metadata.length) return null
    const length = metadata.readInt16BE(pos)
    pos += 2
    if (length < 0 || pos + length > metadata.length) return null
    topics.push(metadata.toString('utf8', pos, pos + length))
    pos += length
  }
  return topics
}
