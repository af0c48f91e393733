#!/usr/bin/env node
/**
 * `partita`: the command line. `start` runs a broker in the foreground; the other commands talk to
 * a running broker over the Kafka protocol, like Kafka's own scripts do.
 */
import { Command } from 'commander'
import { registerBench } from './bench.js'
import { registerCluster } from './cluster.js'
import { describeError } from './common.js'
import { registerConsume } from './consume.js'
import { registerGroups } from './groups.js'
import { registerProduce } from './produce.js'
import { registerStart } from './start.js'
import { registerTopics } from './topics.js'

export function buildProgram(): Command {
  const program = new Command()
  program.name('partita').description('A Kafka-compatible message broker for Node.js, on one box').version('0.1.0')
  // Usage mistakes print as one `partita: ...` line, like every other failure (--help shows usage).
  program.configureOutput({ outputError: (text, write) => write(`partita: ${text.replace(/^error: /, '')}`) })
  registerStart(program)
  registerTopics(program)
  registerProduce(program)
  registerConsume(program)
  registerGroups(program)
  registerCluster(program)
  registerBench(program)
  return program
}

buildProgram()
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    // One line, never a stack: the message names the Kafka error or the connection that failed.
    console.error(`partita: ${describeError(error).replace(/\s*\n\s*/g, ' ')}`)
    process.exit(1)
  })
