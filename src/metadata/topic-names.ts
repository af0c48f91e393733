/** Kafka's rule: 1..249 characters from [a-zA-Z0-9._-], and not "." or "..". */
const legalTopicName = /^[a-zA-Z0-9._-]+$/
export const TOPIC_NAME_LENGTH_MAX = 249

/** Returns null for a legal topic name, else a message for INVALID_TOPIC_EXCEPTION (17). */
export function topicNameProblem(name: string): string | null {
  if (name.length === 0) return 'Topic name is illegal, it can\'t be empty'
  if (name === '.' || name === '..') return 'Topic name cannot be "." or ".."'
  if (name.length > TOPIC_NAME_LENGTH_MAX) {
    return `Topic name is illegal, it can't be longer than ${TOPIC_NAME_LENGTH_MAX} characters`
  }
  if (!legalTopicName.test(name)) {
    return `Topic name "${name}" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'`
  }
  return null
}

/** Kafka's internal topic of committed offsets and group metadata. */
export const OFFSETS_TOPIC = '__consumer_offsets'

/** Kafka's internal topic of transaction coordinators' state. */
export const TXN_STATE_TOPIC = '__transaction_state'

/** Topics the broker keeps for itself: clients may read them, never write or create them. */
export function isInternalTopic(name: string): boolean {
  return name === OFFSETS_TOPIC || name === TXN_STATE_TOPIC
}

/** Names starting with "__" are reserved for internal topics: a client may not create one. */
export function isReservedTopicName(name: string): boolean {
  return name.startsWith('__')
}
