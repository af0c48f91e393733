/**
 * A per-thread budget for running actor work back to back (module state: each worker thread has
 * its own). Mailbox drains are microtasks, and microtasks run to exhaustion before Node looks at
 * timers or I/O again, so one request that fans out to thousands of actors on a thread (a produce
 * to 5,000 partitions, each reopening a file through the handle cache) would hold the thread for
 * seconds: heartbeats stop, and every other connection waits. A drain that starts after the
 * thread has worked TURN_BUDGET_MS without a break waits for a later turn instead, and the later
 * turns take the waiting drains in arrival order, a budget's worth each.
 */

/** Actor work a thread does before it lets timers and I/O run. */
const TURN_BUDGET_MS = 10

/** Bounded by the actors on this thread: each mailbox has at most one drain waiting. */
const waiting: Array<() => void> = []
/** When this thread's current run of actor work began; -1 between turns. */
let turnStartMs = -1
let pumpScheduled = false

/** Runs `task` in a microtask now, or in a later turn when this one used its budget. */
export function runInTurn(task: () => void): void {
  queueMicrotask(() => {
    if (waiting.length === 0 && !budgetSpent()) task()
    else wait(task)
  })
}

function budgetSpent(): boolean {
  const nowMs = performance.now()
  if (turnStartMs < 0) {
    turnStartMs = nowMs
    // Immediates run after this turn's microtasks, timers and I/O: the next run starts afresh.
    setImmediate(endTurn)
    return false
  }
  return nowMs - turnStartMs >= TURN_BUDGET_MS
}

function endTurn(): void {
  turnStartMs = -1
}

function wait(task: () => void): void {
  waiting.push(task)
  if (pumpScheduled) return
  pumpScheduled = true
  setImmediate(pump)
}

/** Runs waiting drains (their synchronous part) until the budget is spent, then yields again. */
function pump(): void {
  pumpScheduled = false
  const startMs = performance.now()
  // Bounded by the waiting list and the budget.
  while (waiting.length > 0 && performance.now() - startMs < TURN_BUDGET_MS) waiting.shift()!()
  turnStartMs = -1
  if (waiting.length > 0) {
    pumpScheduled = true
    setImmediate(pump)
  }
}
