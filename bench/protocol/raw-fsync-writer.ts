/**
 * One writer of durability.ts's parallelRawFsync, on a worker thread of its own: rawFsyncBaseline
 * with the input it is given, its figures posted back.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { rawFsyncBaseline, type RawFsyncWriterInput } from './durability.js'

const input = workerData as RawFsyncWriterInput
parentPort?.postMessage(rawFsyncBaseline(Buffer.from(input.batch.buffer, input.batch.byteOffset, input.batch.byteLength), input.recordsPerBatch, input.recordsPerSync, input.seconds, input.dir))
