"""Ingest and analysis throughput in one process and on local Dask clusters of 1 and 2 worker processes, and
what the per-partition timings predict for N workers.

Ingest reads one CSV of ``--ingest-docs`` resampled reviews cut into parts of ``--part-mb``; each setting
ingests it into a new warehouse.

The same ingested warehouse is copied for every setting, so each one analyses the same documents.
Prediction: partitions run in parallel, the flow writes them one after another, so
T(N) ≈ fixed + max(Σ partition time / N, Σ write time), with partition times measured one at a time on one
thread in this process (a worker of one core) and the fixed cost taken from the 1-worker run.

    python benchmarks/workers.py --docs 2000 --ingest-docs 20000 --workers 1 2 --json workers.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import machine, resample  # noqa: E402

from pipelines.config import DEFAULT_SHARED_DATA, quiet_prefect_defaults  # noqa: E402


def partition_timings(db: Path, batch_documents: int, encoder_backend: str) -> dict:
    """Each partition analysed on one thread and written, one at a time: what one single-core worker does."""
    import torch

    torch.set_num_threads(1)  # torch ops on one thread too, like a Dask worker of one thread
    from pipelines.flows.analyze import ModelSettings, checked_out
    from pipelines.flows.params import ModelParams

    started = time.perf_counter()
    with checked_out(ModelSettings(ModelParams(encoder_backend=encoder_backend), threads=1)) as analyzer:
        load_s = time.perf_counter() - started
        return timed_partitions(analyzer, db, batch_documents, load_s)


def timed_partitions(analyzer, db: Path, batch_documents: int, load_s: float) -> dict:
    """Read, analyse and write the pending partitions one after another, timing analysis and write apart."""
    from pipelines.storage import connect
    from pipelines.storage.analysis import pending_chunks, write_analysis

    con = connect(db)
    analyse_s, write_s, partitions, sentences = [], [], 0, 0
    for chunk in pending_chunks(con, analyzer.version, batch_documents):
        started = time.perf_counter()
        batch = analyzer.analyze(chunk["feedback_id"], chunk["text"], chunk["language"])
        analyse_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        write_analysis(con, "bench", batch)
        write_s.append(time.perf_counter() - started)
        partitions += 1
        sentences += batch.sentences.num_rows
    con.close()
    return {"load_models_s": round(load_s, 2), "partitions": partitions, "sentences": sentences,
            "partition_s": [round(s, 3) for s in analyse_s], "write_s": [round(s, 3) for s in write_s]}


def ingest_runs(source: Path, workdir: Path, workers: list[int], part_bytes: int) -> list[dict]:
    """The same file ingested in one process and on each local cluster size; rows/s of each."""
    from distributed import LocalCluster

    from pipelines.flows.ingest import ingest_with

    rows = []
    for count in [None, *workers]:
        db = workdir / f"ingest-{count}.duckdb"
        options = {"part_bytes": part_bytes, "parts_in_flight": 2 * (count or 1)}
        if count is None:
            started = time.perf_counter()
            result = ingest_with()([str(source)], str(db), **options)
        else:
            with LocalCluster(n_workers=count, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster:
                started = time.perf_counter()
                result = ingest_with(cluster.scheduler_address)([str(source)], str(db), **options)
        seconds = time.perf_counter() - started
        label = "one process (default task runner)" if count is None else f"Dask, {count} worker process(es)"
        rows.append({"stage": "ingest", "setting": label, "workers": count, "seconds": round(seconds, 1),
                     "parts": result["files"][0]["parts"], "rows_read": result["rows_read"],
                     "rows_per_s": round(result["rows_read"] / seconds, 1)})
        print(json.dumps(rows[-1]), flush=True)
        db.unlink()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--batch-documents", type=int, default=250)
    parser.add_argument("--ingest-docs", type=int, default=20000, help="rows of the file the ingest runs read")
    parser.add_argument("--part-mb", type=float, default=1.0, help="input part size for the ingest runs")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--predict", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--encoder-backend", default="auto")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_SHARED_DATA)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    quiet_prefect_defaults()
    from distributed import LocalCluster
    from prefect.testing.utilities import prefect_test_harness

    from pipelines.flows.analyze import analyze_with
    from pipelines.flows.ingest import ingest_feedback

    workdir = Path(tempfile.mkdtemp(prefix="unmet-workers-"))
    source = resample(args.data_dir, "amazon", args.docs, workdir / "amazon.csv")
    base = workdir / "ingested.duckdb"
    rows = []
    with prefect_test_harness(server_startup_timeout=120):
        big = resample(args.data_dir, "amazon", args.ingest_docs, workdir / "amazon-ingest.csv")
        ingests = ingest_runs(big, workdir, args.workers, int(args.part_mb * (1 << 20)))
        ingest_feedback([str(source)], str(base))
        settings = [("one process (default task runner)", None)] + [(f"Dask, {n} worker process(es) × 1 thread", n)
                                                                    for n in args.workers]
        for label, workers in settings:
            db = workdir / f"run-{workers}.duckdb"
            shutil.copy(base, db)
            options = {"batch_documents": args.batch_documents, "encoder_backend": args.encoder_backend}
            if workers is None:
                started = time.perf_counter()
                result = analyze_with()(str(db), **options)
                seconds = time.perf_counter() - started
            else:
                with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
                    started = time.perf_counter()
                    result = analyze_with(cluster.scheduler_address)(str(db), partitions_in_flight=2 * workers,
                                                                     **options)
                    seconds = time.perf_counter() - started
            rows.append({"setting": label, "workers": workers, "seconds": round(seconds, 1),
                         "documents": result["documents"], "sentences": result["sentences"],
                         "sentences_per_s": round(result["sentences"] / seconds, 1)})
            print(json.dumps(rows[-1]), flush=True)
            db.unlink()
    timings = partition_timings(base, args.batch_documents, args.encoder_backend)
    work, writes = sum(timings["partition_s"]), sum(timings["write_s"])
    one = next(r for r in rows if r["workers"] == 1) if 1 in args.workers else rows[0]
    fixed = max(one["seconds"] - max(work, writes), 0.0)  # model loading in the worker, Prefect, scheduling
    predicted = {n: round(timings["sentences"] / (fixed + max(work / n, writes)), 1) for n in args.predict}
    print(f"\ningest of {ingests[0]['rows_read']} rows in {ingests[-1]['parts']} parts")
    print(f"{'setting':<42} {'seconds':>8} {'rows/s':>12}")
    for row in ingests:
        print(f"{row['setting']:<42} {row['seconds']:>8} {row['rows_per_s']:>12}")
    print(f"\nanalysis\n{'setting':<42} {'seconds':>8} {'sentences/s':>12}")
    for row in rows:
        print(f"{row['setting']:<42} {row['seconds']:>8} {row['sentences_per_s']:>12}")
    print(f"\nper partition ({args.batch_documents} documents, {timings['partitions']} partitions, measured one at a "
          f"time): analyse {work / timings['partitions']:.2f} s, write {writes / timings['partitions']:.3f} s; "
          f"fixed cost {fixed:.1f} s")
    print("predicted sentences/s with N workers of this machine's speed: "
          + ", ".join(f"{n}: {v}" for n, v in predicted.items()))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "ingest": ingests, "runs": rows, "timings": timings,
                                         "fixed_s": round(fixed, 1), "predicted_sentences_per_s": predicted},
                                        indent=1))
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
