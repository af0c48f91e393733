/**
 * A CPU task for the runtime's tests (compiled to dist/): schedules a setImmediate that announces,
 * on the BroadcastChannel named in its input, that its thread's event loop turned after the task.
 * That turn is where Node runs deferred work, such as the finalizers that free native addons' buffers.
 */
import { BroadcastChannel } from 'node:worker_threads'

export default function scheduleTurnNotice(input: { channel: string }): void {
  setImmediate(() => {
    const channel = new BroadcastChannel(input.channel)
    channel.postMessage('turned')
    channel.close()
  })
}
