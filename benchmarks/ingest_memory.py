"""Peak memory of streaming ingest on a large export (issue 5: memory stays bounded).

Builds a CSV of about ``--gigabytes`` by resampling the Amazon device reviews in ../shared/data (each
row gets its own id and date, so every row is a distinct document), then runs the ``ingest_feedback``
flow into a fresh warehouse and prints rows/s and peak RSS as a table and as JSON.

    python benchmarks/ingest_memory.py --gigabytes 1
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipelines.config import DEFAULT_SHARED_DATA, quiet_prefect_defaults

AMAZON = "amazon_device_reviews/Datafiniti_Amazon_Consumer_Reviews_of_Amazon_Products.csv"


def build_input(data_dir: Path, out: Path, gigabytes: float, reviews_per_row: int = 1, seed: int = 0) -> int:
    csv.field_size_limit(sys.maxsize)
    with open(data_dir / AMAZON, encoding="utf-8", newline="") as fh:
        reviews = [(r.get("reviews.title") or "", r.get("reviews.text") or "", r.get("reviews.rating") or "")
                   for r in csv.DictReader(fh)]
    rng, start, target, rows = random.Random(seed), datetime(2024, 1, 1, tzinfo=UTC), gigabytes * 1e9, 0
    with open(out, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "title", "text", "rating", "date", "product"])
        while fh.tell() < target:
            for _ in range(10_000):
                picked = [rng.choice(reviews) for _ in range(rng.randint(1, 2 * reviews_per_row - 1))]
                title, rating = picked[0][0], picked[0][2]
                text = " ".join(p[1] for p in picked)  # long reviews: several joined
                date = (start + timedelta(minutes=rows)).isoformat()
                writer.writerow([f"r{rows}", title, text, rating, date, f"product-{rows % 50}"])
                rows += 1
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=1.0)
    parser.add_argument("--reviews-per-row", type=int, default=1, help="mean reviews joined into one row")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_SHARED_DATA)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    quiet_prefect_defaults()
    from prefect.testing.utilities import prefect_test_harness

    from pipelines.flows.ingest import ingest_feedback

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="unmet-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / "reviews.csv"
    started = time.perf_counter()
    rows = build_input(args.data_dir, source, args.gigabytes, args.reviews_per_row)
    build_s = time.perf_counter() - started
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with prefect_test_harness(server_startup_timeout=120):
        started = time.perf_counter()
        result = ingest_feedback([str(source)], str(workdir / "bench.duckdb"))
        ingest_s = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures = {
        "input_bytes": source.stat().st_size, "rows": rows, "mean_row_bytes": round(source.stat().st_size / rows),
        "rows_read": result["rows_read"],
        "stored": result["stored"], "quarantined": result["quarantined"], "build_input_s": round(build_s, 1),
        "ingest_s": round(ingest_s, 1), "rows_per_s": round(result["rows_read"] / ingest_s),
        "mb_per_s": round(source.stat().st_size / 1e6 / ingest_s, 2), "peak_rss_mb_before_ingest": round(rss_before),
        "peak_rss_mb": round(peak_mb), "machine": platform.platform(), "python": platform.python_version(),
    }
    for key, value in figures.items():
        print(f"{key:28} {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
