import fs from 'node:fs'
import path from 'node:path'
import { assert } from '../common/assert.js'
import { SeededRandom } from '../common/random.js'
import type { FileSystem } from './file-system.js'

/**
 * A simulated disk for crash and fault tests, deterministic from its seed. What it promises is
 * what POSIX promises, no more:
 *
 * - A file's bytes are durable once an fsync (or fdatasync) of that file returns; until then
 *   each write may survive a power cut whole, torn at any byte, or not at all, independently of
 *   the writes around it (so a later write can survive an earlier one: "reordered").
 * - Names (create, rename, link, unlink, mkdir) are metadata, journaled in order: a power cut
 *   keeps a prefix of them, and an fsync of any directory commits them all (as ext4's journal
 *   does). An fsync of a file commits its bytes, never its name.
 * - A failed fsync (EIO) loses that file's unsynced writes for good while reads still return
 *   them, as Linux does since 4.13 (the pages are marked clean): a later fsync succeeds and
 *   makes nothing more durable.
 * - With `capacityBytes` set, a write past it is cut short, then fails with ENOSPC.
 *
 * `powerCut()` replaces the disk by one of the states a real one could be left in and closes
 * every fd (they fail with EBADF after it); syncs in flight at the cut fail.
 */
export class SimFileSystem implements FileSystem {
  readonly #random: SeededRandom
  /** The namespace as the running process sees it: path -> file or directory. */
  #current = new Map<string, Entry>([['/', DIRECTORY]])
  /** The namespace as the journal has committed it. */
  #durable = new Map<string, Entry>([['/', DIRECTORY]])
  /** Name operations since the last journal commit, oldest first. */
  #journal: NameOp[] = []
  #fds = new Map<number, OpenFile>()
  #nextFd = 1000
  #nextInode = 1
  /** Bumped by each power cut: syncs begun before one must not touch the disk after it. */
  #generation = 0
  readonly #faults: Array<{ op: FaultOp; code: FaultCode }> = []
  /** Total bytes of files the namespace holds at most; writes past it fail with ENOSPC. */
  capacityBytes = Infinity
  /** Probabilities of an EIO on each write and each fsync, for randomized runs. */
  faultRates: { writeEio: number; fsyncEio: number } = { writeEio: 0, fsyncEio: 0 }
  readonly stats = { writes: 0, fsyncs: 0, asyncSyncs: 0, powerCuts: 0, faults: 0 }

  constructor(seed: number) {
    this.#random = new SeededRandom(seed)
  }

  // ---- fault injection --------------------------------------------------------------------

  /** The next `op` fails with `code` (queued in order; each fault is used once). */
  failNext(op: FaultOp, code: FaultCode): void {
    this.#faults.push({ op, code })
  }

  /**
   * Loses power: names keep a random prefix of the uncommitted journal, each file keeps its
   * durable bytes plus a random subset of its unsynced writes (some torn), and every fd closes.
   */
  powerCut(): void {
    this.stats.powerCuts++
    this.#generation++
    const keep = this.#random.below(this.#journal.length + 1)
    const names = new Map(this.#durable)
    for (const op of this.#journal.slice(0, keep)) applyNameOp(names, op)
    const inodes = new Set<Inode>()
    for (const entry of [...names.values(), ...this.#current.values()]) if (entry !== DIRECTORY) inodes.add(entry)
    for (const inode of inodes) this.#crashInode(inode)
    this.#current = names
    this.#durable = new Map(names)
    this.#journal = []
    this.#fds.clear()
  }

  #crashInode(inode: Inode): void {
    let bytes: Buffer = Buffer.from(inode.durable)
    for (const op of inode.pending) {
      const fate = this.#random.below(8)
      if (fate < 2) continue // lost
      if (op.kind === 'truncate') {
        bytes = resized(bytes, op.length)
        continue
      }
      // Torn: only a prefix of the write reached the platter.
      const length = fate < 3 ? this.#random.below(op.bytes.length + 1) : op.bytes.length
      bytes = writeAt(bytes, op.bytes.subarray(0, length), op.position)
    }
    inode.durable = bytes
    inode.current = Buffer.from(bytes)
    inode.pending = []
  }

  // ---- files ------------------------------------------------------------------------------

  openSync(filePath: string, flags: fs.OpenMode): number {
    const p = normal(filePath)
    const mode = openMode(flags)
    let entry = this.#current.get(p)
    if (entry === undefined) {
      if (!mode.create) throw errno('ENOENT', 'open', p)
      this.#requireDirectory(path.dirname(p), 'open')
      entry = { id: this.#nextInode++, current: Buffer.alloc(0), durable: Buffer.alloc(0), pending: [] }
      this.#nameOp({ kind: 'link', path: p, entry })
    } else if (mode.exclusive) {
      throw errno('EEXIST', 'open', p)
    }
    if (entry !== DIRECTORY && mode.truncate) this.#truncate(entry, 0)
    if (entry === DIRECTORY && mode.writable) throw errno('EISDIR', 'open', p)
    const fd = this.#nextFd++
    this.#fds.set(fd, { path: p, entry, writable: mode.writable })
    return fd
  }

  closeSync(fd: number): void {
    if (!this.#fds.delete(fd)) throw errno('EBADF', 'close')
  }

  writeSync(fd: number, buffer: Buffer, offset: number, length: number, position: number): number {
    const file = this.#file(fd, 'write')
    if (!file.writable) throw errno('EBADF', 'write', file.path)
    this.#maybeFail('write', file.path)
    if (length === 0) return 0
    const inode = file.entry as Inode
    const growth = Math.max(0, position + length - inode.current.length)
    const room = this.capacityBytes - this.#usedBytes()
    let n = length
    if (growth > room) {
      n = Math.max(0, length - (growth - room))
      if (n === 0) throw errno('ENOSPC', 'write', file.path)
    }
    const bytes = Buffer.from(buffer.subarray(offset, offset + n))
    inode.current = writeAt(inode.current, bytes, position)
    inode.pending.push({ kind: 'write', position, bytes })
    this.stats.writes++
    return n
  }

  readSync(fd: number, buffer: Buffer, offset: number, length: number, position: number): number {
    const file = this.#file(fd, 'read')
    if (file.entry === DIRECTORY) throw errno('EISDIR', 'read', file.path)
    const data = file.entry.current
    if (position >= data.length) return 0
    return data.copy(buffer, offset, position, Math.min(data.length, position + length))
  }

  fileSizeSync(fd: number): number {
    const file = this.#file(fd, 'fstat')
    return file.entry === DIRECTORY ? 0 : file.entry.current.length
  }

  ftruncateSync(fd: number, length: number): void {
    const file = this.#file(fd, 'ftruncate')
    if (!file.writable || file.entry === DIRECTORY) throw errno('EINVAL', 'ftruncate', file.path)
    this.#truncate(file.entry, length)
  }

  fsyncSync(fd: number): void {
    const file = this.#file(fd, 'fsync')
    this.#sync(file.entry, file.path)
  }

  async syncPath(filePath: string, _dataOnly: boolean): Promise<void> {
    await this.#offThread(filePath)
    const entry = this.#current.get(normal(filePath))
    if (entry === undefined) return
    this.stats.asyncSyncs++
    this.#sync(entry, filePath)
  }

  async syncFd(fd: number, _dataOnly: boolean): Promise<void> {
    const file = this.#file(fd, 'fsync')
    await this.#offThread(file.path)
    this.stats.asyncSyncs++
    this.#sync(file.entry, file.path)
  }

  async writeFileAsync(filePath: string, data: string | Buffer, sync: boolean): Promise<void> {
    await this.#offThread(filePath)
    const fd = this.openSync(filePath, 'w')
    try {
      const bytes = typeof data === 'string' ? Buffer.from(data) : data
      // Bounded: each pass writes at least one byte or throws.
      for (let done = 0; done < bytes.length; ) done += this.writeSync(fd, bytes, done, bytes.length - done, done)
      if (sync) this.fsyncSync(fd)
    } finally {
      this.closeSync(fd)
    }
  }

  async renameAsync(from: string, to: string): Promise<void> {
    await this.#offThread(from)
    this.renameSync(from, to)
  }

  async readFileAsync(filePath: string): Promise<Buffer> {
    await this.#offThread(filePath)
    const bytes = this.readFile(filePath)
    if (bytes === null) throw errno('ENOENT', 'open', normal(filePath))
    return bytes
  }

  /** A hop as libuv's pool would make; a power cut meanwhile fails the call. */
  async #offThread(filePath: string): Promise<void> {
    const generation = this.#generation
    await Promise.resolve()
    if (generation !== this.#generation) throw errno('EIO', 'io', filePath)
  }

  #sync(entry: Entry, filePath: string): void {
    this.stats.fsyncs++
    if (entry === DIRECTORY) {
      this.#maybeFail('fsync', filePath)
      for (const op of this.#journal) applyNameOp(this.#durable, op)
      this.#journal = []
      return
    }
    try {
      this.#maybeFail('fsync', filePath)
    } catch (error) {
      // The kernel reports the writeback error once and forgets the unwritten pages.
      entry.pending = []
      throw error
    }
    // What the pending writes make, on top of what is durable: after a failed fsync the two differ
    // (the pages it could not write were dropped as clean), and no later fsync brings them back.
    entry.durable = applyDataOps(entry.durable, entry.pending)
    entry.pending = []
  }

  // ---- names ------------------------------------------------------------------------------

  renameSync(from: string, to: string): void {
    const source = normal(from)
    const target = normal(to)
    const entry = this.#current.get(source)
    if (entry === undefined) throw errno('ENOENT', 'rename', source)
    this.#requireDirectory(path.dirname(target), 'rename')
    if (entry === DIRECTORY) throw errno('EPERM', 'rename', source)
    this.#nameOp({ kind: 'rename', from: source, to: target })
  }

  unlinkSync(filePath: string): void {
    const p = normal(filePath)
    const entry = this.#current.get(p)
    if (entry === undefined) throw errno('ENOENT', 'unlink', p)
    if (entry === DIRECTORY) throw errno('EISDIR', 'unlink', p)
    this.#nameOp({ kind: 'unlink', path: p })
  }

  removeIfExistsSync(filePath: string): void {
    if (this.#current.get(normal(filePath)) !== undefined) this.unlinkSync(filePath)
  }

  linkSync(existing: string, newPath: string): void {
    const source = normal(existing)
    const target = normal(newPath)
    const entry = this.#current.get(source)
    if (entry === undefined) throw errno('ENOENT', 'link', source)
    if (entry === DIRECTORY) throw errno('EPERM', 'link', source)
    if (this.#current.has(target)) throw errno('EEXIST', 'link', target)
    this.#nameOp({ kind: 'link', path: target, entry })
  }

  existsSync(filePath: string): boolean {
    return this.#current.has(normal(filePath))
  }

  readdirSync(dir: string): string[] {
    const d = normal(dir)
    this.#requireDirectory(d, 'scandir')
    const names: string[] = []
    for (const p of this.#current.keys()) if (p !== d && path.dirname(p) === d) names.push(path.basename(p))
    return names.sort()
  }

  mkdirpSync(dir: string): string | undefined {
    const d = normal(dir)
    const missing: string[] = []
    // Bounded by the path's depth.
    for (let p = d; !this.#current.has(p); p = path.dirname(p)) missing.unshift(p)
    for (const p of missing) {
      this.#requireDirectory(path.dirname(p), 'mkdir')
      this.#nameOp({ kind: 'mkdir', path: p })
    }
    const existing = this.#current.get(d)
    if (existing !== DIRECTORY) throw errno('EEXIST', 'mkdir', d)
    return missing[0]
  }

  /** For tests: the bytes a file holds now, as the process sees them; null when absent. */
  readFile(filePath: string): Buffer | null {
    const entry = this.#current.get(normal(filePath))
    return entry === undefined || entry === DIRECTORY ? null : Buffer.from(entry.current)
  }

  // ---- internals --------------------------------------------------------------------------

  #file(fd: number, syscall: string): OpenFile {
    const file = this.#fds.get(fd)
    if (file === undefined) throw errno('EBADF', syscall)
    return file
  }

  #requireDirectory(dir: string, syscall: string): void {
    const entry = this.#current.get(dir)
    if (entry === undefined) throw errno('ENOENT', syscall, dir)
    if (entry !== DIRECTORY) throw errno('ENOTDIR', syscall, dir)
  }

  #nameOp(op: NameOp): void {
    applyNameOp(this.#current, op)
    this.#journal.push(op)
  }

  #truncate(inode: Inode, length: number): void {
    inode.current = resized(inode.current, length)
    inode.pending.push({ kind: 'truncate', length })
  }

  #usedBytes(): number {
    let total = 0
    const seen = new Set<Inode>()
    for (const entry of this.#current.values()) {
      if (entry === DIRECTORY || seen.has(entry)) continue
      seen.add(entry)
      total += entry.current.length
    }
    return total
  }

  #maybeFail(op: FaultOp, filePath: string): void {
    const index = this.#faults.findIndex((f) => f.op === op)
    let code: FaultCode | null = null
    if (index >= 0) code = this.#faults.splice(index, 1)[0].code
    else if (this.#random.chance(op === 'write' ? this.faultRates.writeEio : this.faultRates.fsyncEio)) code = 'EIO'
    if (code === null) return
    this.stats.faults++
    throw errno(code, op, filePath)
  }
}

export type FaultOp = 'write' | 'fsync'
export type FaultCode = 'EIO' | 'ENOSPC'

interface Inode {
  id: number
  current: Buffer
  durable: Buffer
  pending: DataOp[]
}

const DIRECTORY = 'directory'
type Entry = Inode | typeof DIRECTORY

type DataOp = { kind: 'write'; position: number; bytes: Buffer } | { kind: 'truncate'; length: number }

type NameOp =
  | { kind: 'link'; path: string; entry: Inode }
  | { kind: 'mkdir'; path: string }
  | { kind: 'unlink'; path: string }
  | { kind: 'rename'; from: string; to: string }

interface OpenFile {
  path: string
  entry: Entry
  writable: boolean
}

function applyNameOp(names: Map<string, Entry>, op: NameOp): void {
  switch (op.kind) {
    case 'link':
      names.set(op.path, op.entry)
      return
    case 'mkdir':
      names.set(op.path, DIRECTORY)
      return
    case 'unlink':
      names.delete(op.path)
      return
    case 'rename': {
      const entry = names.get(op.from)
      // A journal prefix replays renames only of names it also created.
      if (entry === undefined) return
      names.delete(op.from)
      names.set(op.to, entry)
    }
  }
}

function normal(p: string): string {
  assert(path.isAbsolute(p), `the simulated file system takes absolute paths, not ${p}`)
  return path.normalize(p).replace(/(.)\/+$/, '$1')
}

function openMode(flags: fs.OpenMode): { writable: boolean; create: boolean; truncate: boolean; exclusive: boolean } {
  const c = fs.constants
  const n = typeof flags === 'number' ? flags : stringFlags(flags)
  const access = n & 3
  return {
    writable: access === c.O_WRONLY || access === c.O_RDWR,
    create: (n & c.O_CREAT) !== 0,
    truncate: (n & c.O_TRUNC) !== 0,
    exclusive: (n & c.O_EXCL) !== 0,
  }
}

function stringFlags(flags: string): number {
  const c = fs.constants
  switch (flags) {
    case 'r':
      return c.O_RDONLY
    case 'r+':
      return c.O_RDWR
    case 'w':
      return c.O_WRONLY | c.O_CREAT | c.O_TRUNC
    case 'w+':
      return c.O_RDWR | c.O_CREAT | c.O_TRUNC
    case 'a':
      return c.O_WRONLY | c.O_CREAT | c.O_APPEND
    case 'a+':
      return c.O_RDWR | c.O_CREAT | c.O_APPEND
    default:
      throw errno('EINVAL', 'open')
  }
}

function applyDataOps(base: Buffer, ops: readonly DataOp[]): Buffer {
  let bytes: Buffer = Buffer.from(base)
  for (const op of ops) bytes = op.kind === 'truncate' ? resized(bytes, op.length) : writeAt(bytes, op.bytes, op.position)
  return bytes
}

function resized(bytes: Buffer, length: number): Buffer {
  if (length <= bytes.length) return Buffer.from(bytes.subarray(0, length))
  return Buffer.concat([bytes, Buffer.alloc(length - bytes.length)])
}

function writeAt(bytes: Buffer, data: Buffer, position: number): Buffer {
  const target = position + data.length > bytes.length ? resized(bytes, position + data.length) : bytes
  data.copy(target, position)
  return target
}

function errno(code: string, syscall: string, filePath?: string): NodeJS.ErrnoException {
  const where = filePath === undefined ? '' : ` '${filePath}'`
  return Object.assign(new Error(`${code}: simulated ${syscall}${where}`), { code, syscall, path: filePath })
}
