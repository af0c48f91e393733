/**
 * The web console in a real browser: Debian's chromium driven by playwright-core. A topic is
 * created from the page, records produced from the page and with kcat, browsed (JSON
 * pretty-printed, binary as hex) and paged through; a running kcat consumer shows in its group,
 * whose lag drops to 0 on the open page and comes back after a reset to the start; bad input
 * shows a clear message; the overview shows live rates, their chart and disk used, and the topics
 * list sizes and rates and is searchable. With PARTITA_CONSOLE_SCREENSHOTS=<dir> set, it also
 * saves the screenshots linked from the README (docs/console/).
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startBroker, type Broker } from '../../src/start-broker.js'
import { KCAT, kcat } from '../integration/harness.js'

const CHROMIUM = '/usr/bin/chromium'
const TOPIC = 'web-orders'
const GROUP = 'kcat-readers'
/** A topic of its own for the rate checks, so the records counted in the other tests stay six. */
const RATES_TOPIC = 'web-rates'
const SCREENSHOTS = process.env.PARTITA_CONSOLE_SCREENSHOTS

let broker: Broker
let browser: Browser
let page: Page

async function screenshot(name: string): Promise<void> {
  if (SCREENSHOTS !== undefined && SCREENSHOTS !== '') await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true })
}

async function open(hash: string): Promise<void> {
  await page.goto(`${broker.adminAddress!.url}/${hash}`)
  // Each view marks itself drawn on <body>; a goto to the same page with another hash only
  // changes the hash, so reload to draw it afresh.
  await page.reload()
  await page.waitForSelector(`body[data-view="${hash.replace(/^#\/?/, '').split(/[/?]/)[0] || 'overview'}"]`)
}

beforeAll(async () => {
  // Rates sampled every 500 ms (5 s by default), so the page shows them without a long wait.
  broker = await startBroker({ brokers: 1, port: 0, adminPort: 0, offsetsTopicNumPartitions: 1, groupInitialRebalanceDelayMs: 0, adminConsoleSampleMs: 500 })
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] })
  page = await browser.newPage({ viewport: { width: 1200, height: 800 } })
  // Every write asks for confirmation: the test says yes.
  page.on('dialog', (dialog) => void dialog.accept())
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await broker?.close()
})

describe('the console in chromium', () => {
  it('creates a topic from the page, and says clearly why an illegal name is refused', async () => {
    await open('#/topics')
    await page.fill('input[name=name]', 'no spaces!')
    await page.click('button:text-is("Create topic")')
    await expect.poll(() => page.textContent('#flash')).toMatch(/INVALID_TOPIC_EXCEPTION.*illegal/)
    await page.fill('input[name=name]', TOPIC)
    await page.fill('input[name=partitions]', '1')
    await page.click('button:text-is("Create topic")')
    await expect.poll(() => page.textContent('#flash')).toBe(`Created topic ${TOPIC}`)
    await page.waitForSelector(`a:text-is("${TOPIC}")`)
  })

  it('produces three records from the page and three with kcat, then browses them as JSON, text and hex', async () => {
    await open(`#/messages/${TOPIC}`)
    // Records, the moment each "Produced" message appears, how many records the page shows.
    await page.evaluate(`window.rowsAtMessage = []
      new MutationObserver(() => {
        const flash = document.getElementById('flash')
        if (flash.textContent.startsWith('Produced')) window.rowsAtMessage.push(document.querySelectorAll('tbody tr').length)
      }).observe(document.getElementById('flash'), { childList: true, characterData: true, subtree: true })`)
    let produced = 0
    const produce = async (key: string, value: string, headers = ''): Promise<void> => {
      await page.fill('input[name=key]', key)
      await page.fill('textarea[name=value]', value)
      await page.fill('input[name=headers]', headers)
      await page.click('button:text-is("Produce")')
      await expect.poll(() => page.textContent('#flash')).toMatch(/^Produced to partition 0 at offset \d+$/)
      produced++
      // The message shows only once the page is drawn again with the new record, so the next
      // fill lands in the new form, not in the old one a late redraw would replace.
      expect(await page.evaluate('window.rowsAtMessage')).toEqual(Array.from({ length: produced }, (_, i) => i + 1))
      // A string, run in the page: the tests' TypeScript has no DOM types.
      await page.evaluate("document.getElementById('flash').textContent = ''")
    }
    await produce('order-1', '{"id":1,"items":["tea","milk"]}', 'source=web')
    await produce('order-2', 'plain text')
    await produce('order-3', '{"id":3}')
    // kcat: a line of text, one of JSON, and one of control bytes that are not text.
    await kcat(broker.bootstrapServers, ['-P', '-t', TOPIC, '-K:'], { input: 'k4:from kcat\nk5:{"id":5}\nk6:\u0001\u0002\u0003\n' })
    await open(`#/messages/${TOPIC}?partition=all&from=oldest&limit=50`)
    const values = await page.$$eval('tbody tr td:nth-child(5) pre', (pres) => pres.map((p) => [p.className, p.textContent]))
    expect(values).toEqual([
      ['v-json', '{\n  "id": 1,\n  "items": [\n    "tea",\n    "milk"\n  ]\n}'],
      ['v-text', 'plain text'],
      ['v-json', '{\n  "id": 3\n}'],
      ['v-text', 'from kcat'],
      ['v-json', '{\n  "id": 5\n}'],
      ['v-hex', '010203'],
    ])
    expect(await page.textContent('tbody tr:first-child td:nth-child(6)')).toBe('source=web')
    await screenshot('messages')
  })

  it('shows a clear message for a non-numeric offset and a huge page size', async () => {
    await open(`#/messages/${TOPIC}`)
    await page.selectOption('select[name=from]', 'offset')
    await page.fill('input[name=at]', 'ten')
    await page.click('button:text-is("Browse")')
    await expect.poll(() => page.textContent('#flash')).toBe('offset must be a whole number, got "ten"')
    await page.fill('input[name=at]', '0')
    await page.fill('input[name=limit]', '100000')
    await page.click('button:text-is("Browse")')
    await expect.poll(() => page.textContent('#flash')).toBe('limit (page size) must be between 1 and 500, got 100000')
  })

  it("shows a kcat consumer in its group and the group's lag drop to 0 live, then come back after a reset to the start", async () => {
    // The group starts at offset 0 (an admin commit), so its whole backlog shows as lag.
    await broker.admin.setOffsets({ groupId: GROUP, topic: TOPIC, partitions: [{ partition: 0, offset: '0' }] })
    await open(`#/group/${GROUP}`)
    expect(await page.textContent('#total-lag')).toBe('6')
    // kcat joins the group and reads until stopped; the page draws the group again by itself.
    const reader = spawn(KCAT, ['-b', broker.bootstrapServers, '-G', GROUP, '-q', '-X', 'enable.auto.commit=true', '-X', 'auto.commit.interval.ms=100', TOPIC], { stdio: 'ignore' })
    const exited = once(reader, 'exit')
    try {
      const members = (): Promise<string | null> => page.textContent('main table:nth-of-type(1) tbody')
      await expect.poll(members, { timeout: 30_000 }).toMatch(/rdkafka.*web-orders: 0/)
      await expect.poll(() => page.textContent('#total-lag'), { timeout: 30_000 }).toBe('0')
      await expect.poll(() => page.textContent('#group-state'), { timeout: 30_000 }).toBe('Stable')
      await screenshot('group')
    } finally {
      // kcat leaves the group on SIGINT, as on Ctrl-C.
      reader.kill('SIGINT')
      const timer = setTimeout(() => reader.kill('SIGKILL'), 15_000)
      await exited
      clearTimeout(timer)
    }
    await expect.poll(() => page.textContent('#group-state'), { timeout: 30_000 }).toBe('Empty')
    await page.selectOption('select[name=to]', 'start')
    await page.click('button:text-is("Reset offsets")')
    await expect.poll(() => page.textContent('#flash')).toBe(`Reset group ${GROUP} to start`)
    await expect.poll(() => page.textContent('#total-lag')).toBe('6')
  })

  it('pages through the messages with Next page, each page starting where the last one stopped', async () => {
    await open(`#/messages/${TOPIC}?partition=all&from=oldest&limit=4`)
    const offsets = (): Promise<string[]> => page.$$eval('tbody tr td:nth-child(2)', (cells) => cells.map((c) => c.textContent ?? ''))
    expect(await offsets()).toEqual(['0', '1', '2', '3'])
    await page.click('#next-page')
    await expect.poll(offsets).toEqual(['4', '5'])
    expect(await page.textContent('main')).toContain('No more records after this page.')
    expect(await page.$('#next-page')).toBeNull()
  })

  it('shows live produce and consume rates, a chart of them and the disk each topic uses on the overview', async () => {
    await open('#/')
    const row = (cell: number): Promise<string | null> => page.textContent(`tr:has(a:text-is("${RATES_TOPIC}")) td:nth-child(${cell})`)
    // The page stays open and draws itself again: no reload from here on.
    await kcat(broker.bootstrapServers, ['-P', '-t', RATES_TOPIC, '-K:'], { input: Array.from({ length: 50 }, (_, i) => `k${i}:record ${i}\n`).join('') })
    await kcat(broker.bootstrapServers, ['-C', '-t', RATES_TOPIC, '-o', 'beginning', '-e', '-q'], { timeoutMs: 30_000 })
    const nonZeroRate = /^(?!0\/s$)[\d.]+\/s$/
    await expect.poll(() => row(6), { timeout: 20_000 }).toMatch(nonZeroRate)
    await expect.poll(() => row(7), { timeout: 20_000 }).toMatch(nonZeroRate)
    expect(await page.textContent('#rate-in')).toMatch(nonZeroRate)
    expect(await page.textContent('#rate-out')).toMatch(nonZeroRate)
    expect(await row(5)).toMatch(/^[\d.]+ (B|KiB)$/)
    expect(await row(5)).not.toBe('0 B')
    expect(await page.textContent('#disk-used')).not.toBe('0 B')
    // Each line of the chart rises above its baseline where the records went in and out.
    const lines = (await page.$$eval('#traffic-chart polyline', (all) => all.map((l) => [l.getAttribute('class'), l.getAttribute('points')]))) as Array<[string, string]>
    const peaks = lines.map(([name, points]) => {
      const ys = points.split(' ').filter(Boolean).map((p) => Number(p.split(',')[1]))
      return [name, Math.max(...ys) - Math.min(...ys) > 0]
    })
    expect(peaks).toEqual([
      ['line-in', true],
      ['line-out', true],
    ])
    expect(await page.textContent('main')).toContain(TOPIC)
    expect(await page.textContent('main')).toContain(GROUP)
    await screenshot('overview')
  })

  it('lists topics with their size and rates, searchable by any part of the name in any case', async () => {
    await open('#/topics')
    const names = (): Promise<string[]> => page.$$eval('tbody tr td:first-child', (cells) => cells.map((c) => c.textContent ?? ''))
    expect(await names()).toEqual(['__consumer_offsets', TOPIC, RATES_TOPIC])
    expect(await page.textContent(`tr:has(a:text-is("${RATES_TOPIC}")) td:nth-child(5)`)).toMatch(/^[\d.]+ (B|KiB)$/)
    await page.fill('input[name=search]', 'RATES')
    await expect.poll(names).toEqual([RATES_TOPIC])
    expect(await page.textContent('#topic-count')).toBe('1 of 3 topics')
    await screenshot('topics')
    await page.fill('input[name=search]', 'nothing-like-it')
    await expect.poll(names).toEqual([])
    await page.fill('input[name=search]', '')
    await expect.poll(names).toEqual(['__consumer_offsets', TOPIC, RATES_TOPIC])
  })

  it('shows a topic page', async () => {
    await open(`#/topic/${TOPIC}`)
    expect(await page.textContent('tbody tr:first-child td:nth-child(6)')).toBe('6')
    await screenshot('topic')
  })

  it('shows no write form in a read-only console, and still lists, describes and browses', async () => {
    await using readOnly = await startBroker({ brokers: 1, port: 0, adminPort: 0, adminConsole: 'read-only' })
    await readOnly.admin.createTopic({ name: 'ro-topic', partitions: 1 })
    const buttons = (): Promise<string[]> => page.$$eval('main button', (els) => els.map((el) => el.textContent ?? ''))
    const visit = async (hash: string, view: string): Promise<void> => {
      await page.goto(`${readOnly.adminAddress!.url}/${hash}`)
      await page.reload()
      await page.waitForSelector(`body[data-view="${view}"]`)
    }
    await visit('#/topics', 'topics')
    await page.waitForSelector('a:text-is("ro-topic")')
    expect(await buttons()).toEqual([])
    await visit('#/topic/ro-topic', 'topic')
    expect(await buttons()).toEqual([])
    await visit('#/messages/ro-topic', 'messages')
    expect(await buttons()).toEqual(['Browse'])
  })
})
