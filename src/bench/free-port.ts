import { createServer } from 'node:net'

/**
 * A TCP port on 127.0.0.1 that is free now, for a peer or a broker that must listen where its
 * clients already point (a process restarted on the same port, a peer given its port on the
 * command line). Another process may take it before it is used; callers start at once.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}
