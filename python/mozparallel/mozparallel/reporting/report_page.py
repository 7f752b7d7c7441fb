"""The HTML report's page: markup, style and script in one string (no
file, no network: a Content-Security-Policy forbids any fetch). html.py puts
the run's data where ``/*REPORT_DATA*/null`` stands.

Every colour is set once, by a class (``outcome-*``, ``hist-*``) used by
both the legends' swatches and what they explain, so a legend cannot say
another colour than its bars."""

PAGE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mozparallel report</title>
<style>
  :root { --pass: #2e8540; --unexpected: #c62828; --expected-fail: #d9822b; --skip: #8a8a8a;
          --memory-retry: #7e57c2; --interrupted: #b0b0b0; }
  [hidden] { display: none !important; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
  h1 { font-size: 1.4em; margin: 0 0 .2em; }
  h2 { font-size: 1.1em; margin: 1.5em 0 .5em; }
  code { font: 13px/1.4 ui-monospace, monospace; }
  .muted { color: #666; }
  #interrupted { background: #fff3cd; border: 2px solid #d9822b; padding: .6em 1em; margin-bottom: 1em;
                 font-weight: 600; }
  #interrupted a { font-weight: normal; }
  #facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 1em; margin: .6em 0; }
  #facts dt { color: #666; }
  #facts dd { margin: 0; overflow-wrap: anywhere; }
  #run-info table { width: auto; }
  #run-info td:first-child { color: #555; }
  .legend span { display: inline-block; margin-right: 1em; }
  .swatch { display: inline-block; width: .9em; height: .9em; vertical-align: -0.1em; margin-right: .3em; border-radius: 2px; }
  #timeline { position: relative; border: 1px solid #ccc; background: #fafafa; }
  .lane { position: relative; height: 22px; border-bottom: 1px solid #eee; }
  .lane-label { position: absolute; left: 0; width: 70px; padding-left: 4px; font-size: 12px; line-height: 22px; color: #555;
                overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .track { position: absolute; left: 74px; right: 6px; top: 2px; bottom: 2px; }
  .bar { position: absolute; top: 0; bottom: 0; min-width: 2px; border-radius: 2px; cursor: pointer;
         box-shadow: inset -1px 0 0 rgba(255,255,255,.8); box-sizing: border-box; padding: 0 3px;
         overflow: hidden; white-space: nowrap; text-overflow: ellipsis;
         color: #fff; font-size: 11px; line-height: 18px; }
  .bar:hover, .bar.selected { outline: 2px solid #000; z-index: 2; }
  .bar.dim { opacity: .15; }
  .outcome-pass { background: var(--pass); }
  .outcome-unexpected { background: var(--unexpected); }
  .outcome-expected-fail { background: var(--expected-fail); }
  .outcome-skip { background: var(--skip); }
  .outcome-memory-retry { background: var(--memory-retry); }
  .axis { position: relative; height: 18px; margin-left: 74px; margin-right: 6px; font-size: 11px; color: #666; }
  .axis span { position: absolute; transform: translateX(-50%); white-space: nowrap; }
  #tooltip { position: fixed; pointer-events: none; background: #222; color: #fff; padding: 4px 8px;
             border-radius: 3px; font-size: 12px; white-space: pre; display: none; z-index: 10; }
  #detail { border: 1px solid #ccc; padding: .5em 1em; margin-top: .8em; background: #fff; }
  #detail pre { max-height: 24em; overflow: auto; background: #f4f4f4; padding: .5em; white-space: pre-wrap; }
  #filters { display: flex; gap: 1.2em; align-items: center; margin-bottom: .5em; }
  #filter { width: 28em; padding: 3px 6px; font: inherit; }
  table { border-collapse: collapse; width: 100%; table-layout: auto; }
  th, td { text-align: left; padding: 2px 8px; border-bottom: 1px solid #eee; vertical-align: top; }
  th { cursor: pointer; user-select: none; background: #f0f0f0; white-space: nowrap; }
  th.sorted-desc::after { content: " \25BC"; }
  th.sorted-asc::after { content: " \25B2"; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
  td.test { overflow-wrap: anywhere; }
  td.message { max-width: 34em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; color: #444; }
  .badge { display: inline-block; padding: 0 6px; border-radius: 3px; color: #fff; font-size: 12px; font-weight: 600; }
  .expected { font-size: 12px; color: #666; margin-left: .4em; white-space: nowrap; }
  tbody tr { cursor: pointer; }
  tbody tr:hover { background: #f6f8fb; }
  tr.row-unexpected td:first-child { border-left: 4px solid var(--unexpected); }
  #history svg { background: #fafafa; border: 1px solid #ccc; }
  .hist-ok { background: var(--pass); fill: var(--pass); }
  .hist-unexpected { background: var(--unexpected); fill: var(--unexpected); }
  .hist-interrupted { background: var(--interrupted); fill: var(--interrupted); }
  .swatch.hist-current { background: transparent; border: 2px solid #000; box-sizing: border-box; }
  rect.hist-current { stroke: #000; stroke-width: 2; }
</style>
</head>
<body>
<div id="interrupted" hidden></div>
<h1 id="title">mozparallel report</h1>
<p id="summary" class="muted"></p>
<dl id="facts"></dl>
<details id="run-info"><summary></summary><table><tbody></tbody></table></details>

<h2>Timeline</h2>
<p class="legend">
  <span><i class="swatch outcome-pass"></i>passed</span>
  <span><i class="swatch outcome-unexpected"></i>unexpected</span>
  <span><i class="swatch outcome-expected-fail"></i>expected failure</span>
  <span><i class="swatch outcome-skip"></i>skipped</span>
  <span><i class="swatch outcome-memory-retry"></i>ended for memory, run again alone</span>
  <span class="muted">one lane per worker slot; hover a bar for its numbers, click it for its output</span>
</p>
<div id="timeline"></div>
<div class="axis" id="axis"></div>
<div id="detail" hidden></div>
<div id="tooltip"></div>

<h2>Tests</h2>
<div id="filters">
  <input id="filter" type="search" placeholder="Filter: part of a name, a status (TIMEOUT) or a message"
         aria-label="Filter tests">
  <label><input id="only-unexpected" type="checkbox"> only unexpected</label>
  <span id="shown" class="muted"></span>
</div>
<table id="tests">
  <thead><tr>
    <th data-key="test">Test</th><th data-key="rank" data-num="1">Status</th><th data-key="message">Message</th>
    <th data-key="wall" data-num="1">Duration (s)</th><th data-key="cpu" data-num="1">CPU (s)</th>
    <th data-key="peak_rss_kb" data-num="1" title="peak RSS of the test's process tree, as 'paralleltest history' shows it">Peak memory (MiB)</th>
    <th data-key="slot" data-num="1">Worker</th>
  </tr></thead>
  <tbody></tbody>
</table>

<h2>Suite wall time, recent runs</h2>
<p class="legend" id="history-legend">
  <span data-kind="hist-ok"><i class="swatch hist-ok"></i>every result as expected</span>
  <span data-kind="hist-unexpected"><i class="swatch hist-unexpected"></i>unexpected results</span>
  <span data-kind="hist-interrupted"><i class="swatch hist-interrupted"></i>this run, interrupted (partial)</span>
  <span data-kind="hist-current"><i class="swatch hist-current"></i>this run</span>
  <span class="muted">oldest on the left</span>
</p>
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
  const mib = (kb) => (kb === null || kb === undefined) ? "-" : (kb / 1024).toFixed(1);
  // Not measured: the test ended before its tree's first sample (execution/metrics.py).
  const mibText = (kb) => (kb === null || kb === undefined) ? "not measured (too short)" : mib(kb) + " MiB";
  const outcomeText = {"pass": "passed", "unexpected": "unexpected", "expected-fail": "expected failure", "skip": "skipped",
                       "memory-retry": "ended for memory, run again alone"};
  const rankOf = {"unexpected": 0, "expected-fail": 1, "memory-retry": 2, "pass": 3, "skip": 4};
  const baseName = (p) => p.split(/[\\/]/).pop();
  const firstLine = (m) => (m || "").split("\n")[0];
  // What a test's status reads as: "TIMEOUT (expected OK)", "FAIL (expected)", "OK".
  const statusText = (t) => t.status + (t.outcome === "unexpected" && t.expected ? " (expected " + t.expected + ")"
                                        : t.outcome === "expected-fail" ? " (expected)" : "");
  tests.forEach((t) => { t.rank = rankOf[t.outcome]; });

  // Header: interrupted?, counts, command line, run_info.
  const c = data.counts || {};
  if (data.interrupted) {
    const box = document.getElementById("interrupted");
    box.appendChild(document.createTextNode("Interrupted run (" + data.interrupted + "): " +
      (data.unfinished || 0) + " of " + (data.planned || tests.length) +
      " tests did not finish; the results below are partial. "));
    if (data.complete_report) {
      const a = el("a", null, "The last complete run's report");
      a.href = data.complete_report;
      box.appendChild(a);
      box.appendChild(document.createTextNode(" is kept."));
    }
    box.hidden = false;
  }
  document.getElementById("title").textContent = (data.interrupted ? "Interrupted: " : "") +
    (data.title || "mozparallel report") + (data.run_id ? " " + data.run_id : "");
  const byStatus = {};
  tests.forEach((t) => { if (t.outcome === "unexpected") byStatus[t.status] = (byStatus[t.status] || 0) + 1; });
  const detail = Object.keys(byStatus).sort().map((s) => byStatus[s] + " " + s).join(", ");
  const when = data.started ? new Date(data.started).toLocaleString() : "";
  document.getElementById("summary").textContent =
    (tests.length - (c["memory-retry"] || 0)) + " tests: " + (c.pass || 0) + " passed, " + (c.unexpected || 0) +
    " unexpected" + (detail ? " (" + detail + ")" : "") + ", " + (c.skip || 0) + " skipped, " +
    (c["expected-fail"] || 0) + " expected failures" +
    (c["memory-retry"] ? ", " + c["memory-retry"] + " ended for memory and run again alone" : "") + "; wall " +
    secs(data.wall) + " s with " + (data.jobs || "?") + " workers" + (when ? "; started " + when : "");
  const facts = document.getElementById("facts");
  const fact = (k, v, code) => {
    if (v === null || v === undefined || v === "") return;
    facts.appendChild(el("dt", null, k));
    const dd = el("dd");
    dd.appendChild(code ? el("code", null, v) : document.createTextNode(v));
    facts.appendChild(dd);
  };
  fact("command", data.command, true);
  fact("directory", data.cwd, true);
  const info = data.run_info || {};
  const keys = Object.keys(info).sort();
  const infoBox = document.getElementById("run-info");
  infoBox.querySelector("summary").textContent = "run_info (" + keys.length + " values, as manifest conditions see them)";
  const infoBody = infoBox.querySelector("tbody");
  keys.forEach((k) => {
    const tr = el("tr");
    tr.appendChild(el("td", null, k));
    tr.appendChild(el("td", null, JSON.stringify(info[k])));
    infoBody.appendChild(tr);
  });
  if (!keys.length) infoBox.hidden = true;

  // Timeline: one lane per worker slot, one labelled bar per test that ran.
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
  const slotNames = {};     // a fleet run: the worker process behind each lane
  ran.forEach((i) => { if (tests[i].worker) slotNames[tests[i].slot] = tests[i].worker; });
  Array.from(slots).sort((a, b) => a - b).forEach((s) => {
    const lane = el("div", "lane");
    const label = el("div", "lane-label", slotNames[s] || "worker " + s);
    if (slotNames[s]) label.title = "slot " + s + ": " + slotNames[s];
    lane.appendChild(label);
    const track = el("div", "track");
    lane.appendChild(track);
    timeline.appendChild(lane);
    tracks[s] = track;
  });
  const tooltip = document.getElementById("tooltip");
  const summaryOf = (t) => t.test + "\n" + statusText(t) + " - " + outcomeText[t.outcome] +
    (t.message ? "\n" + firstLine(t.message) : "") +
    "\nduration " + secs(t.wall) + " s, CPU " + secs(t.cpu) + " s, peak memory " + mibText(t.peak_rss_kb);
  let selected = null;
  const bars = {};
  ran.forEach((i) => {
    const t = tests[i];
    const bar = el("div", "bar outcome-" + t.outcome, baseName(t.test));
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
    bars[i] = bar;
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
      ["status", statusText(t) + ", " + outcomeText[t.outcome]],
      ["worker", t.slot === null ? "-" : String(t.slot)],
      ["started at", secs(t.start) + " s"],
      ["duration", secs(t.wall) + " s"],
      ["CPU", secs(t.cpu) + " s"],
      ["peak memory", mibText(t.peak_rss_kb)],
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

  // Table: failures first (then longest first); sortable by any column; filterable.
  const tbody = document.querySelector("#tests tbody");
  const rows = tests.map((t, i) => {
    const tr = el("tr", "row-" + t.outcome);
    tr.appendChild(el("td", "test", t.test));
    const st = el("td", "status");
    st.appendChild(el("span", "badge outcome-" + t.outcome, t.status));
    if (t.outcome === "unexpected" && t.expected) st.appendChild(el("span", "expected", "expected " + t.expected));
    if (t.outcome === "expected-fail") st.appendChild(el("span", "expected", "expected"));
    tr.appendChild(st);
    const msg = el("td", "message", firstLine(t.message));
    if (t.message) msg.title = t.message;
    tr.appendChild(msg);
    tr.appendChild(el("td", "num", secs(t.wall)));
    tr.appendChild(el("td", "num", secs(t.cpu)));
    tr.appendChild(el("td", "num", mib(t.peak_rss_kb)));
    tr.appendChild(el("td", "num", t.slot === null ? "-" : String(t.slot)));
    tr.addEventListener("click", () => showDetail(t));
    const haystack = [t.test, t.status, t.expected || "", outcomeText[t.outcome], t.message || ""].join("\n").toLowerCase();
    return {t: t, tr: tr, i: i, haystack: haystack};
  });
  const cmp = (x, y, num) => {
    if (x === y) return 0;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return num ? x - y : String(x).localeCompare(String(y));
  };
  let sortKey = null, sortDesc = true;
  function sortBy(th) {
    const key = th.dataset.key, num = !!th.dataset.num;
    const byRank = key === "rank";
    sortDesc = (key === sortKey) ? !sortDesc : (num && !byRank);
    sortKey = key;
    rows.sort((a, b) => {
      const d = cmp(a.t[key], b.t[key], num);
      // Ties (within a status) longest first.
      return (sortDesc ? -d : d) || cmp(b.t.wall, a.t.wall, true);
    });
    document.querySelectorAll("#tests th").forEach((h) => h.classList.remove("sorted-asc", "sorted-desc"));
    th.classList.add(sortDesc ? "sorted-desc" : "sorted-asc");
    tbody.replaceChildren(...rows.map((r) => r.tr));
  }
  document.querySelectorAll("#tests th").forEach((th) => th.addEventListener("click", () => sortBy(th)));
  sortBy(document.querySelector('#tests th[data-key="rank"]'));

  const filter = document.getElementById("filter"), onlyUnexpected = document.getElementById("only-unexpected");
  function applyFilter() {
    const words = filter.value.toLowerCase().split(/\s+/).filter((w) => w);
    let shown = 0;
    rows.forEach((r) => {
      const ok = (!onlyUnexpected.checked || r.t.outcome === "unexpected") &&
                 words.every((w) => r.haystack.includes(w));
      r.tr.hidden = !ok;
      if (bars[r.i]) bars[r.i].classList.toggle("dim", !ok);
      if (ok) shown++;
    });
    document.getElementById("shown").textContent = shown + " of " + rows.length + " tests shown";
  }
  filter.addEventListener("input", applyFilter);
  onlyUnexpected.addEventListener("change", applyFilter);
  applyFilter();

  // History: the suite's wall time over recent runs (from the store).
  const hist = (data.history || []).filter((h) => h.wall !== null && h.wall !== undefined);
  const box = document.getElementById("history");
  if (!hist.length) {
    document.getElementById("history-legend").hidden = true;
    box.appendChild(el("p", "muted", "No runs of this suite recorded (no history store, or it could not be read)."));
  } else {
    const ns = "http://www.w3.org/2000/svg";
    const w = Math.max(300, 40 * hist.length + 60), h = 170;
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("width", w);
    svg.setAttribute("height", h);
    svg.setAttribute("id", "history-chart");
    const top = hist.reduce((m, x) => Math.max(m, x.wall), 0.001);
    hist.forEach((x, k) => {
      const bh = (h - 50) * x.wall / top;
      const r = document.createElementNS(ns, "rect");
      r.setAttribute("x", 40 + 40 * k);
      r.setAttribute("y", h - 30 - bh);
      r.setAttribute("width", 28);
      r.setAttribute("height", Math.max(bh, 1));
      const kind = x.interrupted ? "hist-interrupted" : x.unexpected ? "hist-unexpected" : "hist-ok";
      r.setAttribute("class", kind + (x.current ? " hist-current" : ""));
      const tip = document.createElementNS(ns, "title");
      tip.textContent = (x.label || ("run " + (k + 1))) + ": " + secs(x.wall) + " s" +
        (x.tests !== undefined ? ", " + x.tests + " tests" : "") +
        (x.interrupted ? ", interrupted" : x.unexpected ? ", " + x.unexpected + " unexpected" : "");
      r.appendChild(tip);
      svg.appendChild(r);
      const t = document.createElementNS(ns, "text");
      t.setAttribute("x", 40 + 40 * k + 14);
      t.setAttribute("y", h - 34 - bh);
      t.setAttribute("font-size", "10");
      t.setAttribute("text-anchor", "middle");
      t.textContent = secs(x.wall);
      svg.appendChild(t);
      if (x.current) {
        const label = document.createElementNS(ns, "text");
        label.setAttribute("x", 40 + 40 * k + 14);
        label.setAttribute("y", h - 14);
        label.setAttribute("font-size", "10");
        label.setAttribute("text-anchor", "middle");
        label.textContent = "this run";
        svg.appendChild(label);
      }
    });
    box.appendChild(svg);
    // The legend names the colours the chart uses, no others.
    document.querySelectorAll("#history-legend [data-kind]").forEach((item) => {
      item.hidden = !svg.querySelector("rect." + item.dataset.kind);
    });
  }
})();
</script>
</body>
</html>
"""
