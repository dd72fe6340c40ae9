"""Benchmark suite (`make bench`): per-stage throughput, end to end, and the naive way, on real reviews.

Corpora: the Amazon device reviews and the airline tweets in ../shared/data, resampled to ``--docs``
documents (each row its own id and date). For each corpus it times every stage the pipeline runs —
read + clean, sentence split, encode, heads, themes, DuckDB write, ranking — then the whole
``feedback_pipeline`` flow, and compares against one-sentence-at-a-time Hugging Face inference and
row-by-row inserts. Prints a table and writes JSON with the machine, versions and model ids.

    python benchmarks/run.py --docs 2000 --json bench.json
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.config import DEFAULT_SHARED_DATA, quiet_prefect_defaults

CORPORA = {
    "amazon": ("amazon_device_reviews/Datafiniti_Amazon_Consumer_Reviews_of_Amazon_Products.csv",
               lambda r: (r.get("reviews.title") or "", r.get("reviews.text") or "")),
    "airline": ("airline_tweets/Tweets_train.csv", lambda r: ("", r.get("text") or "")),
}


ASPECT_STAGE = "aspects (tagging in the encoder pass, or parse)"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def resample(data_dir: Path, corpus: str, docs: int, out: Path, seed: int = 0) -> Path:
    """``docs`` rows drawn from the corpus without replacement, in a new shuffled pass each time it runs out, so
    that repeated texts within a run's slice are the corpus's own (the encoder runs each distinct sentence once);
    distinct ids and dates make every row a document."""
    csv.field_size_limit(sys.maxsize)
    relative, pick = CORPORA[corpus]
    with open(data_dir / relative, encoding="utf-8", newline="") as fh:
        pool = [pick(r) for r in csv.DictReader(fh)]
    rng, start, order = random.Random(seed), datetime(2024, 1, 1, tzinfo=UTC), []
    with open(out, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "title", "text", "date"])
        for i in range(docs):
            if not order:
                order = rng.sample(range(len(pool)), len(pool))
            title, text = pool[order.pop()]
            writer.writerow([f"{corpus}-{i}", title, text, (start + timedelta(minutes=i)).isoformat()])
    return out


class Stages:
    """Times named stages; each records seconds, items, and the process's peak RSS after it."""

    def __init__(self):
        self.rows: list[dict] = []

    def time(self, name: str, items: int, unit: str, fn):
        started = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - started
        self.rows.append({"stage": name, "seconds": round(seconds, 3), "items": items, "unit": unit,
                          "per_s": round(items / max(seconds, 1e-9), 1), "peak_rss_mb": round(peak_rss_mb())})
        return result


ENCODE_AGAIN = "encode (again, after the whole flow)"
FLOW_PARTITIONS = {"batch_documents": 1000, "partitions_in_flight": 2}  # the whole flow runs with these


def encode_as_the_flow_does(encoder, records: list[dict], split: list, sentences: list[str]) -> np.ndarray:
    """The encoder alone, called once per partition of the analysis flow (documents in key order, as many per
    partition as ``partition_size`` gives; the flow moves the cuts a little to even out the text), so that both
    skip the same repeated sentences: the encoder runs each distinct sentence once per call."""
    from pipelines.flows.analyze import partition_size

    first_row = np.cumsum([0] + [len(doc) for doc in split])
    order = sorted(range(len(records)), key=lambda d: records[d]["feedback_id"])
    size = partition_size(len(records), FLOW_PARTITIONS["batch_documents"], FLOW_PARTITIONS["partitions_in_flight"])
    out = np.zeros((len(sentences), encoder.dim_), dtype=np.float32)
    for start in range(0, len(order), size):
        rows = np.concatenate([np.arange(first_row[d], first_row[d + 1]) for d in order[start:start + size]])
        out[rows] = encoder.encode([sentences[row] for row in rows])
    return out


def bench_stages(source: Path, workdir: Path, naive_sentences: int, naive_rows: int, runtime: dict):
    """The stage rows, and a function that times the encoder alone once more on the same sentences: this CPU's
    speed drifts by up to 15 % over minutes, so the whole flow is compared with the mean of a measure taken
    before it and one taken after."""
    import duckdb

    from models.analyzer import Analyzer
    from models.encoder import BACKENDS, SentenceEncoder
    from models.features import apply_heads
    from models.themes import ThemeModel
    from pipelines.ranking import rank_themes
    from pipelines.sources import IngestOptions
    from pipelines.sources.normalize import normalize_batches
    from pipelines.storage import connect
    from pipelines.storage.parts import write_batch

    stages = Stages()
    analyzer = stages.time("load models", 1, "load", lambda: Analyzer(**runtime))
    batches = stages.time("read + clean", 0, "docs", lambda: list(normalize_batches(source, IngestOptions())))
    docs = sum(b.records.num_rows for b in batches)
    stages.rows[-1].update(items=docs, per_s=round(docs / stages.rows[-1]["seconds"], 1))
    records = [r for b in batches for r in b.records.to_pylist()]
    texts = [r["text"] for r in records]
    split = stages.time("sentence split", docs, "docs", lambda: analyzer.segmenter.split(texts))
    sentences = [s.text for doc in split for s in doc]
    embeddings = stages.time("encode", len(sentences), "sentences",
                             lambda: encode_as_the_flow_does(analyzer.encoder, records, split, sentences))
    decided = stages.time("heads", len(sentences), "sentences",
                          lambda: apply_heads(analyzer.heads, embeddings, sentences))
    need_classes, need_probs = decided["needs"]
    is_need = np.array(need_classes)[need_probs.argmax(axis=1)] != "none"
    mention_texts = [t for t, keep in zip(sentences, is_need, strict=True) if keep]
    if analyzer.aspect_tagger:  # tagged in the encoder pass: the stage is the time the encoder loop spent tagging
        # (timed inside the loop: the difference of two whole-pass timings is within this machine's run-to-run noise)
        both = stages.time("encode + aspect tags", len(sentences), "sentences",
                           lambda: analyzer.encoder.encode_and_tag(sentences, analyzer.aspect_tagger))
        tagging = analyzer.encoder.tagging_s_
        stages.rows.append({"stage": ASPECT_STAGE, "seconds": round(tagging, 3), "items": len(both[1]),
                            "unit": "sentences", "per_s": round(len(both[1]) / max(tagging, 1e-9), 1),
                            "peak_rss_mb": round(peak_rss_mb())})
    else:  # no token states (static fast mode): the need sentences are parsed
        stages.time(ASPECT_STAGE, len(mention_texts), "sentences", lambda: analyzer.segmenter.aspects(mention_texts))
    model = stages.time("themes", int(is_need.sum()), "mentions",
                        lambda: ThemeModel(random_state=0).fit(embeddings[is_need], mention_texts,
                                                               [None] * len(mention_texts)))
    sentiment_classes, sentiment_probs = decided["sentiment"]
    labels = np.array(sentiment_classes)[sentiment_probs.argmax(axis=1)][is_need]
    owners = [d for d, doc in enumerate(split) for _ in doc]
    frame = pd.DataFrame({"feedback_id": [records[owners[i]]["feedback_id"] for i in np.flatnonzero(is_need)],
                          "need_kind": np.array(need_classes)[need_probs.argmax(axis=1)][is_need],
                          "sentiment": labels, "theme_id": model.labels_})
    stages.time("ranking", len(frame), "mentions", lambda: rank_themes(frame[frame["theme_id"] >= 0],
                                                                        n_bootstrap=300))
    analysis = analyzer.analyze([r["feedback_id"] for r in records], texts, [r["language"] for r in records])
    con = connect(workdir / "stages.duckdb")

    def write_all():
        from pipelines.storage.analysis import write_analysis

        for batch in batches:
            write_batch(con, "bench", batch.records, batch.quarantine)
        write_analysis(con, "bench", analysis)

    stages.time("duckdb write", docs, "docs", write_all)

    # The naive way, on the same data: distinct sentences, so that ours gains nothing from skipping repeats.
    sample = list(dict.fromkeys(sentences))[:naive_sentences]
    stages.time("encode (ours, same sample)", len(sample), "sentences", lambda: analyzer.encoder.encode(sample))
    if analyzer.encoder.device == "cpu":
        for backend in [b for b in BACKENDS if b != "auto"]:
            encoder = SentenceEncoder(backend=backend)
            encoder.encode(sample[:32])  # warm-up
            stages.time(f"encode ({backend}, same sample)", len(sample), "sentences",
                        lambda e=encoder: e.encode(sample))
    naive_hf_pipeline(analyzer, sample, stages)
    rows = batches[0].records.slice(0, naive_rows)
    fresh = duckdb.connect(str(workdir / "naive.duckdb"))
    fresh.register("staged", rows)
    fresh.execute("CREATE TABLE documents AS SELECT * FROM staged WHERE false")
    placeholders = ", ".join("?" * rows.num_columns)
    stages.time("insert row by row", rows.num_rows, "rows",
                lambda: [fresh.execute(f"INSERT INTO documents VALUES ({placeholders})", list(r.values()))
                         for r in rows.to_pylist()])
    fresh.execute("CREATE TABLE bulk AS SELECT * FROM staged WHERE false")
    stages.time("insert Arrow bulk", rows.num_rows, "rows",
                lambda: fresh.execute("INSERT INTO bulk SELECT * FROM staged"))
    fresh.close()
    con.close()
    result = {"stages": stages.rows, "documents": docs, "sentences": len(sentences),
              "distinct_sentences": len(set(sentences)),
              "model_versions": analyzer.versions, "device": analyzer.encoder.device,
              "encoder_backend": analyzer.encoder.backend_, "batch_size": analyzer.encoder.batch_size}
    return result, lambda: stages.time(ENCODE_AGAIN, len(sentences), "sentences",
                                       lambda: encode_as_the_flow_does(analyzer.encoder, records, split, sentences))


def naive_hf_pipeline(analyzer, sample: list[str], stages: Stages) -> None:
    """One sentence at a time through a transformers feature-extraction pipeline (the usual first attempt)."""
    from transformers import pipeline

    extractor = pipeline("feature-extraction", model=analyzer.encoder.model_, tokenizer=analyzer.encoder.tokenizer_,
                         device=analyzer.encoder.device)
    [extractor(s) for s in sample[:5]]  # warm-up
    stages.time("encode (naive HF pipeline, 1 at a time)", len(sample), "sentences",
                       lambda: [np.asarray(extractor(s)).mean(axis=1) for s in sample])


def warm_up_server() -> None:
    """One empty flow run first, as the encoder gets a warm-up batch: the test harness's fresh Prefect server
    answers its first request in about 1 s, which a deployment's long-running server does not pay per run."""
    from prefect import flow

    @flow(name="warm_up")
    def warm_up() -> None:
        """Nothing: the run itself is the warm-up."""

    warm_up()


def bench_end_to_end(source: Path, workdir: Path, runtime: dict) -> dict:
    import duckdb
    from prefect.testing.utilities import prefect_test_harness

    from pipelines.flows.params import ClusterParams, ModelParams
    from pipelines.flows.pipeline import feedback_pipeline

    with prefect_test_harness(server_startup_timeout=120):
        warm_up_server()
        started = time.perf_counter()
        result = feedback_pipeline([str(source)], str(workdir / "e2e.duckdb"), models=ModelParams(**runtime),
                                   cluster=ClusterParams(**FLOW_PARTITIONS))
        seconds = time.perf_counter() - started
    with duckdb.connect(str(workdir / "e2e.duckdb"), read_only=True) as con:
        timings = {flow: json.loads(t) for flow, t in con.execute("SELECT flow, timings FROM runs").fetchall()}
    return {"seconds": round(seconds, 2), "documents": result["ingest"]["rows_read"],
            "sentences": result["analyze"]["sentences"],
            "sentences_per_s": round(result["analyze"]["sentences"] / seconds, 1),
            # the analysis once models are loaded: what a long run converges to
            "analysis_sentences_per_s": timings["analyze_feedback"]["sentences_per_s"], "flow_timings": timings}


def machine() -> dict:
    import duckdb
    import torch
    import transformers

    return {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "transformers": transformers.__version__, "duckdb": duckdb.__version__,
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def summarize(corpus: str, result: dict) -> dict:
    by_stage = {row["stage"]: row for row in result["stages"]}
    pipeline_stages = ["read + clean", "sentence split", "encode", "heads", ASPECT_STAGE, "themes",
                       "ranking", "duckdb write"]
    total = sum(by_stage[s]["seconds"] for s in pipeline_stages)
    for s in pipeline_stages:
        by_stage[s]["share_of_pipeline"] = round(by_stage[s]["seconds"] / total, 3)
    encode_only = (by_stage["encode"]["per_s"] + by_stage[ENCODE_AGAIN]["per_s"]) / 2
    return {
        "corpus": corpus,
        "encoder_only_sentences_per_s": {"before": by_stage["encode"]["per_s"],
                                         "after": by_stage[ENCODE_AGAIN]["per_s"]},
        "end_to_end_vs_encoder_only": round(result["end_to_end"]["sentences_per_s"] / encode_only, 3),
        "analysis_vs_encoder_only": round(result["end_to_end"]["analysis_sentences_per_s"] / encode_only, 3),
        "stages_sum_vs_encoder_only": round(by_stage["encode"]["seconds"] / total, 3),
        "encoder_vs_naive_hf": {name[len("encode ("):-len(", same sample)")]: round(
            row["per_s"] / by_stage["encode (naive HF pipeline, 1 at a time)"]["per_s"], 2)
            for name, row in by_stage.items() if name.endswith("same sample)")},
        "arrow_vs_row_by_row": round(by_stage["insert Arrow bulk"]["per_s"] / by_stage["insert row by row"]["per_s"],
                                     1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000, help="documents per corpus (resampled)")
    parser.add_argument("--corpora", nargs="+", default=list(CORPORA), choices=list(CORPORA))
    parser.add_argument("--naive-sentences", type=int, default=300)
    parser.add_argument("--naive-rows", type=int, default=2000)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_SHARED_DATA)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--encoder-backend", default="auto", help="auto, torch, onnx or onnx-int8")
    parser.add_argument("--precision", default="fp32", help="fp32, fp16 or bf16 (torch backend)")
    args = parser.parse_args()
    runtime = {"device": args.device, "encoder_backend": args.encoder_backend, "precision": args.precision}
    quiet_prefect_defaults()
    from rich.console import Console
    from rich.table import Table

    report = {"machine": machine(), "docs": args.docs, "corpora": {}}
    for corpus in args.corpora:
        workdir = Path(tempfile.mkdtemp(prefix=f"unmet-bench-{corpus}-"))
        source = resample(args.data_dir, corpus, args.docs, workdir / f"{corpus}.csv")
        result, encode_again = bench_stages(source, workdir, args.naive_sentences, args.naive_rows, runtime)
        result["end_to_end"] = bench_end_to_end(source, workdir, runtime)
        encode_again()
        result["summary"] = summarize(corpus, result)
        report["corpora"][corpus] = result
        table = Table(title=f"{corpus}: {result['documents']} documents, {result['sentences']} sentences "
                            f"({result['device']}, encoder backend {result['encoder_backend']}, "
                            f"batch {result['batch_size']})")
        for column in ("stage", "seconds", "items", "unit", "per_s", "share_of_pipeline", "peak_rss_mb"):
            table.add_column(column, justify="left" if column in ("stage", "unit") else "right")
        for row in result["stages"]:
            table.add_row(*[str(row.get(c, "")) for c in ("stage", "seconds", "items", "unit", "per_s",
                                                          "share_of_pipeline", "peak_rss_mb")])
        Console(width=140).print(table)
        print(json.dumps({"end_to_end": result["end_to_end"], **result["summary"]}))
    print(json.dumps(report["machine"]))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
