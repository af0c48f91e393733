#!/usr/bin/env node
// A small format and hygiene check that needs no extra dependency: it fails on focused or
// skipped tests, tabs, trailing white space, `any` without a comment that says why, and console
// calls in library code (src/ outside the CLI).
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'

const roots = ['src', 'test', 'bench', 'scripts']
const problems = []

function* walk(dir) {
  let entries
  try {
    entries = readdirSync(dir)
  } catch {
    return
  }
  for (const name of entries) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) yield* walk(path)
    else if (/\.(ts|mjs|js)$/.test(name)) yield path
  }
}

for (const root of roots) {
  for (const file of walk(root)) {
    // Generated codecs and this checker (whose patterns name what they look for) are exempt.
    const generated = file.includes('/generated/') || file.endsWith('lint.mjs')
    const lines = readFileSync(file, 'utf8').split('\n')
    lines.forEach((line, index) => {
      const where = `${file}:${index + 1}`
      if (/\t/.test(line)) problems.push(`${where}: tab character`)
      if (/\s+$/.test(line)) problems.push(`${where}: trailing white space`)
      if (/\b(it|test|describe)\.(only|skip|todo)\(/.test(line)) problems.push(`${where}: focused or skipped test`)
      // Library code logs through its Logger (an embedding service's own, or pino); only the CLI prints.
      if (file.startsWith('src') && !file.startsWith(join('src', 'cli')) && /\bconsole\.(log|warn|error|info|debug)\(/.test(line)) {
        problems.push(`${where}: console in library code (log through the Logger)`)
      }
      if (!generated && /:\s*any\b|as any\b|<any>/.test(line) && !/\/\/.*\S/.test(line) && !/\/\/.*\S/.test(lines[index - 1] ?? '')) {
        problems.push(`${where}: 'any' without a comment saying why`)
      }
    })
  }
}

if (problems.length > 0) {
  console.error(problems.join('\n'))
  console.error(`lint: ${problems.length} problem(s)`)
  process.exit(1)
}
console.log('lint: clean')
