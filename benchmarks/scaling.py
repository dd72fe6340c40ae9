"""Scaling curve: the whole ``feedback_pipeline`` flow on 10k → 100k → 1M resampled Amazon reviews.

Each size runs in its own process (so its peak RSS is its own) on a fresh warehouse, then runs again on the
same warehouse to show that an incremental run does no model work for documents already analysed. Time
should grow linearly and memory stay flat, because ingest streams batches and analysis pages through
pending documents. The default backend is the static fast mode so that 1M documents fit in a CPU session;
``--encoder-backend auto`` measures the transformer path (its per-sentence cost is in ``make bench``).

    python benchmarks/scaling.py --sizes 10000 100000 1000000 --json scaling.json
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import machine, resample  # noqa: E402

from pipelines.config import DEFAULT_SHARED_DATA, quiet_prefect_defaults  # noqa: E402


def one_size(docs: int, data_dir: Path, workdir: Path, runtime: dict) -> dict:
    """Runs in a child process: resample, run the flow twice, report timings and this process's peak RSS."""
    quiet_prefect_defaults()
    from prefect.testing.utilities import prefect_test_harness

    from pipelines.flows.pipeline import feedback_pipeline

    source = resample(data_dir, "amazon", docs, workdir / f"amazon-{docs}.csv")
    db = workdir / f"scale-{docs}.duckdb"
    out = {"documents": docs, "input_mb": round(source.stat().st_size / 1e6, 1)}
    with prefect_test_harness(server_startup_timeout=120):
        for label in ("first", "again"):
            started = time.perf_counter()
            result = feedback_pipeline([str(source)], str(db), batch_documents=2000, **runtime)
            out[label] = {"seconds": round(time.perf_counter() - started, 1),
                          "new_documents": result["ingest"]["new_documents"],
                          "analysed": result["analyze"]["documents"], "sentences": result["analyze"]["sentences"],
                          "mentions": result["rank"]["mentions"], "themes": result["rank"]["themes"]}
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    out["warehouse_mb"] = round(db.stat().st_size / 1e6, 1)
    out["docs_per_s"] = round(docs / out["first"]["seconds"], 1)
    out["sentences_per_s"] = round(out["first"]["sentences"] / out["first"]["seconds"], 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_SHARED_DATA)
    parser.add_argument("--encoder-backend", default="static")
    parser.add_argument("--device")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    runtime = {"encoder_backend": args.encoder_backend, "device": args.device}
    if args.child:
        print(json.dumps(one_size(args.child, args.data_dir, args.workdir, runtime)))
        return
    rows = []
    for docs in args.sizes:
        workdir = Path(tempfile.mkdtemp(prefix=f"unmet-scale-{docs}-"))
        command = [sys.executable, __file__, "--child", str(docs), "--workdir", str(workdir), "--data-dir",
                   str(args.data_dir), "--encoder-backend", args.encoder_backend]
        if args.device:
            command += ["--device", args.device]
        child = subprocess.run(command, capture_output=True, text=True)
        if child.returncode:
            sys.exit(f"size {docs} failed:\n{child.stderr[-3000:]}")
        row = json.loads(child.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(json.dumps(row), flush=True)
    base = rows[0]
    print(f"\n{'documents':>10} {'seconds':>9} {'docs/s':>8} {'sent/s':>8} {'s per 1k docs':>14} "
          f"{'peak RSS MB':>12} {'rerun s':>8} {'rerun analysed':>15}")
    for row in rows:
        per_k = row["first"]["seconds"] / row["documents"] * 1000
        print(f"{row['documents']:>10} {row['first']['seconds']:>9} {row['docs_per_s']:>8} {row['sentences_per_s']:>8} "
              f"{per_k:>14.2f} {row['peak_rss_mb']:>12} {row['again']['seconds']:>8} {row['again']['analysed']:>15}")
    growth = (rows[-1]["first"]["seconds"] / base["first"]["seconds"]) / (rows[-1]["documents"] / base["documents"])
    print(f"time per document at {rows[-1]['documents']} vs {base['documents']}: {growth:.2f}× (1.00 = linear); "
          f"peak RSS {base['peak_rss_mb']} → {rows[-1]['peak_rss_mb']} MB")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "runtime": runtime, "sizes": rows}, indent=1))


if __name__ == "__main__":
    main()
