/** Per-thread CPU from /proc lives with the bench harness now (`partita bench` reports it too); the benches here keep their import path. */
export * from '../../src/bench/thread-cpu.js'
