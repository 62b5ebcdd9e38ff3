"""The reference for bench/report-cycle.mjs: the weekly report cycle in Python, as our users run it today.

Usage: python3 bench/report_cycle.py <readings.csv> <out-dir> <smtp-port>

1-minute probe readings → hourly mean per probe, per-probe summary, daily maximum, distribution →
three matplotlib charts (PNG, Agg backend) → an HTML report (charts inline) and a reportlab PDF (charts
and tables) → one e-mail through smtplib to 127.0.0.1:<smtp-port> (no TLS, no login): the HTML as the
message with the charts as inline images, the PDF and the summary CSV attached. Debian's
python3-pandas, python3-matplotlib and python3-reportlab. Prints the time of each phase as JSON; with
BENCH_RUSAGE_FILE set, writes peak RSS and CPU time to that file at exit, like
bench/rusage-report.mjs does for Node.
"""

import atexit
import json
import os
import resource
import sys
import time


def report_usage(path):
    usage = resource.getrusage(resource.RUSAGE_SELF)
    with open(path, "w", encoding="utf-8") as out:
        json.dump(
            {
                "maxRssKiB": usage.ru_maxrss,  # KiB on Linux
                "userMicros": usage.ru_utime * 1e6,
                "systemMicros": usage.ru_stime * 1e6,
            },
            out,
        )


usage_file = os.environ.pop("BENCH_RUSAGE_FILE", None)
if usage_file:
    atexit.register(report_usage, usage_file)

started = time.perf_counter()
# Imported after the clock starts: part of the script's cost, as Pipewright's module loading is.
import base64  # noqa: E402
import html  # noqa: E402
import smtplib  # noqa: E402
from email.message import EmailMessage  # noqa: E402
from email.utils import make_msgid  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from reportlab.lib import colors  # noqa: E402
from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.lib.styles import getSampleStyleSheet  # noqa: E402
from reportlab.lib.units import mm  # noqa: E402
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle  # noqa: E402

source, out_dir, smtp_port = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(out_dir, exist_ok=True)
LOW, HIGH = 25, 35
FOCUS = ["probe-001", "probe-002", "probe-003", "probe-004"]
phases = {}
mark = time.perf_counter()
phases["import_s"] = mark - started


def lap(name):
    global mark
    now = time.perf_counter()
    phases[name] = now - mark
    mark = now


# --- read --------------------------------------------------------------------------------------------
readings = pd.read_csv(source, parse_dates=["ts"], dtype={"probe": "category", "temp_c": "float64"})
lap("read_s")

# --- aggregates --------------------------------------------------------------------------------------
hourly = (
    readings.groupby([readings["ts"].dt.floor("h").rename("hour"), "probe"], observed=True, sort=True)["temp_c"]
    .mean()
    .reset_index()
)
summary = (
    readings.groupby("probe", observed=True, sort=True)["temp_c"]
    .agg(readings="count", min_c="min", mean_c="mean", max_c="max")
    .reset_index()
)
hot_hours = hourly[hourly["temp_c"] > HIGH].groupby("probe", observed=True).size()
summary["hours_above_high"] = summary["probe"].map(hot_hours).fillna(0).astype(int)
daily = readings.groupby(readings["ts"].dt.floor("D").rename("day"))["temp_c"].max().reset_index(name="max_c")
bins = (readings["temp_c"] * 2).floordiv(1).div(2).rename("bin_c")
distribution = readings.groupby(bins)["temp_c"].count().reset_index(name="readings")
summary_csv = os.path.join(out_dir, "summary.csv")
summary.to_csv(summary_csv, index=False)
lap("aggregate_s")

# --- charts ------------------------------------------------------------------------------------------
charts = {}

fig, ax = plt.subplots(figsize=(9, 4.5), dpi=100)
for probe in FOCUS:
    rows = hourly[hourly["probe"] == probe]
    ax.plot(rows["hour"], rows["temp_c"], label=probe, linewidth=1)
ax.axhline(LOW, linestyle="--", color="#555555", linewidth=1)
ax.axhline(HIGH, linestyle="--", color="#d62728", linewidth=1)
ax.text(1.0, LOW, f" {LOW} °C", transform=ax.get_yaxis_transform(), va="center")
ax.text(1.0, HIGH, f" {HIGH} °C", transform=ax.get_yaxis_transform(), va="center", color="#d62728")
ax.set_title("Hourly mean temperature")
ax.set_xlabel("Hour")
ax.set_ylabel("Temperature (°C)")
ax.legend(loc="upper left", fontsize="small")
fig.autofmt_xdate()
fig.tight_layout()
charts["hourly_chart"] = os.path.join(out_dir, "hourly_chart.png")
fig.savefig(charts["hourly_chart"], dpi=200)
plt.close(fig)

fig, ax = plt.subplots(figsize=(9, 4.5), dpi=100)
ax.bar(daily["day"].dt.strftime("%Y-%m-%d"), daily["max_c"], color="#4c78a8")
ax.set_title("Daily maximum")
ax.set_xlabel("Day")
ax.set_ylabel("Temperature (°C)")
fig.tight_layout()
charts["daily_chart"] = os.path.join(out_dir, "daily_chart.png")
fig.savefig(charts["daily_chart"], dpi=200)
plt.close(fig)

fig, ax = plt.subplots(figsize=(9, 4.5), dpi=100)
ax.fill_between(distribution["bin_c"], distribution["readings"], step=None, alpha=0.6, color="#4c78a8")
ax.plot(distribution["bin_c"], distribution["readings"], color="#4c78a8", linewidth=1)
ax.set_title("Distribution of readings")
ax.set_xlabel("Temperature (°C, 0.5 °C bins)")
ax.set_ylabel("Readings")
ax.set_ylim(bottom=0)
fig.tight_layout()
charts["distribution_chart"] = os.path.join(out_dir, "distribution_chart.png")
fig.savefig(charts["distribution_chart"], dpi=200)
plt.close(fig)
lap("charts_s")

# --- HTML --------------------------------------------------------------------------------------------
title = f"Weekly temperature report, {daily['day'].min():%Y-%m-%d}"
metrics = {
    "Mean temperature": f"{readings['temp_c'].mean():.1f} °C",
    "Highest reading": f"{readings['temp_c'].max():.1f} °C",
    "Readings": f"{len(readings):,}",
    "Hours above 35 °C": f"{int((hourly['temp_c'] > HIGH).sum()):,}",
}


def html_page(image_src):
    cards = "".join(f"<div class=m><div>{html.escape(k)}</div><b>{html.escape(v)}</b></div>" for k, v in metrics.items())
    figures = "".join(f'<figure><img src="{image_src(name)}" alt="{name}" width="900"></figure>' for name in charts)
    tables = (
        "<h2>Per probe</h2>"
        + summary.to_html(index=False, float_format=lambda v: f"{v:.2f}", border=0)
        + "<h2>Daily maximum</h2>"
        + daily.to_html(index=False, float_format=lambda v: f"{v:.2f}", border=0)
    )
    return (
        f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:960px;margin:auto}.m{display:inline-block;margin:8px;padding:8px;border:1px solid #ccc}"
        "table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:right}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{cards}{figures}{tables}</body></html>"
    )


def data_uri(name):
    with open(charts[name], "rb") as image:
        return "data:image/png;base64," + base64.b64encode(image.read()).decode("ascii")


report_html = os.path.join(out_dir, "report.html")
with open(report_html, "w", encoding="utf-8") as out:
    out.write(html_page(data_uri))
lap("html_s")

# --- PDF ---------------------------------------------------------------------------------------------
report_pdf = os.path.join(out_dir, "report.pdf")
styles = getSampleStyleSheet()
story = [Paragraph(html.escape(title), styles["Title"])]
story.append(
    Table([list(metrics.keys()), list(metrics.values())], style=[("GRID", (0, 0), (-1, -1), 0.5, colors.grey)])
)
story.append(Spacer(1, 6 * mm))
for name in charts:
    story.append(Image(charts[name], width=170 * mm, height=85 * mm))
    story.append(Spacer(1, 4 * mm))


def pdf_table(frame, heading):
    story.append(Paragraph(heading, styles["Heading2"]))
    body = [list(frame.columns)] + [
        [f"{v:.2f}" if isinstance(v, float) else str(v) for v in row] for row in frame.itertuples(index=False)
    ]
    story.append(
        Table(
            body,
            repeatRows=1,
            style=[
                ("FONTSIZE", (0, 0), (-1, -1), 8),
                ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.grey),
                ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
            ],
        )
    )


pdf_table(summary, "Per probe")
pdf_table(daily.assign(day=daily["day"].dt.strftime("%Y-%m-%d")), "Daily maximum")
SimpleDocTemplate(report_pdf, pagesize=A4, title=title, leftMargin=15 * mm, rightMargin=15 * mm).build(story)
lap("pdf_s")

# --- e-mail ------------------------------------------------------------------------------------------
message = EmailMessage()
message["From"] = "Reports <reports@example.com>"
message["To"] = "facilities@example.com"
message["Subject"] = title
message["X-Bench-Way"] = "python"
message.set_content("The weekly temperature report is attached as a PDF.")
cids = {name: make_msgid(domain="bench.local") for name in charts}
message.add_alternative(html_page(lambda name: "cid:" + cids[name][1:-1]), subtype="html")
html_part = message.get_payload()[1]
for name, path in charts.items():
    with open(path, "rb") as image:
        html_part.add_related(image.read(), "image", "png", cid=cids[name], disposition="inline", filename=f"{name}.png")
with open(report_pdf, "rb") as pdf:
    message.add_attachment(pdf.read(), "application", "pdf", filename="report.pdf")
with open(summary_csv, "rb") as csv:
    message.add_attachment(csv.read(), "text", "csv", filename="summary.csv")
with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as smtp:
    smtp.send_message(message)
lap("email_s")

print(json.dumps({"rows_in": len(readings), "hourly_rows": len(hourly), **phases, "pandas": pd.__version__}))
