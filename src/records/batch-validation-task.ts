/**
 * The piscina task that runs validateCompressedBatches on the CPU pool. Its answer is plain data
 * (an error code and message), since errors lose their class crossing threads.
 */
import { validateCompressedBatches, type BatchValidationInput, type BatchValidationVerdict } from './batch-validation.js'

export default function batchValidationTask(input: BatchValidationInput): BatchValidationVerdict {
  return validateCompressedBatches(input)
}
