/**
 * `node --heapsnapshot-signal=SIGUSR2 dist/src/cli/main.js start`: on that signal Node writes a
 * heap snapshot of the main thread only, and most of a broker's heap lives on its shards. So
 * `partita start` answers the same signal with a snapshot of every shard, in the directory where
 * Node writes its own (`--diagnostic-dir`, else the working directory).
 */

export interface HeapSnapshotSettings {
  signal: NodeJS.Signals
  dir: string
}

/** The flag's value from node's options (`--flag=value` or `--flag value`), the last one winning. */
function optionValue(options: readonly string[], name: string): string | null {
  let value: string | null = null
  // Bounded by the options.
  for (let i = 0; i < options.length; i++) {
    const option = options[i].replaceAll('_', '-')
    if (option.startsWith(`${name}=`)) value = options[i].slice(name.length + 1)
    else if (option === name && i + 1 < options.length) value = options[++i]
  }
  return value
}

/** What node's own options (its command line, then NODE_OPTIONS) say about heap snapshots on a signal; null when none. */
export function heapSnapshotSettings(execArgv: readonly string[], nodeOptions: string | undefined, cwd: string): HeapSnapshotSettings | null {
  const options = [...(nodeOptions ?? '').split(/\s+/).filter((o) => o !== ''), ...execArgv]
  const signal = optionValue(options, '--heapsnapshot-signal')
  if (signal === null || !/^SIG[A-Z0-9]+$/.test(signal)) return null
  return { signal: signal as NodeJS.Signals, dir: optionValue(options, '--diagnostic-dir') ?? cwd }
}
