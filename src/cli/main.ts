#!/usr/bin/env node
/**
 * `partita`: the command line. `start` runs a broker in the foreground; the other commands talk to
 * a running broker over the Kafka protocol, like Kafka's own scripts do.
 */
import { Command } from 'commander'
import { registerStart } from './start.js'

export function buildProgram(): Command {
  const program = new Command()
  program.name('partita').description('A Kafka-compatible message broker for Node.js, on one box').version('0.1.0')
  program.showHelpAfterError()
  registerStart(program)
  return program
}


buildProgram()
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    console.error(`partita: ${error instanceof Error ? error.message : String(error)}`)
    process.exit(1)
  })
