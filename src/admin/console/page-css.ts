/** The console's stylesheet. */
export const PAGE_CSS = String.raw`body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f6f7f9; }
header { display: flex; gap: 24px; align-items: center; padding: 10px 20px; background: #1d2330; color: #fff; }
header nav a { color: #cfd6e4; margin-right: 16px; text-decoration: none; }
header nav a:hover { color: #fff; }
main { padding: 16px 20px; }
h1 { font-size: 20px; margin: 8px 0 12px; }
h2 { font-size: 16px; margin: 20px 0 8px; }
table { border-collapse: collapse; background: #fff; margin-bottom: 12px; }
th, td { border: 1px solid #dde1e8; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #eef0f4; font-weight: 600; }
pre { margin: 0; white-space: pre-wrap; word-break: break-all; max-width: 60ch; font: 12px/1.3 ui-monospace, monospace; }
.fmt { color: #6b7385; font-size: 11px; }
form { display: flex; flex-wrap: wrap; gap: 8px; align-items: end; background: #fff; border: 1px solid #dde1e8; padding: 10px; margin-bottom: 12px; }
label { display: flex; flex-direction: column; font-size: 12px; color: #4a5265; }
input, select, textarea { font: inherit; padding: 3px 6px; }
button { font: inherit; padding: 4px 12px; cursor: pointer; }
button.danger { color: #a01818; }
#flash { margin: 10px 20px 0; padding: 8px 12px; border-radius: 4px; }
#flash.error { background: #fde8e8; border: 1px solid #e3a0a0; color: #7a1010; }
#flash.ok { background: #e6f6ea; border: 1px solid #9fd3ad; color: #14532d; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; }
.card { background: #fff; border: 1px solid #dde1e8; padding: 10px 16px; min-width: 120px; }
.card b { display: block; font-size: 22px; }
.chart { background: #fff; border: 1px solid #dde1e8; padding: 8px; display: inline-block; }
.chart svg { display: block; max-width: 100%; height: auto; font: 11px system-ui, sans-serif; fill: #6b7385; }
.chart .axis { stroke: #9aa3b5; }
.chart .grid { stroke: #e3e6ec; stroke-dasharray: 3 3; }
.line-in, .line-out { stroke-width: 2; stroke-linejoin: round; }
.line-in { stroke: #2b6cb0; }
.line-out { stroke: #d97706; stroke-dasharray: 5 3; }
.legend { display: flex; gap: 16px; font-size: 12px; margin-top: 4px; }
.legend .key-in::before, .legend .key-out::before { content: ''; display: inline-block; width: 14px; height: 3px; margin-right: 5px; vertical-align: middle; }
.legend .key-in::before { background: #2b6cb0; }
.legend .key-out::before { background: #d97706; }
.search { display: flex; gap: 10px; align-items: center; margin-bottom: 8px; }
a.button { display: inline-block; padding: 4px 12px; border: 1px solid #9aa3b5; border-radius: 3px; background: #fff; color: inherit; text-decoration: none; }
`
