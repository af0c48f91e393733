/**
 * The bench's Redis client against a stand-in server on 127.0.0.1 that answers in pieces: replies
 * split anywhere (one byte at a time) still come back whole and in order.
 */
import { createServer, type Server } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { command, RespConnection, RespError } from '../../src/bench/peers/resp.js'

let server: Server | null = null

afterEach(async () => {
  await new Promise<void>((resolve) => (server === null ? resolve() : server.close(() => resolve())))
  server = null
})

/** A server that answers the first command it gets with `reply`, written one byte at a time. */
async function serverAnswering(reply: string): Promise<number> {
  server = createServer((socket) => {
    socket.once('data', async () => {
      for (const byte of Buffer.from(reply)) {
        await new Promise<void>((resolve) => socket.write(Buffer.from([byte]), () => resolve()))
      }
    })
  })
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()))
  const address = server.address()
  return typeof address === 'object' && address !== null ? address.port : 0
}

describe('the bench RESP client', () => {
  it('encodes a command as an array of bulk strings', () => {
    expect(command('XADD', 's', '*', 'v', Buffer.from('ab')).toString()).toBe('*5\r\n$4\r\nXADD\r\n$1\r\ns\r\n$1\r\n*\r\n$1\r\nv\r\n$2\r\nab\r\n')
  })

  it('reads pipelined replies of every type split into single bytes, in order', async () => {
    const port = await serverAnswering('+OK\r\n:42\r\n$3\r\nabc\r\n$-1\r\n*2\r\n*2\r\n$1\r\nk\r\n*0\r\n$2\r\nid\r\n:-7\r\n$12\r\n1733150000-0\r\n')
    const redis = await RespConnection.open(port)
    const replies = await redis.send(command('PING'), 7)
    expect(replies).toEqual(['OK', 42, Buffer.from('abc'), null, [[Buffer.from('k'), []], Buffer.from('id')], -7, Buffer.from('1733150000-0')])
    await redis.close()
  })

  it('rejects a pipeline holding an error reply with that error', async () => {
    const port = await serverAnswering('+OK\r\n-BUSYGROUP Consumer Group name already exists\r\n')
    const redis = await RespConnection.open(port)
    const failed = redis.send(command('PING'), 2)
    await expect(failed).rejects.toThrow(RespError)
    await expect(failed).rejects.toThrow('BUSYGROUP Consumer Group name already exists')
    await redis.close()
  })
})
