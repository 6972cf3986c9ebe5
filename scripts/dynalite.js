#!/usr/bin/env node
// Starts dynalite (a DynamoDB-compatible server) on a loopback port and prints
// `listening <port>` once it accepts connections. Used by the test harness and the
// local stack. Options: --port N (0 = any free port), --path DIR (persist with LevelDB;
// in memory when absent). Exits when its standard input closes, so a parent that dies
// never leaves a server behind.
'use strict'
const dynalite = require('dynalite')

function option(name) {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1] : undefined
}

const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, path: option('path') })
server.listen(Number(option('port') || 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`)
})
process.stdin.on('end', () => process.exit(0))
process.stdin.on('error', () => process.exit(0))
process.stdin.resume()
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0))
