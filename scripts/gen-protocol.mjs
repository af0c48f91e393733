#!/usr/bin/env node
// Generates src/protocol/generated/*.ts from Apache Kafka's message grammar
// (../shared/kafka-protocol/message/*.json, resolved from the repository root). The output is
// committed, so a checkout never needs ../shared; rerun with `npm run gen:protocol` after adding an
// API to the list below (one line each: the JSON's name without Request/Response).
//
// Every struct gets one read and one write function that take the message version, as Kafka's own
// generated Java does: version checks are cheap branches, and one function per struct keeps the
// output small enough to read. Decoders build each object with one literal in wire order (stable
// shapes for V8); encoders take `Input<T>` (everything optional) and write defaults for what is
// missing.
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const APIS = [
  'Produce',
  'Fetch',
  'ListOffsets',
  'Metadata',
  'OffsetCommit',
  'OffsetFetch',
  'FindCoordinator',
  'JoinGroup',
  'Heartbeat',
  'LeaveGroup',
  'SyncGroup',
  'DescribeGroups',
  'ListGroups',
  'SaslHandshake',
  'ApiVersions',
  'CreateTopics',
  'DeleteTopics',
  'DeleteRecords',
  'InitProducerId',
  'DescribeConfigs',
  'AlterConfigs',
  'CreatePartitions',
  'DeleteGroups',
  'IncrementalAlterConfigs',
  'OffsetForLeaderEpoch',
  'DescribeLogDirs',
  'ElectLeaders',
  'AlterPartitionReassignments',
  'ListPartitionReassignments',
  'OffsetDelete',
  'DescribeProducers',
  'DescribeCluster',
  'AddPartitionsToTxn',
  'AddOffsetsToTxn',
  'EndTxn',
  'WriteTxnMarkers',
  'TxnOffsetCommit',
  'DescribeTransactions',
  'ListTransactions',
]

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
// KAFKA_PROTOCOL_DIR points elsewhere (a git worktree sits one level deeper than the checkout).
const messageDir = process.env.KAFKA_PROTOCOL_DIR ?? resolve(root, '../shared/kafka-protocol/message')
const outDir = join(root, 'src/protocol/generated')
const VERSION_MAX = 0x7fff

// ---------------------------------------------------------------------------------------------
// Reading the JSON

/** Drops `//` comments outside string literals; the JSON files use them freely. */
function stripComments(text) {
  let out = ''
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (inString) {
      out += c
      if (c === '\\') out += text[++i]
      else if (c === '"') inString = false
    } else if (c === '"') {
      inString = true
      out += c
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++
      out += '\n'
    } else out += c
  }
  return out
}

function loadMessage(name) {
  return JSON.parse(stripComments(readFileSync(join(messageDir, `${name}.json`), 'utf8')))
}

/** "3+" -> [3, max], "0-4" -> [0, 4], "5" -> [5, 5], "none" or undefined -> null. */
function parseRange(spec) {
  if (spec === undefined || spec === 'none') return null
  const s = String(spec).trim()
  if (s.endsWith('+')) return [Number(s.slice(0, -1)), VERSION_MAX]
  const dash = s.indexOf('-')
  if (dash > 0) return [Number(s.slice(0, dash)), Number(s.slice(dash + 1))]
  return [Number(s), Number(s)]
}

const intersect = (a, b) => (a && b && Math.max(a[0], b[0]) <= Math.min(a[1], b[1]) ? [Math.max(a[0], b[0]), Math.min(a[1], b[1])] : null)
const rangeText = (r) => (r === null ? 'none' : r[1] === VERSION_MAX ? `${r[0]}+` : r[0] === r[1] ? `${r[0]}` : `${r[0]}-${r[1]}`)

/** Versions where a field is written inline (present and not tagged); tagged ranges are open-ended. */
function inlineRange(field) {
  if (field.versions === null) return null
  if (field.tagged === null) return field.versions
  return intersect(field.versions, [0, field.tagged[0] - 1])
}

// ---------------------------------------------------------------------------------------------
// The model

const PRIMITIVES = {
  bool: { ts: 'boolean', method: 'bool', item: 'Bool' },
  int8: { ts: 'number', method: 'int8', item: 'Int8' },
  int16: { ts: 'number', method: 'int16', item: 'Int16' },
  uint16: { ts: 'number', method: 'uint16', item: 'Uint16' },
  int32: { ts: 'number', method: 'int32', item: 'Int32' },
  uint32: { ts: 'number', method: 'uint32', item: 'Uint32' },
  int64: { ts: 'number', method: 'int64', item: 'Int64' },
  float64: { ts: 'number', method: 'float64', item: 'Float64' },
  uuid: { ts: 'string', method: 'uuid', item: 'Uuid' },
  string: { ts: 'string', method: 'string', item: 'String', sized: true },
  bytes: { ts: 'Buffer', method: 'bytes', item: 'Bytes', sized: true },
  records: { ts: 'Buffer', method: 'records', sized: true },
}

const tsString = (s) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
const camel = (name) => name[0].toLowerCase() + name.slice(1)
const kebab = (name) => name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase()

/** Builds the message model: normalized fields, and every struct by its TypeScript name. */
function buildMessage(json) {
  const structs = new Map()
  const common = new Map((json.commonStructs ?? []).map((s) => [s.name, s]))
  const validVersions = parseRange(json.validVersions)

  function normField(f, domain) {
    const array = f.type.startsWith('[]')
    const base = array ? f.type.slice(2) : f.type
    const kind = base in PRIMITIVES ? base : 'struct'
    const field = {
      jsonName: f.name,
      name: camel(f.name),
      typeText: f.type,
      array,
      kind,
      versions: intersect(parseRange(f.versions), validVersions),
      nullable: parseRange(f.nullableVersions),
      tagged: parseRange(f.taggedVersions),
      tag: f.tag ?? null,
      flexibleOverride: 'flexibleVersions' in f ? parseRange(f.flexibleVersions) : undefined,
      rawDefault: f.default,
      struct: null,
    }
    if (field.tagged !== null && field.tagged[1] !== VERSION_MAX) throw new Error(`${json.name}.${f.name}: tagged versions must be open-ended`)
    if (kind === 'struct') {
      const def = f.fields ? f : common.get(base)
      if (!def) throw new Error(`${json.name}.${f.name}: unknown struct type ${base}`)
      field.struct = addStruct(base, def.fields, intersect(field.versions, domain))
    }
    return field
  }

  function addStruct(jsonName, fields, domain) {
    const tsName = json.name + jsonName
    const existing = structs.get(tsName)
    if (existing) {
      // A common struct used in several places: widen its domain to the hull of all uses, and its
      // nested structs' with it (they were made for the first use's versions only).
      if (domain) {
        const before = existing.domain
        existing.domain = before ? [Math.min(before[0], domain[0]), Math.max(before[1], domain[1])] : domain
        if (before === null || before === undefined || before[0] !== existing.domain[0] || before[1] !== existing.domain[1]) existing.fields = fields.map((f) => normField(f, existing.domain))
      }
      return existing
    }
    const struct = { tsName, jsonName, domain, fields: [] }
    structs.set(tsName, struct)
    struct.fields = fields.map((f) => normField(f, domain))
    return struct
  }

  const top = addStruct('', json.fields, validVersions)
  return {
    name: json.name,
    apiKey: json.apiKey,
    type: json.type,
    validVersions,
    flexible: parseRange(json.flexibleVersions),
    top,
    structs,
  }
}

// ---------------------------------------------------------------------------------------------
// Expressions

/** A condition on `version` for "version in range", simplified over the versions the code can see. */
function cond(range, domain) {
  const hit = intersect(range, domain)
  if (hit === null) return 'false'
  if (hit[0] === domain[0] && hit[1] === domain[1]) return 'true'
  const parts = []
  if (hit[0] > domain[0]) parts.push(`version >= ${hit[0]}`)
  if (hit[1] < domain[1]) parts.push(`version <= ${hit[1]}`)
  return parts.join(' && ')
}

function pick(c, a, b) {
  if (c === 'true') return a
  if (c === 'false') return b
  if (a === b) return a
  return `(${c} ? ${a} : ${b})`
}

function tsType(field) {
  let t = field.kind === 'struct' ? field.struct.tsName : PRIMITIVES[field.kind].ts
  if (field.array) t = `${t}[]`
  return isNullableType(field) ? `${t} | null` : t
}

function isNullableType(field) {
  return field.kind === 'records' || intersect(field.nullable, field.versions) !== null || field.rawDefault === 'null'
}

function parseDefault(field) {
  const d = field.rawDefault
  if (field.array) return d === 'null' ? null : 'empty'
  switch (field.kind) {
    case 'struct':
      return d === 'null' ? null : 'empty'
    case 'records':
      return null
    case 'bytes':
      return d === 'null' ? null : 'empty'
    case 'string':
      return d === undefined ? '' : d === 'null' && isNullableType(field) ? null : d
    case 'uuid':
      return 'AAAAAAAAAAAAAAAAAAAAAA'
    case 'bool':
      return d === true || d === 'true'
    default: {
      if (d === undefined) return 0
      const n = Number(d)
      if (!Number.isFinite(n)) throw new Error(`bad default ${d} for ${field.jsonName}`)
      return n
    }
  }
}

/** The decoded default value as TypeScript. */
function defaultExpr(field, forInput = false) {
  const d = parseDefault(field)
  if (d === null) return 'null'
  if (field.array) return '[]'
  switch (field.kind) {
    case 'struct':
      return forInput ? '{}' : `default${field.struct.tsName}()`
    case 'bytes':
      return 'EMPTY_BYTES'
    case 'uuid':
      return 'ZERO_UUID'
    case 'string':
      return tsString(d)
    default:
      return String(d)
  }
}

/** Which `flexible` expression applies to a field within `domain`. */
function flexCond(field, message, domain) {
  if (field.flexibleOverride !== undefined) return cond(field.flexibleOverride, domain)
  const c = cond(message.flexible, domain)
  return c === 'true' || c === 'false' ? c : 'flexible'
}

const sizedMethod = (base, compact, nullable) => {
  const cap = base[0].toUpperCase() + base.slice(1)
  if (compact) return nullable ? `compactNullable${cap}` : `compact${cap}`
  return nullable ? `nullable${cap}` : base
}

function itemFn(field, flex, dir) {
  const prefix = dir === 'read' ? 'read' : 'write'
  if (field.kind === 'struct') return `${prefix}${field.struct.tsName}`
  const p = PRIMITIVES[field.kind]
  if (!p.item) throw new Error(`arrays of ${field.kind} are not supported`)
  if (!p.sized) return `${prefix}${p.item}Item`
  return pick(flex, `${prefix}Compact${p.item}Item`, `${prefix}${p.item}Item`)
}

/** The expression that reads `field` from `r` in versions `domain`. */
function readExpr(field, message, domain, flexOverride) {
  const flex = flexOverride ?? flexCond(field, message, domain)
  const nul = cond(field.nullable, domain)
  if (field.array) {
    const item = itemFn(field, flex, 'read')
    const call = (compact, nullable) => `r.${sizedMethod('array', compact, nullable)}(${item}, version)`
    return pick(flex, pick(nul, call(true, true), call(true, false)), pick(nul, call(false, true), call(false, false)))
  }
  if (field.kind === 'struct') {
    const fn = `read${field.struct.tsName}`
    return pick(nul, `r.nullableStruct(${fn}, version)`, `${fn}(r, version)`)
  }
  const p = PRIMITIVES[field.kind]
  if (!p.sized) return `r.${p.method}()`
  const call = (compact, nullable) => `r.${sizedMethod(p.method, compact, nullable)}()`
  return pick(flex, pick(nul, call(true, true), call(true, false)), pick(nul, call(false, true), call(false, false)))
}

/** Like pick, for statements: a statement must not start with '(' (ASI would join it to the line above). */
function pickStatement(c, a, b) {
  if (c === 'true') return a
  if (c === 'false') return b
  if (a === b) return a
  return `if (${c}) { ${a} } else { ${b} }`
}

/** The statement that writes `x` (the field's value) to writer `w` in versions `domain`. */
function writeExpr(field, message, domain, w, x, flexOverride) {
  const flex = flexOverride ?? flexCond(field, message, domain)
  const nul = cond(field.nullable, domain)
  let call
  if (field.array) {
    const item = itemFn(field, flex, 'write')
    call = (compact, nullable) => `${w}.${sizedMethod('array', compact, nullable)}(${x}, ${item}, version)`
  } else if (field.kind === 'struct') {
    const fn = `write${field.struct.tsName}`
    return pickStatement(nul, `${w}.nullableStruct(${x}, ${fn}, version)`, `${fn}(${w}, ${x}, version)`)
  } else {
    const p = PRIMITIVES[field.kind]
    if (!p.sized) return `${w}.${p.method}(${x})`
    call = (compact, nullable) => `${w}.${sizedMethod(p.method, compact, nullable)}(${x})`
  }
  return pickStatement(
    flex,
    pickStatement(nul, call(true, true), call(true, false)),
    pickStatement(nul, call(false, true), call(false, false)),
  )
}

/** A test that `x` differs from the field's default (tagged fields are written only then). */
function nonDefaultExpr(field, x) {
  const d = parseDefault(field)
  if (d === null) return `${x} !== null`
  if (field.array || field.kind === 'bytes') return `(${x} === null || ${x}.length !== 0)`
  if (field.kind === 'struct') return `!isDefault${field.struct.tsName}(${x})`
  if (field.kind === 'uuid') return `${x} !== ZERO_UUID`
  return `${x} !== ${typeof d === 'string' ? tsString(d) : String(d)}`
}

// ---------------------------------------------------------------------------------------------
// Emitting one message

function fieldComment(field, depth) {
  const extra = []
  if (field.nullable) extra.push(`nullable ${rangeText(field.nullable)}`)
  if (field.tagged) extra.push(`tag ${field.tag} in ${rangeText(field.tagged)}`)
  if (field.flexibleOverride !== undefined) extra.push(`flexible ${rangeText(field.flexibleOverride)}`)
  if (field.rawDefault !== undefined) extra.push(`default ${JSON.stringify(field.rawDefault)}`)
  const head = `${'  '.repeat(depth)}${field.jsonName}: ${field.typeText}`
  const line = `//   ${head.padEnd(44)} v${rangeText(field.versions)}${extra.length ? '  ' + extra.join(', ') : ''}`
  const lines = [line.trimEnd()]
  if (field.kind === 'struct') for (const f of field.struct.fields) lines.push(...fieldComment(f, depth + 1))
  return lines
}

function schemaLiteral(fields, indent) {
  const pad = '  '.repeat(indent)
  const parts = fields.map((f) => {
    const obj = {
      name: f.name,
      kind: f.kind,
      array: f.array,
      versions: f.versions,
      nullable: f.nullable,
      tagged: f.tagged,
      tag: f.tag,
      ...(f.flexibleOverride !== undefined ? { flexible: f.flexibleOverride } : {}),
      default: parseDefault(f),
    }
    const head = JSON.stringify(obj).replace(/}$/, '').replace(/"(\w+)":/g, '$1: ').replace(/,(?=\w+: )/g, ', ')
    if (f.kind !== 'struct') return `${pad}{ ${head.slice(1)} }`
    return `${pad}{ ${head.slice(1)}, fields: [\n${schemaLiteral(f.struct.fields, indent + 1)}\n${pad}] }`
  })
  return parts.join(',\n')
}

function emitMessage(message, out, needDefault, needIsDefault) {
  const topName = message.name
  const vv = message.validVersions
  out.push(`// ${topName}: versions ${rangeText(vv)}, flexible ${rangeText(message.flexible)}. Wire grammar (from ${topName}.json):`)
  for (const f of message.top.fields) out.push(...fieldComment(f, 0))
  out.push('')

  // Types first, top level then nested structs.
  for (const struct of message.structs.values()) {
    out.push(`export interface ${struct.tsName} {`)
    for (const f of struct.fields) out.push(`  ${f.name}: ${tsType(f)}`)
    out.push('}', '')
  }

  for (const struct of message.structs.values()) {
    const isTop = struct === message.top
    const domain = struct.domain ?? vv
    const readName = isTop ? `decode${topName}` : `read${struct.tsName}`
    const writeName = isTop ? `encode${topName}` : `write${struct.tsName}`
    const flexVar = cond(message.flexible, domain)
    const usesFlexible = flexVar !== 'true' && flexVar !== 'false'
    const taggedFields = struct.fields
      .filter((f) => f.tagged !== null && intersect(intersect(f.tagged, f.versions), domain) !== null)
      .sort((a, b) => a.tag - b.tag)

    // Decoder.
    const r = []
    r.push(`${isTop ? 'export ' : ''}function ${readName}(r: Reader, version: number): ${struct.tsName} {`)
    if (isTop) r.push(`  if (version < ${vv[0]} || version > ${vv[1]}) throw parseError(\`${topName} version \${version} is outside ${rangeText(vv)}\`)`)
    if (usesFlexible) r.push(`  const flexible = ${flexVar}`)
    const literal = struct.fields.map((f) => {
      const inl = intersect(inlineRange(f), domain)
      const present = cond(inl, domain)
      const value = present === 'false' ? defaultExpr(f) : pick(present, readExpr(f, message, inl), defaultExpr(f))
      return `    ${f.name}: ${value},`
    })
    const hasTagSection = flexVar !== 'false'
    if (struct.fields.length === 0) r.push(`  const o: ${struct.tsName} = {}`)
    else r.push(`  const o: ${struct.tsName} = {`, ...literal, '  }')
    if (hasTagSection) {
      const open = flexVar === 'true' ? '  {' : '  if (flexible) {'
      if (taggedFields.length === 0) r.push(`${open}`, '    r.skipTaggedFields()', '  }')
      else {
        r.push(open, '    for (let n = r.uvarint(); n > 0; n--) {', '      const tag = r.uvarint()', '      const end = r.taggedEnd()', '      switch (tag) {')
        for (const f of taggedFields) {
          const tdom = intersect(intersect(f.tagged, f.versions), domain)
          const c = cond(tdom, domain)
          r.push(`        case ${f.tag}:`)
          r.push(`          if (${c}) {`)
          r.push(`            o.${f.name} = ${readExpr(f, message, tdom, 'true')}`)
          r.push(`            r.expectTaggedEnd(end, ${f.tag})`, '            continue', '          }', '          break')
        }
        r.push('      }', '      r.offset = end', '    }', '  }')
      }
    }
    r.push('  return o', '}', '')

    // Encoder.
    const w = []
    w.push(`${isTop ? 'export ' : ''}function ${writeName}(w: Writer, v: Input<${struct.tsName}>, version: number): void {`)
    if (isTop) w.push(`  if (version < ${vv[0]} || version > ${vv[1]}) throw encodeError(\`${topName} version \${version} is outside ${rangeText(vv)}\`)`)
    if (usesFlexible) w.push(`  const flexible = ${flexVar}`)
    for (const f of struct.fields) {
      const inl = intersect(inlineRange(f), domain)
      const present = cond(inl, domain)
      if (present === 'false') continue
      const body = [
        `const x = v.${f.name} === undefined ? ${defaultExpr(f, true)} : v.${f.name}`,
        writeExpr(f, message, inl, 'w', 'x'),
      ]
      if (present === 'true') w.push('  {', ...body.map((s) => `    ${s}`), '  }')
      else w.push(`  if (${present}) {`, ...body.map((s) => `    ${s}`), '  }')
    }
    if (hasTagSection) {
      const open = flexVar === 'true' ? '  {' : '  if (flexible) {'
      if (taggedFields.length === 0) w.push(open, '    w.uvarint(0)', '  }')
      else {
        w.push(open)
        for (const f of taggedFields) {
          const tdom = intersect(intersect(f.tagged, f.versions), domain)
          const c = cond(tdom, domain)
          const x = `t${f.tag}`
          w.push(`    const ${x} = v.${f.name} === undefined ? ${defaultExpr(f, true)} : v.${f.name}`)
          w.push(`    const has${f.tag} = ${c === 'true' ? '' : `${c} && `}${nonDefaultExpr(f, x)}`)
          if (f.kind === 'struct' && !f.array) needIsDefault.add(f.struct)
        }
        w.push(`    w.uvarint(${taggedFields.map((f) => `(has${f.tag} ? 1 : 0)`).join(' + ')})`)
        for (const f of taggedFields) {
          const tdom = intersect(intersect(f.tagged, f.versions), domain)
          w.push(`    if (has${f.tag}) w.tagged(${f.tag}, (t) => { ${writeExpr(f, message, tdom, 't', `t${f.tag}`, 'true')} })`)
        }
        w.push('  }')
      }
    }
    w.push('}', '')

    out.push(...r, ...w)
    for (const f of struct.fields) if (f.kind === 'struct' && !f.array) needDefault.add(f.struct)
  }
}

/** default<T>() and isDefault<T>() for structs used as single (non-array) fields. */
function emitDefaults(needDefault, needIsDefault, out) {
  const seen = new Set()
  const queue = [...needDefault]
  while (queue.length > 0) {
    const s = queue.shift()
    if (seen.has(s)) continue
    seen.add(s)
    out.push(`function default${s.tsName}(): ${s.tsName} {`)
    out.push(`  return { ${s.fields.map((f) => `${f.name}: ${defaultExpr(f)}`).join(', ')} }`, '}', '')
    for (const f of s.fields) if (f.kind === 'struct' && !f.array) queue.push(f.struct)
  }
  const seenIs = new Set()
  const queueIs = [...needIsDefault]
  while (queueIs.length > 0) {
    const s = queueIs.shift()
    if (seenIs.has(s)) continue
    seenIs.add(s)
    const terms = s.fields.map((f) => `(v.${f.name} === undefined || !(${nonDefaultExpr(f, `v.${f.name}`)}))`)
    out.push(`function isDefault${s.tsName}(v: Input<${s.tsName}>): boolean {`)
    out.push(`  return ${terms.length ? terms.join(' &&\n    ') : 'true'}`, '}', '')
    for (const f of s.fields) if (f.kind === 'struct' && !f.array) queueIs.push(f.struct)
  }
}

function emitApiModule(api) {
  const request = buildMessage(loadMessage(`${api}Request`))
  const response = buildMessage(loadMessage(`${api}Response`))
  if (request.apiKey !== response.apiKey) throw new Error(`${api}: request and response api keys differ`)
  const rv = request.validVersions
  const sv = response.validVersions
  if (rv[0] !== sv[0] || rv[1] !== sv[1]) throw new Error(`${api}: request and response versions differ`)

  const body = []
  const needDefault = new Set()
  const needIsDefault = new Set()
  emitMessage(request, body, needDefault, needIsDefault)
  emitMessage(response, body, needDefault, needIsDefault)
  emitDefaults(needDefault, needIsDefault, body)

  for (const m of [request, response]) {
    body.push(`export const ${camel(m.name)}Schema: MessageSchema = {`)
    body.push(`  name: '${m.name}', apiKey: ${m.apiKey}, type: '${m.type}', validVersions: [${m.validVersions.join(', ')}],`)
    body.push(`  flexibleVersions: ${m.flexible ? `[${m.flexible.join(', ')}]` : 'null'},`)
    body.push('  fields: [', schemaLiteral(m.top.fields, 2), '  ],', '}', '')
  }

  const flexMin = (m) => (m.flexible ? String(m.flexible[0]) : 'null')
  body.push(`export const ${api}Api: ApiDescriptor<${request.name}, ${response.name}> = {`)
  body.push(`  apiKey: ${request.apiKey},`, `  name: '${api}',`, `  minVersion: ${rv[0]},`, `  maxVersion: ${rv[1]},`)
  body.push(`  requestFlexibleMin: ${flexMin(request)},`, `  responseFlexibleMin: ${flexMin(response)},`)
  body.push(`  decodeRequest: decode${request.name},`, `  encodeRequest: encode${request.name},`)
  body.push(`  decodeResponse: decode${response.name},`, `  encodeResponse: encode${response.name},`)
  body.push(`  requestSchema: ${camel(request.name)}Schema,`, `  responseSchema: ${camel(response.name)}Schema,`, '}', '')

  const text = body.join('\n')
  const readerNames = ['Reader', 'parseError', 'EMPTY_BYTES', 'ZERO_UUID'].concat(
    [...new Set(text.match(/\bread\w+Item\b/g) ?? [])].sort(),
  )
  const writerNames = ['Writer', 'encodeError'].concat([...new Set(text.match(/\bwrite\w+Item\b/g) ?? [])].sort())
  const used = (name) => new RegExp(`\\b${name}\\b`).test(text)
  const head = [
    `// Generated by scripts/gen-protocol.mjs from ${api}Request.json and ${api}Response.json. Do not edit.`,
    `// int64 fields are numbers and uuids are base64url strings: see src/protocol/reader.ts.`,
    `import type { ApiDescriptor } from '../api-descriptor.js'`,
    `import type { MessageSchema } from '../schema.js'`,
    `import { ${readerNames.filter(used).join(', ')} } from '../reader.js'`,
    `import { ${writerNames.filter(used).join(', ')} } from '../writer.js'`,
    `import type { Input } from '../writer.js'`,
    '',
  ]
  return { file: `${kebab(api)}.ts`, text: head.join('\n') + text, request, response }
}

function emitIndex(modules) {
  const lines = ['// Generated by scripts/gen-protocol.mjs. Do not edit.']
  const sorted = [...modules].sort((a, b) => a.request.apiKey - b.request.apiKey)
  for (const m of sorted) {
    const api = m.request.name.replace(/Request$/, '')
    lines.push(`import { ${api}Api } from './${m.file.replace(/\.ts$/, '.js')}'`)
    lines.push(`import type { ${m.request.name}, ${m.response.name} } from './${m.file.replace(/\.ts$/, '.js')}'`)
  }
  for (const m of sorted) lines.push(`export * from './${m.file.replace(/\.ts$/, '.js')}'`)
  lines.push('', '/** Kafka API keys by name, for the APIs this package has codecs for. */', 'export const ApiKey = {')
  for (const m of sorted) lines.push(`  ${m.request.name.replace(/Request$/, '')}: ${m.request.apiKey},`)
  lines.push('} as const', '')
  lines.push('/** Every generated API descriptor, by name. */', 'export const Apis = {')
  for (const m of sorted) lines.push(`  ${m.request.name.replace(/Request$/, '')}: ${m.request.name.replace(/Request$/, '')}Api,`)
  lines.push('} as const', '')
  lines.push('/** Decoded request bodies by API key. */', 'export interface RequestByKey {')
  for (const m of sorted) lines.push(`  ${m.request.apiKey}: ${m.request.name}`)
  lines.push('}', '', '/** Decoded response bodies by API key. */', 'export interface ResponseByKey {')
  for (const m of sorted) lines.push(`  ${m.request.apiKey}: ${m.response.name}`)
  lines.push('}', '')
  return lines.join('\n')
}

function main() {
  const available = new Set(readdirSync(messageDir))
  for (const api of APIS) {
    for (const suffix of ['Request', 'Response']) {
      if (!available.has(`${api}${suffix}.json`)) throw new Error(`missing ${api}${suffix}.json in ${messageDir}`)
    }
  }
  rmSync(outDir, { recursive: true, force: true })
  mkdirSync(outDir, { recursive: true })
  const modules = APIS.map(emitApiModule)
  for (const m of modules) writeFileSync(join(outDir, m.file), m.text.replace(/[ \t]+$/gm, ''))
  writeFileSync(join(outDir, 'index.ts'), emitIndex(modules))
  console.log(`gen-protocol: wrote ${modules.length} API modules and index.ts to ${outDir}`)
}

main()
