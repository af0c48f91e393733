/**
 * A strict reader of the Prometheus text format for tests: every sample line must belong to a
 * family announced by `# HELP` and `# TYPE` before it, and parse as name{labels} value.
 */
export interface ParsedSample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface ParsedFamily {
  name: string
  type: string
  help: string
  samples: ParsedSample[]
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y

export function parsePrometheus(text: string): Map<string, ParsedFamily> {
  const families = new Map<string, ParsedFamily>()
  let current: ParsedFamily | null = null
  for (const line of text.split('\n')) {
    if (line === '') continue
    const help = /^# HELP (\S+) (.*)$/.exec(line)
    if (help !== null) {
      if (families.has(help[1])) throw new Error(`family ${help[1]} announced twice`)
      current = { name: help[1], type: '', help: help[2], samples: [] }
      families.set(current.name, current)
      continue
    }
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line)
    if (type !== null) {
      if (current?.name !== type[1]) throw new Error(`TYPE ${type[1]} without its HELP`)
      current.type = type[2]
      continue
    }
    const sample = SAMPLE.exec(line)
    if (sample === null) throw new Error(`unparsable line: ${line}`)
    if (current === null || !(sample[1] === current.name || (current.type === 'histogram' && /^(.*)_(bucket|sum|count)$/.exec(sample[1])?.[1] === current.name))) {
      throw new Error(`sample ${sample[1]} outside its family`)
    }
    const labels: Record<string, string> = {}
    const body = sample[3] ?? ''
    LABEL.lastIndex = 0
    while (LABEL.lastIndex < body.length) {
      const match = LABEL.exec(body)
      if (match === null) throw new Error(`unparsable labels: ${body}`)
      labels[match[1]] = match[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\')
    }
    const value = sample[4] === '+Inf' ? Infinity : Number(sample[4])
    if (Number.isNaN(value) && sample[4] !== 'NaN') throw new Error(`bad value in: ${line}`)
    current.samples.push({ name: sample[1], labels, value })
  }
  return families
}

/** The value of the one sample of `family` whose labels include `labels`. */
export function valueOf(families: Map<string, ParsedFamily>, family: string, labels: Record<string, string> = {}, name = family): number {
  const f = families.get(family)
  if (f === undefined) throw new Error(`no family ${family}`)
  const matches = f.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  if (matches.length !== 1) throw new Error(`${matches.length} samples of ${name} match ${JSON.stringify(labels)}`)
  return matches[0].value
}
