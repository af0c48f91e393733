/** A CPU task for the runtime's tests (compiled to dist/): answers its thread's V8 resource limits. */
import { resourceLimits, type ResourceLimits } from 'node:worker_threads'

export default function readResourceLimits(): ResourceLimits {
  return { ...resourceLimits }
}
