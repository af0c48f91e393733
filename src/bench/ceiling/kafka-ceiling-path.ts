/**
 * Where the compiled Kafka ceiling server is, for whoever spawns it (`partita bench --peer
 * kafka-ceiling`, bench:protocol). The server is a script that listens once loaded, so it is
 * started as a process, never imported.
 */
import { fileURLToPath } from 'node:url'
import { compiledUrl } from '../../runtime/compiled-url.js'

export const KAFKA_CEILING_SERVER = fileURLToPath(compiledUrl(import.meta.url, './kafka-ceiling-server.js'))
