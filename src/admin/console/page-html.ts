/** The console's one HTML page: a shell the script fills in from the /v1 JSON API. */
export const PAGE_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Partita console</title>
<link rel="stylesheet" href="/console.css">
<link rel="icon" href="data:,">
</head>
<body>
<header>
  <strong>Partita</strong>
  <nav><a href="#/">Overview</a><a href="#/topics">Topics</a><a href="#/groups">Groups</a></nav>
</header>
<div id="flash" role="alert" hidden></div>
<main id="main">Loading…</main>
<script src="/console.js"></script>
</body>
</html>
`
