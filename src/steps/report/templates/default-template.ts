/**
 * The report's built-in look: the default template (used when a step gives neither `template` nor
 * `template_file`) and the one stylesheet every report carries inline. Kept as TypeScript strings so
 * they ship inside dist/ with no file to find at run time; docs/reference/steps/report.md shows the
 * template as a starting point for your own.
 */

/** Title, run metadata, every metric, every chart, every dataset as a table. */
export const DEFAULT_TEMPLATE = `<header class="pw-head">
<h1>{{ report.title }}</h1>
{% run_info %}
</header>
{% if report.metrics.size > 0 %}
<section class="pw-section">
<h2>Key figures</h2>
{% metrics %}
</section>
{% endif %}
{% if report.charts.size > 0 %}
<section class="pw-section">
<h2>Charts</h2>
{% charts %}
</section>
{% endif %}
{% tables %}
{% if report.datasets.size == 0 and report.charts.size == 0 and report.metrics.size == 0 %}
<p class="pw-note">This report shows nothing yet: list datasets, charts or metrics in the step's
<code>datasets:</code>, <code>charts:</code> and <code>metrics:</code>.</p>
{% endif %}
<footer class="pw-foot">{{ run.pipeline }} · run {{ run.id }} · Pipewright</footer>
`;

/**
 * One small stylesheet: readable from 360 px phones up, dark when the reader's system is (on screen
 * only), and print rules for the PDF (rows and cards never split across pages, table headings repeat).
 */
export const REPORT_CSS = `
:root{color-scheme:light dark;--fg:#1f2328;--muted:#59636e;--bg:#fff;--line:#d1d9e0;--head:#f6f8fa;--card:#fff;--good:#1a7f37;--bad:#cf222e;--link:#0969da}
@media screen and (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;--line:#3d444d;--head:#151b23;--card:#151b23;--good:#3fb950;--bad:#f85149;--link:#4493f8}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Liberation Sans","DejaVu Sans",sans-serif}
main{max-width:64rem;margin:0 auto;padding:1.25rem 1rem 2rem}
h1{font-size:1.7rem;line-height:1.25;margin:0 0 .5rem}
h2{font-size:1.25rem;margin:2rem 0 .6rem;padding-bottom:.25rem;border-bottom:1px solid var(--line)}
h3{font-size:1.05rem;margin:1.4rem 0 .4rem}
a{color:var(--link)}
code{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:.9em}
img{max-width:100%;height:auto}
.pw-meta{display:flex;flex-wrap:wrap;gap:.25rem 1.5rem;margin:0 0 1rem;color:var(--muted);font-size:.875rem}
.pw-meta div{min-width:0}.pw-meta dt{display:inline;font-weight:600}.pw-meta dt::after{content:": "}.pw-meta dd{display:inline;margin:0;overflow-wrap:anywhere}
.pw-metrics{display:grid;grid-template-columns:repeat(auto-fill,minmax(10.5rem,1fr));gap:.75rem;margin:.75rem 0}
.pw-metric{background:var(--card);border:1px solid var(--line);border-radius:.5rem;padding:.6rem .8rem;break-inside:avoid}
.pw-metric-label{color:var(--muted);font-size:.85rem}
.pw-metric-value{font-size:1.6rem;font-weight:600;line-height:1.2;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
.pw-change{font-size:.85rem;color:var(--muted);font-variant-numeric:tabular-nums}
.pw-change.pw-good{color:var(--good)}.pw-change.pw-bad{color:var(--bad)}
.pw-table{margin:.75rem 0 1.25rem}
.pw-scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;width:100%;font-size:.875rem;font-variant-numeric:tabular-nums}
th,td{padding:.3rem .55rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{background:var(--head);font-weight:600;white-space:nowrap}
td.pw-num,th.pw-num{text-align:right;white-space:nowrap}
td.pw-null{color:var(--muted)}
tfoot td{font-weight:600;border-top:2px solid var(--line);border-bottom:0}
.pw-note,caption{color:var(--muted);font-size:.8rem;margin:.35rem 0}
caption{caption-side:bottom;text-align:left}
.pw-chart{margin:.75rem 0 1.25rem;break-inside:avoid}
.pw-chart img{display:block;background:#fff;border-radius:.25rem}
.pw-chart figcaption{color:var(--muted);font-size:.85rem;margin-top:.3rem}
.pw-foot{margin-top:2.5rem;color:var(--muted);font-size:.75rem}
@media (max-width:30rem){body{font-size:14px}main{padding:.75rem .6rem 1.5rem}h1{font-size:1.4rem}.pw-metric-value{font-size:1.35rem}th,td{padding:.25rem .4rem}}
@media print{
:root{--fg:#000;--muted:#444;--bg:#fff;--line:#bbb;--head:#eee;--card:#fff;--good:#116329;--bad:#a40e26}
body{font-size:10pt}
main{max-width:none;padding:0}
.pw-scroll{overflow:visible}
thead{display:table-header-group}
tr,.pw-metric,.pw-chart,img{break-inside:avoid;page-break-inside:avoid}
h1,h2,h3{break-after:avoid;page-break-after:avoid}
.pw-foot{display:none}
a{color:inherit;text-decoration:none}
}
`.trim();
