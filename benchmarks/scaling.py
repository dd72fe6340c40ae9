"""Scaling curve: the pipeline's three flows (ingest → analyze → rank) on 10k → 100k → 1M resampled Amazon reviews.

Each size runs in its own process (so its peak RSS is its own; the peak is also reset before each flow, so
each flow's own peak is reported) on a fresh warehouse, then runs again on the
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


def peak_rss_mb(reset: bool = False) -> int:
    """This process's peak resident set (VmHWM); ``reset`` starts a new peak (Linux ``clear_refs`` 5)."""
    status = Path("/proc/self/status")
    if not status.exists():  # not Linux: the lifetime peak is all there is
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    if reset:
        Path("/proc/self/clear_refs").write_text("5")
    line = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
    return round(int(line.split()[1]) / 1024)


def one_size(docs: int, data_dir: Path, workdir: Path, runtime: dict) -> dict:
    """Runs in a child process: resample, run the three flows twice, report timings and peak RSS per flow."""
    quiet_prefect_defaults()
    from prefect.testing.utilities import prefect_test_harness

    from pipelines.flows.analyze import analyze_feedback
    from pipelines.flows.ingest import ingest_feedback
    from pipelines.flows.params import ClusterParams, ModelParams
    from pipelines.flows.rank import rank_needs

    source = resample(data_dir, "amazon", docs, workdir / f"amazon-{docs}.csv")
    db = str(workdir / f"scale-{docs}.duckdb")
    flows = {"ingest": lambda: ingest_feedback([str(source)], db),
             "analyze": lambda: analyze_feedback(db, ModelParams(**runtime), ClusterParams(batch_documents=2000)),
             "rank": lambda: rank_needs(db)}
    out = {"documents": docs, "input_mb": round(source.stat().st_size / 1e6, 1)}
    with prefect_test_harness(server_startup_timeout=120):
        for label in ("first", "again"):
            result, flow_rss, flow_s = {}, {}, {}
            for name, run in flows.items():
                peak_rss_mb(reset=True)
                started = time.perf_counter()
                result[name] = run()
                flow_s[name], flow_rss[name] = round(time.perf_counter() - started, 1), peak_rss_mb()
            out[label] = {"seconds": round(sum(flow_s.values()), 1), "flow_seconds": flow_s,
                          "flow_peak_rss_mb": flow_rss,
                          "new_documents": result["ingest"]["new_documents"],
                          "analysed": result["analyze"]["documents"], "sentences": result["analyze"]["sentences"],
                          "mentions": result["rank"]["mentions"], "themes": result["rank"]["themes"]}
    # the per-flow resets also reset ru_maxrss, so the run's peak is the largest flow peak
    out["peak_rss_mb"] = max(max(out[label]["flow_peak_rss_mb"].values()) for label in ("first", "again"))
    out["warehouse_mb"] = round(Path(db).stat().st_size / 1e6, 1)
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
          f"{'peak RSS MB':>12} {'ingest/analyze/rank MB':>23} {'rerun s':>8} {'rerun analysed':>15}")
    for row in rows:
        per_k = row["first"]["seconds"] / row["documents"] * 1000
        per_flow = "/".join(str(v) for v in row["first"]["flow_peak_rss_mb"].values())
        print(f"{row['documents']:>10} {row['first']['seconds']:>9} {row['docs_per_s']:>8} {row['sentences_per_s']:>8} "
              f"{per_k:>14.2f} {row['peak_rss_mb']:>12} {per_flow:>23} {row['again']['seconds']:>8} "
              f"{row['again']['analysed']:>15}")
    growth = (rows[-1]["first"]["seconds"] / base["first"]["seconds"]) / (rows[-1]["documents"] / base["documents"])
    print(f"time per document at {rows[-1]['documents']} vs {base['documents']}: {growth:.2f}× (1.00 = linear); "
          f"peak RSS {base['peak_rss_mb']} → {rows[-1]['peak_rss_mb']} MB")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "runtime": runtime, "sizes": rows}, indent=1))


if __name__ == "__main__":
    main()
