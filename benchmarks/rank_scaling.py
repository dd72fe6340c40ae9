"""Memory and time of each flow on warehouses of 100k → 1M documents, without analysing 1M documents.

A base warehouse is analysed for real (``--base-docs`` resampled Amazon reviews, default encoder). Larger
warehouses are made from it by copying its documents, sentences and need-mention embeddings under new ids
(embeddings jittered, so no two copies are identical). At each size, in a process of its own so that each peak
RSS is that flow's: ``ingest_feedback`` adds ``--new-docs`` new reviews, ``analyze_feedback`` analyses them
(the rest is already analysed), and ``rank_needs`` fits themes on every mention. A flow whose memory followed
the warehouse rather than the work would show here.

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
    from pipelines.flows.params import ModelParams

    source = resample(data_dir, "amazon", docs, workdir / f"amazon-{docs}.csv")
    db = workdir / "base.duckdb"
    with prefect_test_harness(server_startup_timeout=120):
        ingest_feedback([str(source)], str(db))
        analyze_feedback(str(db), ModelParams(encoder_backend=encoder_backend))
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


def flow_once(flow: str, db: Path, new_docs: Path) -> dict:
    """Runs in a child process: one flow on the warehouse, its time and peak RSS."""
    quiet_prefect_defaults()
    from prefect.testing.utilities import prefect_test_harness

    from pipelines.flows.analyze import analyze_feedback
    from pipelines.flows.ingest import ingest_feedback
    from pipelines.flows.rank import rank_needs

    runs = {"ingest": lambda: ingest_feedback([str(new_docs)], str(db)),
            "analyze": lambda: analyze_feedback(str(db)), "rank": lambda: rank_needs(str(db))}
    with prefect_test_harness(server_startup_timeout=120):
        before = peak_rss_mb()
        started = time.perf_counter()
        result = runs[flow]()
        seconds = time.perf_counter() - started
    work = {"ingest": "new_documents", "analyze": "documents", "rank": "mentions"}[flow]
    return {f"{flow}_seconds": round(seconds, 1), f"{flow}_{work}": result[work], f"{flow}_rss_before_mb": before,
            f"{flow}_peak_rss_mb": peak_rss_mb(), **({"themes": result["themes"], "outliers": result["outliers"]}
                                                   if flow == "rank" else {})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--base-docs", type=int, default=5000)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_SHARED_DATA)
    parser.add_argument("--encoder-backend", default="auto")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--new-docs", type=int, default=5000, help="reviews ingested and analysed at each size")
    parser.add_argument("--flow-child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--base-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flow_child:
        flow, db, new_docs = args.flow_child
        print(json.dumps(flow_once(flow, Path(db), Path(new_docs))))
        return
    if args.base_child:
        analyse_base(args.base_docs, args.data_dir, args.base_child, args.encoder_backend)
        return
    workdir = Path(tempfile.mkdtemp(prefix="unmet-rank-scale-"))
    started = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--base-child", str(workdir), "--base-docs", str(args.base_docs),
                    "--data-dir", str(args.data_dir), "--encoder-backend", args.encoder_backend], check=True)
    print(f"base warehouse: {args.base_docs} documents analysed in {time.perf_counter() - started:.0f} s", flush=True)
    new_docs = resample(args.data_dir, "amazon", args.new_docs, workdir / "new-reviews.csv", seed=1)
    rows = []
    for size in args.sizes:
        db = workdir / f"rank-{size}.duckdb"
        row = replicate(workdir / "base.duckdb", db, max(1, round(size / args.base_docs)))
        for flow in ("ingest", "analyze", "rank"):
            child = subprocess.run([sys.executable, __file__, "--flow-child", flow, str(db), str(new_docs)],
                                   capture_output=True, text=True)
            if child.returncode:
                sys.exit(f"{flow} at size {size} failed:\n{child.stderr[-3000:]}")
            row |= json.loads(child.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(json.dumps(row), flush=True)
        db.unlink()
    print(f"\n{'documents':>10} {'mentions':>9} | {'ingest s':>8} {'peak MB':>8} | {'analyze s':>9} {'peak MB':>8} | "
          f"{'rank s':>7} {'peak MB':>8} {'themes':>7} {'outliers':>9}")
    for row in rows:
        print(f"{row['documents']:>10} {row['rank_mentions']:>9} | {row['ingest_seconds']:>8} "
              f"{row['ingest_peak_rss_mb']:>8} | {row['analyze_seconds']:>9} {row['analyze_peak_rss_mb']:>8} | "
              f"{row['rank_seconds']:>7} {row['rank_peak_rss_mb']:>8} {row['themes']:>7} {row['outliers']:>9}")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "base_documents": args.base_docs, "sizes": rows},
                                        indent=1))
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
