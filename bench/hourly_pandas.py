"""The reference for bench/hourly-vs-pandas.mjs: 15-minute readings → hourly average per probe, in pandas.

Usage: python3 bench/hourly_pandas.py <readings.csv> <hourly.csv>

Written as a competent pandas user would: typed columns (probe as a category, temp_c as float64), ts
parsed while reading, one groupby. Debian ships pandas without pyarrow, so the result is written as
CSV, not Parquet. Prints the time of each phase as JSON; with BENCH_RUSAGE_FILE set, writes peak RSS
and CPU time to that file at exit, like bench/rusage-report.mjs does for Node.
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
import pandas as pd  # noqa: E402  (imported after the clock starts: part of the script's cost)

source, target = sys.argv[1], sys.argv[2]
imported = time.perf_counter()

readings = pd.read_csv(
    source,
    parse_dates=["ts"],
    dtype={"probe": "category", "temp_c": "float64"},
)
read = time.perf_counter()

hourly = (
    readings.groupby([readings["ts"].dt.floor("h").rename("hour"), "probe"], observed=True, sort=True)["temp_c"]
    .mean()
    .reset_index()
)
grouped = time.perf_counter()

hourly.to_csv(target, index=False, date_format="%Y-%m-%d %H:%M:%S")
written = time.perf_counter()

print(
    json.dumps(
        {
            "rows_in": len(readings),
            "rows_out": len(hourly),
            "import_s": imported - started,
            "read_s": read - imported,
            "group_s": grouped - read,
            "write_s": written - grouped,
            "pandas": pd.__version__,
        }
    )
)
