"""Memory and time of ``rank_needs`` on warehouses of 100k → 1M documents, without analysing 1M documents.

A base warehouse is analysed for real (``--base-docs`` resampled Amazon reviews, default encoder). Larger
warehouses are made from it by copying its documents, sentences and need-mention embeddings under new ids
(embeddings jittered, so no two copies are identical). ``rank_needs`` then runs in its own process per size,
so each peak RSS is rank's own: this is where the whole pipeline's memory grew with size (``scaling.py``).

    python benchmarks/rank_scaling.py --sizes 100000 300000 1000000 --json rank-scaling.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import machine, resample  # noqa: E402
from scaling import peak_rss_mb  # noqa: E402

from pipelines.config import DEFAULT_SHARED_DATA, quiet_prefect_defaults  # noqa: E402

NEEDS = "need_kind IN ('explicit', 'implicit')"


def analyse_base(docs: int, data_dir: Path, workdir: Path, encoder_backend: str) -> Path:
    quiet_prefect_defaults()
    from prefect.testing.utilities import prefect_test_harness

    from pipelines.flows.analyze import analyze_feedback
    from pipelines.flows.ingest import ingest_feedback

    source = resample(data_dir, "amazon", docs, workdir / f"amazon-{docs}.csv")
    db = workdir / "base.duckdb"
    with prefect_test_harness(server_startup_timeout=120):
        ingest_feedback([str(source)], str(db))
        analyze_feedback(str(db), encoder_backend=encoder_backend)
    return db


def replicate(base: Path, target: Path, copies: int) -> dict:
    """``copies`` × the base documents under new ids; embeddings only for need mentions (all rank reads)."""
    import duckdb

    shutil.copy(base, target)
    con = duckdb.connect(str(target))
    con.execute("SET enable_progress_bar = false")
    con.execute(f"ATTACH '{base}' AS base (READ_ONLY)")
    for k in range(1, copies):
        suffix = f"'~{k}'"
        con.execute("BEGIN")
        con.execute(f"INSERT INTO documents SELECT * REPLACE (feedback_id || {suffix} AS feedback_id) "
                    "FROM base.documents")
        con.execute(f"INSERT INTO document_analysis SELECT * REPLACE (feedback_id || {suffix} AS feedback_id) "
                    "FROM base.document_analysis")
        con.execute(f"INSERT INTO sentences SELECT * REPLACE (sentence_id || {suffix} AS sentence_id, "
                    f"feedback_id || {suffix} AS feedback_id) FROM base.sentences")
        con.execute(f"""INSERT INTO sentence_embeddings
                        SELECT e.sentence_id || {suffix}, e.encoder,
                               list_transform(e.embedding, x -> x + 0.02 * (random() - 0.5))::FLOAT[]
                        FROM base.sentence_embeddings e JOIN base.sentences s USING (sentence_id)
                        WHERE s.{NEEDS}""")
        con.execute("COMMIT")
    counts = {"documents": con.execute("SELECT count(*) FROM documents").fetchone()[0],
              "mentions": con.execute(f"SELECT count(*) FROM sentences WHERE {NEEDS}").fetchone()[0]}
    con.close()
    return counts


def rank_once(db: Path) -> dict:
    """Runs in a child process: one full rank (an initial fit) and its peak RSS."""
    quiet_prefect_defaults()
    from prefect.testing.utilities import prefect_test_harness

    from pipelines.flows.rank import rank_needs

    with prefect_test_harness(server_startup_timeout=120):
        before = peak_rss_mb()
        started = time.perf_counter()
        result = rank_needs(str(db))
        seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 1), "mentions": result["mentions"], "themes": result["themes"],
            "outliers": result["outliers"], "rss_before_mb": before, "peak_rss_mb": peak_rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--base-docs", type=int, default=5000)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_SHARED_DATA)
    parser.add_argument("--encoder-backend", default="auto")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--rank-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--base-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rank_child:
        print(json.dumps(rank_once(args.rank_child)))
        return
    if args.base_child:
        analyse_base(args.base_docs, args.data_dir, args.base_child, args.encoder_backend)
        return
    workdir = Path(tempfile.mkdtemp(prefix="unmet-rank-scale-"))
    started = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--base-child", str(workdir), "--base-docs", str(args.base_docs),
                    "--data-dir", str(args.data_dir), "--encoder-backend", args.encoder_backend], check=True)
    print(f"base warehouse: {args.base_docs} documents analysed in {time.perf_counter() - started:.0f} s", flush=True)
    rows = []
    for size in args.sizes:
        db = workdir / f"rank-{size}.duckdb"
        counts = replicate(workdir / "base.duckdb", db, max(1, round(size / args.base_docs)))
        child = subprocess.run([sys.executable, __file__, "--rank-child", str(db)], capture_output=True, text=True)
        if child.returncode:
            sys.exit(f"size {size} failed:\n{child.stderr[-3000:]}")
        row = {**counts, **json.loads(child.stdout.strip().splitlines()[-1])}
        rows.append(row)
        print(json.dumps(row), flush=True)
        db.unlink()
    print(f"\n{'documents':>10} {'mentions':>9} {'seconds':>8} {'mentions/s':>11} {'RSS before':>11} "
          f"{'peak RSS MB':>12} {'themes':>7} {'outliers':>9}")
    for row in rows:
        print(f"{row['documents']:>10} {row['mentions']:>9} {row['seconds']:>8} "
              f"{row['mentions'] / row['seconds']:>11.0f} {row['rss_before_mb']:>11} {row['peak_rss_mb']:>12} "
              f"{row['themes']:>7} {row['outliers']:>9}")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "base_documents": args.base_docs, "sizes": rows},
                                        indent=1))
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
