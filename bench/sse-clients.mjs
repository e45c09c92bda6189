// Opens `count` SSE connections to `url` and reports, over IPC, when every connection has
// received `events` data lines. Runs in its own process so the clients' parsing does not
// share the server's event loop.
import { request } from 'node:http'

const [url, countArg, eventsArg] = process.argv.slice(2)
const count = Number(countArg)
const events = Number(eventsArg)
const agent = new (await import('node:http')).Agent({ keepAlive: false, maxSockets: count })
const received = new Array(count).fill(0)
let connected = 0
let done = 0

for (let i = 0; i < count; i++) {
  const req = request(url, { agent, headers: { accept: 'text/event-stream' } }, (res) => {
    res.setEncoding('utf8')
    let carry = ''
    if (++connected === count) process.send?.({ kind: 'ready' })
    res.on('data', (chunk) => {
      const text = carry + chunk
      let at = text.indexOf('data:')
      while (at !== -1) {
        received[i]++
        at = text.indexOf('data:', at + 5)
      }
      // Keep the tail so a `data:` split across two chunks is counted once.
      carry = text.slice(-4).includes('d') ? text.slice(text.lastIndexOf('d')) : ''
      if (carry.startsWith('data:')) carry = ''
      if (received[i] === events && ++done === count) process.send?.({ kind: 'done' })
    })
  })
  req.on('error', (error) => process.send?.({ kind: 'error', message: String(error) }))
  req.end()
}

process.on('message', (message) => {
  if (message === 'exit') process.exit(0)
})
