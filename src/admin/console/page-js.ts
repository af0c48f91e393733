/**
 * The console's script: plain DOM, no framework, routed on the URL hash. Every view is drawn
 * from the /v1 JSON API; every write asks for confirmation and shows the API's error text.
 * (Kept free of backticks and dollar-braces: it lives inside a String.raw template.)
 */
export const PAGE_JS = String.raw`'use strict'
;(function () {
  var main = document.getElementById('main')
  // A read-only console (--console read-only) leaves out every form that writes.
  var readOnly = document.body.getAttribute('data-console-mode') === 'read-only'
  var flash = document.getElementById('flash')

  function h(tag, attrs) {
    var el = document.createElement(tag)
    for (var k in attrs || {}) {
      if (k === 'text') el.textContent = attrs[k]
      else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), attrs[k])
      else if (attrs[k] !== undefined && attrs[k] !== null) el.setAttribute(k, attrs[k])
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i]
      if (c === null || c === undefined) continue
      el.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)))
    }
    return el
  }
  function table(headers, rows) {
    return h('table', null, h('thead', null, h.apply(null, ['tr', null].concat(headers.map(function (x) { return h('th', { text: x }) })))),
      h.apply(null, ['tbody', null].concat(rows.map(function (r) {
        return h.apply(null, ['tr', null].concat(r.map(function (c) { return h('td', null, c) })))
      }))))
  }
  function link(href, text) { return h('a', { href: href, text: text }) }
  function enc(s) { return encodeURIComponent(s) }
  function show(message, ok) {
    flash.textContent = message
    flash.className = ok ? 'ok' : 'error'
    flash.hidden = false
  }
  function clearFlash() { flash.hidden = true; flash.textContent = '' }

  function api(method, path, body) {
    var init = { method: method, headers: {} }
    if (body !== undefined) { init.body = JSON.stringify(body); init.headers['content-type'] = 'application/json' }
    return fetch('/v1' + path, init).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) throw new Error(j.error || ('HTTP ' + r.status))
        return j
      })
    })
  }
  function field(label, input) { return h('label', null, label, input) }
  function form(fields, button, onsubmit) {
    var f = h.apply(null, ['form', { onsubmit: function (e) { e.preventDefault(); onsubmit() } }].concat(fields).concat([h('button', { type: 'submit', text: button })]))
    return f
  }
  /** A form that changes something: an empty placeholder in a read-only console. */
  function writeForm(fields, button, onsubmit) {
    return readOnly ? document.createComment(button + ': read-only') : form(fields, button, onsubmit)
  }
  function write(question, method, path, body, done) {
    if (!window.confirm(question)) return
    api(method, path, body).then(function (j) { var message = done(j); redrawThenShow(message) }, function (e) { show(e.message, false) })
  }
  // The page is drawn afresh before the message shows, so a form filled once the message is up
  // is the new page's form, never the old one that the redraw is about to replace.
  function redrawThenShow(message) {
    var ok = function () { show(message, true) }
    route().then(ok, ok)
  }
  function bytes(v) {
    if (v === null) return h('span', { class: 'fmt', text: 'null' })
    return h('div', null, h('span', { class: 'fmt', text: v.format }), h('pre', { class: 'v-' + v.format, text: v.text }))
  }

  function fmtBytes(n) {
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
    var i = 0
    while (n >= 1024 && i < units.length - 1) { n = n / 1024; i++ }
    return (i === 0 ? String(n) : n.toFixed(1)) + ' ' + units[i]
  }
  function fmtRate(n) { return (n === 0 ? '0' : n < 10 ? n.toFixed(1) : String(Math.round(n))) + '/s' }

  // A line chart of records per second in and out over the history's span, drawn as inline SVG.
  var SVG = 'http://www.w3.org/2000/svg'
  function svg(tag, attrs) {
    var el = document.createElementNS(SVG, tag)
    for (var k in attrs) el.setAttribute(k, String(attrs[k]))
    for (var i = 2; i < arguments.length; i++) el.appendChild(arguments[i])
    return el
  }
  function chart(t) {
    var W = 720, H = 160, L = 52, B = 20, T = 8, R = 8
    var span = t.samplesMax * (t.sampleIntervalMs || 5000)
    var end = t.samples.length > 0 ? t.samples[t.samples.length - 1].atMs : 0
    var top = 1
    t.samples.forEach(function (s) { top = Math.max(top, s.recordsInPerSec, s.recordsOutPerSec) })
    var nice = Math.pow(10, Math.floor(Math.log10(top)))
    top = Math.ceil(top / nice) * nice
    var x = function (ms) { return (L + (W - L - R) * (1 - (end - ms) / span)).toFixed(1) }
    var y = function (v) { return (T + (H - T - B) * (1 - v / top)).toFixed(1) }
    var line = function (field, cls) {
      return svg('polyline', { class: cls, fill: 'none', points: t.samples.map(function (s) { return x(s.atMs) + ',' + y(s[field]) }).join(' ') })
    }
    var text = function (content, attrs) { var el = svg('text', attrs); el.textContent = content; return el }
    var minutes = Math.round(span / 60000)
    return svg('svg', { id: 'traffic-chart', viewBox: '0 0 ' + W + ' ' + H, width: W, height: H, role: 'img', 'aria-label': 'records per second produced and consumed' },
      svg('line', { class: 'axis', x1: L, y1: y(0), x2: W - R, y2: y(0) }),
      svg('line', { class: 'grid', x1: L, y1: y(top), x2: W - R, y2: y(top) }),
      text(String(top) + '/s', { x: L - 4, y: Number(y(top)) + 4, 'text-anchor': 'end' }),
      text('0', { x: L - 4, y: Number(y(0)) + 4, 'text-anchor': 'end' }),
      text((minutes > 0 ? minutes + ' min' : Math.round(span / 1000) + ' s') + ' ago', { x: L, y: H - 4 }),
      text('now', { x: W - R, y: H - 4, 'text-anchor': 'end' }),
      line('recordsInPerSec', 'line-in'), line('recordsOutPerSec', 'line-out'))
  }
  function trafficBox(t) {
    return h('div', { class: 'chart' }, chart(t),
      h('div', { class: 'legend' }, h('span', { class: 'key-in', text: 'produced' }), h('span', { class: 'key-out', text: 'consumed' }),
        h('span', { class: 'fmt', text: t.samples.length === 0 ? 'collecting: a sample every ' + t.sampleIntervalMs / 1000 + ' s' : 'records/s, a sample every ' + t.sampleIntervalMs / 1000 + ' s' })))
  }

  // ---------------------------------------------------------------- views

  function overview() {
    return Promise.all([api('GET', '/cluster'), api('GET', '/topics'), api('GET', '/groups'), api('GET', '/traffic')]).then(function (a) {
      var c = a[0]
      var card = function (name, value, id) { return h('div', { class: 'card' }, h('b', { text: value, id: id }), name) }
      var nodes = [
        h('h1', { text: 'Overview' }),
        h('div', { class: 'cards' }, card('brokers', c.brokers.length), card('topics', c.topics), card('partitions', c.partitions),
          card('under-replicated', c.underReplicated), card('offline', c.offline), card('disk used', fmtBytes(a[1].topics.reduce(function (sum, t) { return sum + t.sizeBytes }, 0)), 'disk-used'),
          card('produced (last min)', fmtRate(c.rates.recordsInPerSec), 'rate-in'), card('consumed (last min)', fmtRate(c.rates.recordsOutPerSec), 'rate-out')),
        h('h2', { text: 'Produce and consume rates' }), trafficBox(a[3]),
        h('h2', { text: 'Brokers' }),
        table(['id', 'listener'], c.brokers.map(function (b) { return [String(b.nodeId), b.host + ':' + b.port] })),
        h('h2', { text: 'Topics' }), topicTable(a[1].topics),
        h('h2', { text: 'Consumer groups' }), groupTable(a[2].groups),
      ]
      nodes.live = { ms: Math.max(1000, a[3].sampleIntervalMs || 5000) }
      return nodes
    })
  }
  function topicTable(topics) {
    return table(['topic', 'partitions', 'replication', 'under-replicated', 'size (all replicas)', 'produced', 'consumed'], topics.map(function (t) {
      var rate = function (records, bytes) { return h('span', { title: fmtBytes(Math.round(bytes)) + '/s', text: fmtRate(records) }) }
      return [link('#/topic/' + enc(t.name), t.name), String(t.partitions), String(t.replicationFactor), String(t.underReplicated),
        fmtBytes(t.sizeBytes), rate(t.recordsInPerSec, t.bytesInPerSec), rate(t.recordsOutPerSec, t.bytesOutPerSec)]
    }))
  }
  function groupTable(groups) {
    return table(['group', 'state', 'members', 'total lag'], groups.map(function (g) {
      return [link('#/group/' + enc(g.groupId), g.groupId), g.state || '', String(g.members === undefined ? '' : g.members), String(g.totalLag === undefined ? '' : g.totalLag)]
    }))
  }

  function topics() {
    return api('GET', '/topics').then(function (j) {
      var name = h('input', { name: 'name', placeholder: 'orders' })
      var parts = h('input', { name: 'partitions', value: '1', size: 4 })
      var rf = h('input', { name: 'replicationFactor', value: '-1', size: 4 })
      var box = h('input', { type: 'search', name: 'search', placeholder: 'search topics' })
      var count = h('span', { class: 'fmt', id: 'topic-count' })
      var list = h('div')
      var all = j.topics
      var drawList = function () {
        var needle = box.value.trim().toLowerCase()
        var shown = all.filter(function (t) { return t.name.toLowerCase().indexOf(needle) >= 0 })
        count.textContent = shown.length + ' of ' + all.length + ' topics'
        list.replaceChildren(topicTable(shown))
      }
      box.addEventListener('input', drawList)
      drawList()
      var nodes = [
        h('h1', { text: 'Topics' }),
        writeForm([field('name', name), field('partitions', parts), field('replication (-1: default)', rf)], 'Create topic', function () {
          write('Create topic ' + name.value + '?', 'POST', '/topics', { name: name.value, partitions: parts.value, replicationFactor: rf.value }, function () { return 'Created topic ' + name.value })
        }),
        h('div', { class: 'search' }, box, count), list,
      ]
      // Sizes and rates stay live; the search box and the form keep what is typed.
      nodes.live = { ms: 5000, fn: function () { return api('GET', '/topics').then(function (k) { all = k.topics; drawList() }) } }
      return nodes
    })
  }

  function topic(name) {
    return api('GET', '/topics/' + enc(name)).then(function (t) {
      var count = h('input', { name: 'count', value: String(t.partitions.length + 1), size: 4 })
      var key = h('input', { name: 'config-name', placeholder: 'retention.ms' })
      var value = h('input', { name: 'config-value', placeholder: 'empty: default' })
      return [
        h('h1', null, 'Topic ', name, ' ', link('#/messages/' + enc(name), 'browse messages')),
        h('h2', { text: 'Partitions' }),
        table(['partition', 'leader', 'replicas', 'ISR', 'log start', 'high watermark'], t.partitions.map(function (p) {
          return [String(p.partition), String(p.leader), p.replicas.join(','), p.isr.join(','), String(p.logStartOffset), String(p.highWatermark)]
        })),
        writeForm([field('partitions', count)], 'Add partitions', function () {
          write('Grow ' + name + ' to ' + count.value + ' partitions?', 'POST', '/topics/' + enc(name) + '/partitions', { count: count.value }, function () { return name + ' now has ' + count.value + ' partitions' })
        }),
        h('h2', { text: 'Configs' }),
        writeForm([field('config', key), field('value', value)], 'Set config', function () {
          var configs = {}
          configs[key.value] = value.value === '' ? null : value.value
          write('Set ' + key.value + ' on ' + name + '?', 'POST', '/topics/' + enc(name) + '/configs', { configs: configs }, function () { return 'Set ' + key.value })
        }),
        table(['name', 'value', 'source'], t.configs.map(function (c) { return [c.name, c.value === null ? '' : c.value, c.source] })),
        readOnly ? document.createComment('Delete topic: read-only') : h('button', { class: 'danger', text: 'Delete topic', onclick: function () {
          write('Delete topic ' + name + ' and all its records?', 'DELETE', '/topics/' + enc(name), undefined, function () { location.hash = '#/topics'; return 'Deleted topic ' + name })
        } }),
      ]
    })
  }

  function messages(name, params) {
    var q = new URLSearchParams(params)
    var partition = h('input', { name: 'partition', value: q.get('partition') || 'all', size: 4 })
    var from = h('select', { name: 'from' }, h('option', { text: 'oldest' }), h('option', { text: 'newest' }), h('option', { text: 'offset' }), h('option', { text: 'timestamp' }), h('option', { text: 'positions' }))
    from.value = q.get('from') || 'oldest'
    var at = h('input', { name: 'at', value: q.get('offset') || q.get('timestamp') || q.get('positions') || '', size: 14 })
    var limit = h('input', { name: 'limit', value: q.get('limit') || '50', size: 5 })
    var filter = h('input', { name: 'filter', value: q.get('filter') || '' })
    var pkey = h('input', { name: 'key' })
    var pvalue = h('textarea', { name: 'value', rows: 2, cols: 40 })
    var pheaders = h('input', { name: 'headers', placeholder: 'name=value,name=value' })
    var browse = function () {
      var next = new URLSearchParams({ partition: partition.value, from: from.value, limit: limit.value })
      if (from.value === 'offset') next.set('offset', at.value)
      if (from.value === 'timestamp') next.set('timestamp', at.value)
      if (from.value === 'positions') next.set('positions', at.value)
      if (filter.value !== '') next.set('filter', filter.value)
      location.hash = '#/messages/' + enc(name) + '?' + next.toString()
    }
    // The next page starts each partition where this one left it.
    var nextPage = function (j) {
      var positions = Object.keys(j.next).map(function (p) { return p + ':' + j.next[p] }).join(',')
      var next = new URLSearchParams({ partition: partition.value, from: 'positions', positions: positions, limit: limit.value })
      if (filter.value !== '') next.set('filter', filter.value)
      return h('a', { class: 'button', id: 'next-page', href: '#/messages/' + enc(name) + '?' + next.toString(), text: 'Next page' })
    }
    var produceForm = writeForm([field('key', pkey), field('value', pvalue), field('headers', pheaders)], 'Produce', function () {
      var headers = {}
      pheaders.value.split(',').filter(function (s) { return s.indexOf('=') > 0 }).forEach(function (s) {
        headers[s.slice(0, s.indexOf('=')).trim()] = s.slice(s.indexOf('=') + 1)
      })
      api('POST', '/topics/' + enc(name) + '/messages', { key: pkey.value === '' ? null : pkey.value, value: pvalue.value, headers: headers }).then(function (r) {
        redrawThenShow('Produced to partition ' + r.partition + ' at offset ' + r.offset)
      }, function (e) { show(e.message, false) })
    })
    var head = [
      h('h1', null, 'Messages in ', link('#/topic/' + enc(name), name)),
      form([field('partition', partition), field('from', from), field('offset / timestamp / positions', at), field('page size', limit), field('key or value contains', filter)], 'Browse', browse),
      produceForm,
    ]
    var query = params ? '?' + params : ''
    return api('GET', '/topics/' + enc(name) + '/messages' + query).then(function (j) {
      var rows = j.records.map(function (r) {
        return [String(r.partition), String(r.offset), new Date(r.timestamp).toISOString(), bytes(r.key), bytes(r.value),
          h('div', null, r.headers.map(function (x) { return x.name + '=' + (x.value ? x.value.text : '') }).join(', '))]
      })
      return head.concat([
        h('p', { class: 'fmt', text: j.records.length + ' records; ' + j.scanned + ' scanned' + (j.truncated ? ' (stopped at the scan bound of ' + j.scannedMax + ')' : '') }),
        table(['partition', 'offset', 'timestamp', 'key', 'value', 'headers'], rows),
        j.more ? nextPage(j) : h('p', { class: 'fmt', text: 'No more records after this page.' }),
      ])
    }, function (e) { show(e.message, false); return head })
  }

  function groups() {
    return api('GET', '/groups').then(function (j) { return [h('h1', { text: 'Consumer groups' }), groupTable(j.groups)] })
  }

  function group(id) {
    return api('GET', '/groups/' + enc(id)).then(function (g) {
      var to = h('select', { name: 'to' }, h('option', { text: 'start' }), h('option', { text: 'end' }), h('option', { text: 'offset' }), h('option', { text: 'timestamp' }))
      var at = h('input', { name: 'at', size: 14 })
      var state = h('div')
      var fill = function (g) {
        var s = function (v) { return v === null ? '-' : String(v) }
        state.replaceChildren(
          h('div', { class: 'cards' }, h('div', { class: 'card' }, h('b', { id: 'group-state', text: g.state }), 'state'),
            h('div', { class: 'card' }, h('b', { id: 'total-lag', text: String(g.totalLag) }), 'total lag'),
            h('div', { class: 'card' }, h('b', { text: String(g.lagSeconds) }), 'lag (s)')),
          h('h2', { text: 'Members' }),
          table(['member', 'client', 'host', 'assignment'], g.members.map(function (m) {
            return [m.memberId, m.clientId, m.host, m.assignment.map(function (a) { return a.topic + ': ' + a.partitions.join(',') }).join('; ')]
          })),
          h('h2', { text: 'Offsets' }),
          table(['topic', 'partition', 'committed', 'log start', 'high watermark', 'lag', 'lag (s)', 'member'], g.partitions.map(function (p) {
            return [p.topic, String(p.partition), s(p.committedOffset), String(p.logStartOffset), String(p.highWatermark), s(p.lag), s(p.lagSeconds), s(p.memberId)]
          })))
      }
      fill(g)
      var nodes = [
        h('h1', null, 'Group ', id), state,
        writeForm([field('reset to', to), field('offset / timestamp', at)], 'Reset offsets', function () {
          var body = { to: to.value }
          if (to.value === 'offset') body.offset = at.value
          if (to.value === 'timestamp') body.timestamp = at.value
          write('Reset the offsets of group ' + id + ' to ' + to.value + '?', 'POST', '/groups/' + enc(id) + '/reset', body, function () { return 'Reset group ' + id + ' to ' + to.value })
        }),
      ]
      // Members, offsets and lag stay live; the reset form keeps what is chosen.
      nodes.live = { ms: 2000, fn: function () { return api('GET', '/groups/' + enc(id)).then(fill) } }
      return nodes
    })
  }

  // ---------------------------------------------------------------- routing

  var seq = 0
  var timers = []
  // Runs fn every ms while the view that asked stays shown (and the tab is visible).
  function every(ms, fn) {
    var mine = seq
    var busy = false
    timers.push(setInterval(function () {
      if (mine !== seq || busy || document.visibilityState !== 'visible') return
      busy = true
      Promise.resolve(fn()).then(function () { busy = false }, function () { busy = false })
    }, ms))
  }
  // Draws the current view again in place, leaving the flash message as it is.
  function redraw() { return draw(false) }
  function route() { return draw(true) }
  function draw(fresh) {
    var hash = location.hash.replace(/^#/, '') || '/'
    var qAt = hash.indexOf('?')
    var path = qAt < 0 ? hash : hash.slice(0, qAt)
    var params = qAt < 0 ? '' : hash.slice(qAt + 1)
    var parts = path.split('/').filter(Boolean).map(decodeURIComponent)
    if (fresh) {
      // A view's timers belong to the page shown: another page starts its own.
      timers.forEach(clearInterval)
      timers = []
      seq++
    }
    var view
    if (parts.length === 0) view = overview()
    else if (parts[0] === 'topics') view = topics()
    else if (parts[0] === 'topic') view = topic(parts[1])
    else if (parts[0] === 'messages') view = messages(parts[1], params)
    else if (parts[0] === 'groups') view = groups()
    else if (parts[0] === 'group') view = group(parts[1])
    else view = Promise.reject(new Error('no page ' + path))
    var mine = seq
    view.then(function (nodes) {
      if (mine !== seq) return
      var y = window.scrollY
      main.replaceChildren.apply(main, nodes)
      if (!fresh) window.scrollTo(0, y)
      // A live view is drawn again in place every live.ms (or runs live.fn) while it is shown.
      if (fresh && nodes.live) every(nodes.live.ms, nodes.live.fn || redraw)
      document.body.setAttribute('data-view', parts[0] || 'overview')
    }, function (e) {
      if (mine !== seq) return
      if (!fresh) return
      main.replaceChildren(h('p', { text: 'Could not load this page.' }))
      show(e.message, false)
    })
    return view
  }
  window.addEventListener('hashchange', function () { clearFlash(); route() })
  route()
})()
`
