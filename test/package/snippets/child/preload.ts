import { Server } from 'node:net'

/**
 * Loaded before a documentation snippet runs (`node --import tsx --import preload`). Every
 * server the snippet starts listens on 127.0.0.1 port 0, whatever port the docs name, and the
 * port is sent to the test over the IPC channel. The channel itself keeps nothing alive, so a
 * snippet that does not listen ends when its work does.
 */

/** Marks a server the test harness started itself, whose port is not the snippet's. */
const FIXTURE_SERVER = Symbol.for('taskwire.snippet.fixture-server')

const listen = Server.prototype.listen

function listenOnAnyPort(this: Server, ...args: unknown[]): Server {
  if ((this as unknown as Record<symbol, unknown>)[FIXTURE_SERVER]) return listen.apply(this, args as never)
  const callback = args.find((arg) => typeof arg === 'function') as (() => void) | undefined
  this.once('listening', () => {
    const address = this.address()
    if (address !== null && typeof address === 'object') process.send?.({ listening: address.port })
  })
  const listenOn = listen as (this: Server, port: number, host: string, callback?: () => void) => Server
  return listenOn.call(this, 0, '127.0.0.1', callback)
}

Server.prototype.listen = listenOnAnyPort as typeof Server.prototype.listen
process.channel?.unref()
