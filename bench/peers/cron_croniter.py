"""Peer benchmark for cron next(): python3-croniter (Debian), on the cases of
cron_cases.tsv, walking the fire sequence as bench/cron_bench.cc does.
Prints `croniter/<case> <ns per next>` or `UNSUPPORTED croniter/<case>`."""

import datetime
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from croniter import croniter


def cases():
    for line in (Path(__file__).parent / "cron_cases.tsv").read_text().splitlines():
        if line and not line.startswith("#"):
            name, expr, zone, start = line.split("\t")
            yield name, expr, zone, int(start)


def main(seconds_per_case):
    for name, expr, zone, start in cases():
        fields = expr.split()
        if len(fields) == 6:  # croniter's seconds field is the last one
            expr = " ".join(fields[1:] + fields[:1])
        t0 = datetime.datetime.fromtimestamp(start, ZoneInfo(zone))
        try:
            it = croniter(expr, t0)
            it.get_next(datetime.datetime)
        except Exception as e:  # noqa: BLE001 (any refusal means unsupported)
            print(f"UNSUPPORTED croniter/{name}: {e}")
            continue
        it = croniter(expr, t0)
        limit = t0.replace(year=t0.year + 4)
        n = 0
        begin = time.perf_counter()
        deadline = begin + seconds_per_case
        while True:
            for _ in range(100):
                t = it.get_next(datetime.datetime)
                if t > limit:
                    it = croniter(expr, t0)
            n += 100
            now = time.perf_counter()
            if now >= deadline:
                break
        print(f"croniter/{name} {(now - begin) / n * 1e9:.0f}")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 0.5)
