// The console's static files: its stylesheet and its one small script (charts with uPlot, which the
// agent serves from node_modules: nothing is fetched from elsewhere at run time).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export const CONSOLE_CSS = `
:root { --fg: #1d2330; --muted: #5f6b7a; --line: #dde2e8; --bg: #f6f8fa; --accent: #2459c2; --warn: #b3261e; --ok: #1e7a34; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: #fff; }
header { display: flex; gap: 1.5em; align-items: center; padding: .6em 1.2em; background: #17202e; color: #fff; }
header a { color: #cfe0ff; text-decoration: none; margin-right: 1em; }
header a.current { color: #fff; font-weight: 600; }
header .brand { font-weight: 700; color: #fff; }
header .agent { margin-left: auto; color: #aab6c6; font-size: 12px; }
main { padding: 1em 1.2em 3em; max-width: 1400px; }
h1 { font-size: 20px; margin: .3em 0 .6em; word-break: break-all; }
h2 { font-size: 16px; margin: 1.4em 0 .5em; }
table { border-collapse: collapse; margin: .3em 0 1em; }
th, td { border-bottom: 1px solid var(--line); padding: .3em .7em; text-align: left; vertical-align: top; }
th { background: var(--bg); font-weight: 600; font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .02em; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
.cards { display: flex; flex-wrap: wrap; gap: .8em; margin: .5em 0 1em; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: .6em .9em; min-width: 11em; background: var(--bg); }
.card .label { font-size: 12px; color: var(--muted); }
.card .value { font-size: 20px; font-weight: 600; font-variant-numeric: tabular-nums; }
.status-live { color: var(--ok); font-weight: 600; }
.status-dead, .lag-high, .error { color: var(--warn); font-weight: 600; }
.muted { color: var(--muted); }
pre { margin: 0; white-space: pre-wrap; word-break: break-all; font: 12px/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; max-height: 24em; overflow: auto; }
pre.hex { white-space: pre; word-break: normal; }
.nowrap { white-space: nowrap; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12px; }
form.seek { display: flex; flex-wrap: wrap; gap: .8em; align-items: end; padding: .7em; background: var(--bg); border: 1px solid var(--line); border-radius: 6px; }
form.seek label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); }
form.seek input, form.seek select { font: inherit; padding: .2em .4em; }
.chart { margin: .5em 0 1em; }
.note { font-size: 12px; color: var(--muted); }
.headers div { white-space: nowrap; }
a { color: var(--accent); }
`;

export const CONSOLE_JS = `
'use strict';
(function () {
  var colors = ['#2459c2', '#d9730d', '#1e7a34', '#b3261e', '#6b3fa0'];
  function fmt(v) {
    if (v == null) return '-';
    var a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(1) + 'G';
    if (a >= 1e6) return (v / 1e6).toFixed(1) + 'M';
    if (a >= 1e3) return (v / 1e3).toFixed(1) + 'k';
    return String(Math.round(v * 100) / 100);
  }
  document.querySelectorAll('script.chart-data').forEach(function (el) {
    var spec = JSON.parse(el.textContent);
    var box = document.createElement('div');
    box.className = 'chart';
    box.setAttribute('data-chart', el.id);
    el.parentNode.insertBefore(box, el);
    if (spec.columns[0].length === 0) {
      box.textContent = spec.empty;
      box.className = 'chart note';
      return;
    }
    var width = Math.min(900, Math.max(320, box.parentNode.clientWidth - 20));
    var series = [{}].concat(spec.labels.map(function (l, i) {
      return { label: l, stroke: colors[i % colors.length], width: 2, value: function (u, v) { return fmt(v); } };
    }));
    new uPlot({
      title: spec.title, width: width, height: 220, series: series,
      axes: [{}, { values: function (u, vals) { return vals.map(fmt); }, size: 60 }],
      scales: { y: { range: function (u, min, max) { return [0, Math.max(1, max * 1.1)]; } } }
    }, [spec.columns[0].map(function (t) { return t / 1000; })].concat(spec.columns.slice(1)), box);
  });
})();
`;

const require = createRequire(import.meta.url);

/** uPlot's browser build and stylesheet, read once from node_modules. */
export function uplotAssets(): { js: string; css: string } {
  return {
    js: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
    css: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
  };
}
