"""The HTML report's page: markup, style and script in one string (no
file, no network: a Content-Security-Policy forbids any fetch). html.py puts
the run's data where ``/*REPORT_DATA*/null`` stands."""

PAGE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mozparallel report</title>
<style>
  :root { --pass: #2e9d4a; --unexpected: #d12f2f; --expected-fail: #e0902a; --skip: #9a9a9a; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
  h1 { font-size: 1.4em; margin: 0 0 .2em; }
  h2 { font-size: 1.1em; margin: 1.5em 0 .5em; }
  .muted { color: #666; }
  .legend span { display: inline-block; margin-right: 1em; }
  .swatch { display: inline-block; width: .9em; height: .9em; vertical-align: -0.1em; margin-right: .3em; border-radius: 2px; }
  #timeline { position: relative; border: 1px solid #ccc; background: #fafafa; }
  .lane { position: relative; height: 22px; border-bottom: 1px solid #eee; }
  .lane-label { position: absolute; left: 0; width: 70px; padding-left: 4px; font-size: 12px; line-height: 22px; color: #555; }
  .track { position: absolute; left: 74px; right: 6px; top: 2px; bottom: 2px; }
  .bar { position: absolute; top: 0; bottom: 0; min-width: 2px; border-radius: 2px; cursor: pointer;
         box-shadow: inset -1px 0 0 rgba(255,255,255,.7); }
  .bar:hover, .bar.selected { outline: 2px solid #000; z-index: 2; }
  .outcome-pass { background: var(--pass); }
  .outcome-unexpected { background: var(--unexpected); }
  .outcome-expected-fail { background: var(--expected-fail); }
  .outcome-skip { background: var(--skip); }
  .axis { position: relative; height: 18px; margin-left: 74px; margin-right: 6px; font-size: 11px; color: #666; }
  .axis span { position: absolute; transform: translateX(-50%); white-space: nowrap; }
  #tooltip { position: fixed; pointer-events: none; background: #222; color: #fff; padding: 4px 8px;
             border-radius: 3px; font-size: 12px; white-space: pre; display: none; z-index: 10; }
  #detail { border: 1px solid #ccc; padding: .5em 1em; margin-top: .8em; background: #fff; }
  #detail pre { max-height: 24em; overflow: auto; background: #f4f4f4; padding: .5em; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 2px 8px; border-bottom: 1px solid #eee; }
  th { cursor: pointer; user-select: none; background: #f0f0f0; }
  th.sorted-desc::after { content: " \25BC"; }
  th.sorted-asc::after { content: " \25B2"; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  tr.row-unexpected td:first-child { border-left: 4px solid var(--unexpected); }
  #history svg { background: #fafafa; border: 1px solid #ccc; }
</style>
</head>
<body>
<h1 id="title">mozparallel report</h1>
<p id="summary" class="muted"></p>

<h2>Timeline</h2>
<p class="legend">
  <span><i class="swatch outcome-pass"></i>passed</span>
  <span><i class="swatch outcome-unexpected"></i>unexpected</span>
  <span><i class="swatch outcome-expected-fail"></i>expected failure</span>
  <span><i class="swatch outcome-skip"></i>skipped</span>
  <span class="muted">one lane per worker slot; hover a bar for its numbers, click it for its output</span>
</p>
<div id="timeline"></div>
<div class="axis" id="axis"></div>
<div id="detail" hidden></div>
<div id="tooltip"></div>

<h2>Tests</h2>
<table id="tests">
  <thead><tr>
    <th data-key="test">Test</th><th data-key="outcome">Outcome</th>
    <th data-key="wall" data-num="1">Duration (s)</th><th data-key="cpu" data-num="1">CPU (s)</th>
    <th data-key="maxrss_kb" data-num="1">Peak memory (MB)</th><th data-key="slot" data-num="1">Worker</th>
  </tr></thead>
  <tbody></tbody>
</table>

<h2>Suite wall time, recent runs</h2>
<div id="history"></div>

<script id="report-data" type="application/json">/*REPORT_DATA*/null</script>
<script>
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const tests = data.tests || [];
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  };
  const secs = (v) => (v === null || v === undefined) ? "-" : v.toFixed(v < 1 ? 3 : v < 10 ? 2 : 1);
  const mb = (kb) => (kb === null || kb === undefined) ? "-" : (kb / 1024).toFixed(1);
  const outcomeText = {"pass": "passed", "unexpected": "unexpected", "expected-fail": "expected failure", "skip": "skipped"};

  // Header
  const c = data.counts || {};
  document.getElementById("title").textContent = data.title || "mozparallel report";
  const when = data.started ? new Date(data.started).toLocaleString() : "";
  document.getElementById("summary").textContent =
    tests.length + " tests: " + (c.pass || 0) + " passed, " + (c.unexpected || 0) + " unexpected, " +
    (c.skip || 0) + " skipped, " + (c["expected-fail"] || 0) + " expected failures; wall " +
    secs(data.wall) + " s with " + (data.jobs || "?") + " workers" + (when ? "; started " + when : "");

  // Timeline: one lane per worker slot, one bar per test that ran.
  const ran = [];
  tests.forEach((t, i) => { if (t.slot !== null && t.start !== null && t.wall !== null) ran.push(i); });
  let span = data.wall || 0;
  ran.forEach((i) => { span = Math.max(span, tests[i].start + tests[i].wall); });
  span = Math.max(span, 0.001);
  const slots = new Set();
  for (let s = 1; s <= (data.jobs || 0); s++) slots.add(s);
  ran.forEach((i) => slots.add(tests[i].slot));
  const tracks = {};
  const timeline = document.getElementById("timeline");
  Array.from(slots).sort((a, b) => a - b).forEach((s) => {
    const lane = el("div", "lane");
    lane.appendChild(el("div", "lane-label", "worker " + s));
    const track = el("div", "track");
    lane.appendChild(track);
    timeline.appendChild(lane);
    tracks[s] = track;
  });
  const tooltip = document.getElementById("tooltip");
  const summaryOf = (t) => t.test + "\n" + outcomeText[t.outcome] + " (" + t.status + ")" +
    "\nduration " + secs(t.wall) + " s, CPU " + secs(t.cpu) + " s, peak memory " + mb(t.maxrss_kb) + " MB";
  let selected = null;
  ran.forEach((i) => {
    const t = tests[i];
    const bar = el("div", "bar outcome-" + t.outcome);
    bar.style.left = (100 * t.start / span) + "%";
    bar.style.width = (100 * t.wall / span) + "%";
    bar.dataset.index = String(i);
    bar.setAttribute("aria-label", t.test);
    bar.addEventListener("mousemove", (ev) => {
      tooltip.textContent = summaryOf(t);
      tooltip.style.display = "block";
      tooltip.style.left = (ev.clientX + 12) + "px";
      tooltip.style.top = (ev.clientY + 12) + "px";
    });
    bar.addEventListener("mouseleave", () => { tooltip.style.display = "none"; });
    bar.addEventListener("click", () => {
      if (selected) selected.classList.remove("selected");
      selected = bar;
      bar.classList.add("selected");
      showDetail(t);
    });
    tracks[t.slot].appendChild(bar);
  });
  const axis = document.getElementById("axis");
  for (let k = 0; k <= 4; k++) {
    const label = el("span", null, secs(span * k / 4) + " s");
    label.style.left = (25 * k) + "%";
    axis.appendChild(label);
  }

  function showDetail(t) {
    const box = document.getElementById("detail");
    box.replaceChildren();
    box.appendChild(el("h3", null, t.test));
    const facts = [
      ["outcome", outcomeText[t.outcome] + " (" + t.status + (t.expected ? ", expected " + t.expected : "") + ")"],
      ["worker", t.slot === null ? "-" : String(t.slot)],
      ["started at", secs(t.start) + " s"],
      ["duration", secs(t.wall) + " s"],
      ["CPU", secs(t.cpu) + " s"],
      ["peak memory", mb(t.maxrss_kb) + " MB"],
    ];
    if (t.message) facts.push(["message", t.message]);
    if (t.resumed_from) facts.push(["result of", "run " + t.resumed_from + " (--resume; not on the timeline)"]);
    const list = el("ul");
    facts.forEach(([k, v]) => list.appendChild(el("li", null, k + ": " + v)));
    box.appendChild(list);
    if (t.output && t.output.length) {
      box.appendChild(el("div", null, "output:"));
      box.appendChild(el("pre", null, t.output.join("\n")));
    }
    box.hidden = false;
  }

  // Table, sortable by any column (numbers largest first).
  const tbody = document.querySelector("#tests tbody");
  const rows = tests.map((t) => {
    const tr = el("tr", "row-" + t.outcome);
    tr.appendChild(el("td", null, t.test));
    tr.appendChild(el("td", null, outcomeText[t.outcome]));
    tr.appendChild(el("td", "num", secs(t.wall)));
    tr.appendChild(el("td", "num", secs(t.cpu)));
    tr.appendChild(el("td", "num", mb(t.maxrss_kb)));
    tr.appendChild(el("td", "num", t.slot === null ? "-" : String(t.slot)));
    tr.addEventListener("click", () => showDetail(t));
    return {t: t, tr: tr};
  });
  let sortKey = null, sortDesc = true;
  function sortBy(th) {
    const key = th.dataset.key, num = !!th.dataset.num;
    sortDesc = (key === sortKey) ? !sortDesc : num;
    sortKey = key;
    const val = (r) => r.t[key];
    rows.sort((a, b) => {
      const x = val(a), y = val(b);
      if (x === y) return 0;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      const d = num ? x - y : String(x).localeCompare(String(y));
      return sortDesc ? -d : d;
    });
    document.querySelectorAll("#tests th").forEach((h) => h.classList.remove("sorted-asc", "sorted-desc"));
    th.classList.add(sortDesc ? "sorted-desc" : "sorted-asc");
    tbody.replaceChildren(...rows.map((r) => r.tr));
  }
  document.querySelectorAll("#tests th").forEach((th) => th.addEventListener("click", () => sortBy(th)));
  sortBy(document.querySelector('#tests th[data-key="wall"]'));

  // History: the suite's wall time over recent runs (from the store).
  const hist = (data.history || []).filter((h) => h.wall !== null && h.wall !== undefined);
  const box = document.getElementById("history");
  if (!hist.length) {
    box.appendChild(el("p", "muted", "No earlier runs recorded for this suite."));
  } else {
    const ns = "http://www.w3.org/2000/svg";
    const w = Math.max(300, 40 * hist.length + 60), h = 160;
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("width", w);
    svg.setAttribute("height", h);
    svg.setAttribute("id", "history-chart");
    const top = hist.reduce((m, x) => Math.max(m, x.wall), 0.001);
    hist.forEach((x, k) => {
      const bh = (h - 40) * x.wall / top;
      const r = document.createElementNS(ns, "rect");
      r.setAttribute("x", 40 + 40 * k);
      r.setAttribute("y", h - 20 - bh);
      r.setAttribute("width", 28);
      r.setAttribute("height", Math.max(bh, 1));
      r.setAttribute("fill", x.current ? "#3b6fb6" : (x.unexpected ? "#d12f2f" : "#8aa9d6"));
      const tip = document.createElementNS(ns, "title");
      tip.textContent = (x.label || ("run " + (k + 1))) + ": " + secs(x.wall) + " s" +
        (x.tests !== undefined ? ", " + x.tests + " tests" : "");
      r.appendChild(tip);
      svg.appendChild(r);
      const t = document.createElementNS(ns, "text");
      t.setAttribute("x", 40 + 40 * k + 14);
      t.setAttribute("y", h - 24 - bh);
      t.setAttribute("font-size", "10");
      t.setAttribute("text-anchor", "middle");
      t.textContent = secs(x.wall);
      svg.appendChild(t);
    });
    box.appendChild(svg);
    box.appendChild(el("p", "muted", "Oldest on the left; the darkest bar is this run."));
  }
})();
</script>
</body>
</html>
"""
