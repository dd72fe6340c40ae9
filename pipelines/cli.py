"""The `unmet` command line: run the pipeline, query the warehouse, see its status, label, retrain, evaluate."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from pipelines.config import DEFAULT_DB_PATH, DEFAULT_SHARED_DATA, PART_BYTES, quiet_prefect_defaults

EXIT_USAGE = 2


def _column_map(pairs: list[str], option: str = "--map", left: str = "FIELD") -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        if not sep or not field or not column:
            raise argparse.ArgumentTypeError(f"{option} expects {left}=COLUMN, got {pair!r}")
        mapping[field.strip()] = column.strip()
    return mapping


def _print_table(con, sql, params=None, fmt: str = "table", title: str | None = None, prepared: bool = False) -> None:
    """Print a query's rows; ``prepared`` means ``sql`` is an already executed result."""
    result = sql if prepared else con.execute(sql, params or [])
    columns = [d[0] for d in result.description]
    rows = result.fetchall()
    if fmt == "json":
        print(json.dumps([dict(zip(columns, r, strict=True)) for r in rows], default=str, indent=1))
        return
    if fmt == "csv":
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
        return
    cells = [["" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v) for v in row] for row in rows]
    if not sys.stdout.isatty():  # captured or piped: one line per row, never a frame folded to the wrong width
        print(plain_table(columns, cells, title))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(column, overflow="ellipsis", no_wrap=True, max_width=MAX_CELL, min_width=min(len(column), 12))
    for row in cells:
        table.add_row(*row)
    Console().print(table)


MAX_CELL = 40  # characters of a value shown in a table; --format csv or json prints every value whole


def clipped(value: str, width: int = MAX_CELL) -> str:
    """One line of at most ``width`` characters, an ellipsis where it was cut."""
    value = " ".join(value.split())
    return value if len(value) <= width else value[:width - 1] + "…"


def plain_table(columns: list[str], rows: list[list[str]], title: str | None = None) -> str:
    """Columns padded to their widest (clipped) value, two spaces apart: a header line, a rule, one line per row."""
    header = [clipped(c) for c in columns]
    body = [[clipped(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(row[i]) for row in body]) for i, h in enumerate(header)]

    def line(values: list[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    lines = ([title] if title else []) + [line(header), line(["-" * w for w in widths])] + [line(r) for r in body]
    return "\n".join(lines)


TOP_NEEDS_SQL = """
SELECT rank, theme_label, mentions, round(explicit_share, 2) AS explicit, round(negative_share, 2) AS negative,
       round(opportunity_score, 2) AS score, round(ci_low, 2) || '–' || round(ci_high, 2) AS ci95,
       CASE WHEN rating_impact IS NOT NULL THEN printf('%+.2f', rating_impact) END AS stars_impact,
       round(label_coverage, 2) AS coverage, json_extract_string(example_quotes, '$[0].sentence') AS example
FROM v_unmet_needs ORDER BY rank LIMIT ?
"""


def option_group(*add) -> argparse.ArgumentParser:
    """A parent parser: options that several commands share, defined once."""
    group = argparse.ArgumentParser(add_help=False)
    for adding in add:
        adding(group)
    return group


def add_db_option(parser) -> None:
    parser.add_argument("--db", type=Path, default=DEFAULT_DB_PATH,
                        help=f"the warehouse file (default: $UNMET_DB, else {DEFAULT_DB_PATH})")


def add_wait_option(parser) -> None:
    parser.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                        help="if another run holds the database, wait up to this long for it instead of refusing")


def add_model_options(parser) -> None:
    """The ModelParams group (see pipelines/flows/params.py) as options."""
    parser.add_argument("--encoder", help="HF model id or path of the sentence encoder (default: packaged MiniLM)")
    parser.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--sentiment-head", help="head directory, or hf:MODEL for any Hugging Face classifier")
    parser.add_argument("--sentiment-labels",
                        help="label map for hf: heads, e.g. LABEL_0=negative,LABEL_2=positive")
    add_encoder_runtime_options(parser)


def add_encoder_runtime_options(parser) -> None:
    from models.options import BACKENDS, PRECISIONS

    parser.add_argument("--encoder-backend", default="auto", choices=BACKENDS,
                        help="auto: ONNX Runtime on CPU, torch on GPU; onnx-int8: faster on CPU, slightly "
                             "different embeddings; static: fast mode, lower accuracy (models/README.md)")
    parser.add_argument("--precision", default="fp32", choices=PRECISIONS, help="fp16/bf16: half precision (GPU)")
    parser.add_argument("--aspect-term-head", help="aspect-term tagger directory (default: the shipped one for the "
                                                   "encoder), or 'parser' for the spaCy parse rules")


def model_params(args):
    from pipelines.flows.params import ModelParams, checked

    return checked(ModelParams, encoder=args.encoder, device=args.device, sentiment_head=args.sentiment_head,
                   sentiment_labels=args.sentiment_labels, encoder_backend=args.encoder_backend,
                   precision=args.precision, aspect_term_head=args.aspect_term_head)


def cmd_run(args) -> int:
    from pipelines.flows import feedback_pipeline
    from pipelines.flows.ingest import expand_inputs, rows_balance
    from pipelines.flows.params import ClusterParams, IngestParams, RankParams, checked
    from pipelines.sources import IngestOptions
    from pipelines.sources.adapters import check_mapped_fields
    from pipelines.sources.normalize import check_mapping
    from pipelines.storage import connect

    if args.map or args.segment:  # the flow checks the same; here the error is one line, before Prefect starts
        check_mapped_fields(args.map or {})
        for path in expand_inputs(args.inputs):
            check_mapping(path, IngestOptions(fmt=args.format, column_map=args.map or {},
                                              segment_map=args.segment or {}))

    ingest = checked(IngestParams, source_kind=args.source_kind, source_name=args.source_name, fmt=args.format,
                     adapter=args.adapter, column_map=args.map or {}, segment_map=args.segment or {},
                     date_format=args.date_format, batch_rows=args.batch_rows, redact_handles=not args.keep_handles,
                     part_bytes=args.part_mb << 20, reread=args.reread)
    cluster = checked(ClusterParams, dask_address=args.dask, dask_workers=args.dask_workers,
                      gpu_resource=args.dask_gpu_resource, batch_documents=args.batch_documents)
    rank = checked(RankParams, refit=args.refit_themes, period=args.period)
    result = feedback_pipeline(args.inputs, str(args.db), ingest=ingest, models=model_params(args), rank=rank,
                               cluster=cluster, report_path=str(args.report) if args.report else None,
                               wait_s=args.wait)
    ingest, analysis, rank = result["ingest"], result["analyze"], result["rank"]
    print(rows_balance(ingest))
    if ingest["updated_documents"]:
        updated = ingest["updated_documents"]
        print(f"{updated} document{'s' if updated != 1 else ''} stored before took new product/rating/recommend/url "
              f"values from this run's options (their text and analysis are unchanged)")
    print(f"analysed {analysis['documents']} documents ({analysis['sentences']} sentences, "
          f"{analysis['need_mentions']} need mentions); {rank['themes']} themes from {rank['mentions']} mentions, "
          f"{rank['outliers']} outliers, {rank['emerging']} emerging "
          f"({'no' if rank['kind'] == 'none' else rank['kind']} fit)")
    if result["report"]:
        print(f"report written to {result['report']}")
    con = connect(args.db, read_only=True)
    try:
        if not con.execute("SELECT count(created_at) FROM v_feedback").fetchone()[0]:
            print("the data has no dates: trends are not computed (map a date column with --map created_at=COLUMN)")
        _print_table(con, TOP_NEEDS_SQL, [args.top], title=f"Top unmet needs ({args.db})")
    finally:
        con.close()
    return 0


def cmd_query(args) -> int:
    import duckdb

    from pipelines.storage.readonly import open_for_query, run_query

    con = open_for_query(args.db, wait_s=args.wait)
    try:
        _print_table(con, run_query(con, args.sql), fmt=args.format, prepared=True)
    except duckdb.Error as exc:
        print(f"error: query failed: {str(exc).splitlines()[0]}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        con.close()
    return 0


def cmd_export(args) -> int:
    from pipelines.storage.export import export_parquet

    written = export_parquet(args.db, args.out, wait_s=args.wait)
    for view, rows in written.items():
        print(f"{view}: {rows} rows → {args.out / view}")
    return 0


def cmd_report(args) -> int:
    from pipelines.report import build_report

    print(f"report written to {build_report(args.db, args.out)}")
    return 0


THEME_EDIT_USAGE = """unmet themes                       refit from scratch (old → new ids printed)
unmet themes rename ID "label"     give a theme the team's own name
unmet themes merge ID [ID ...] INTO rank these themes as one (the last id)
unmet themes hide ID [ID ...]      leave noise out of the ranking
unmet themes undo EDIT [EDIT ...]  take edits back
unmet themes edits                 list the edits"""


def cmd_themes(args) -> int:
    """Explicit full refit of the themes (prints how old ids map to new ones), or the team's edits of them."""
    from pipelines.flows import edit_themes, rank_needs
    from pipelines.flows.params import RankParams, checked
    from pipelines.storage import connect

    if args.action == "edits":
        con = connect(args.db, read_only=True)
        try:
            _print_table(con, "SELECT * FROM v_theme_edits", title="Theme edits")
        finally:
            con.close()
        return 0
    if args.action != "refit":
        values = args.values[:-1] if args.action == "rename" else args.values
        needed = {"rename": 1, "merge": 2, "hide": 1, "undo": 1}[args.action]
        if args.action == "rename" and len(args.values) < 2 or len(values) < needed \
                or not all(v.lstrip("-").isdigit() for v in values):
            print(f"error: usage:\n{THEME_EDIT_USAGE}", file=sys.stderr)
            return EXIT_USAGE
        result = edit_themes(args.action, [int(v) for v in values],
                             label=args.values[-1] if args.action == "rename" else None, db_path=str(args.db))
        print(f"{args.action}: edit {', '.join(map(str, result['edit_ids']))} applied "
              f"(theme fit {result['theme_fit_id']})")
        return 0

    result = rank_needs(str(args.db), checked(RankParams, refit=True, seed=args.seed, period=args.period))
    print(f"{result['kind']} fit {result['theme_fit_id']}: {result['themes']} themes, {result['outliers']} outliers")
    con = connect(args.db, read_only=True)
    try:
        _print_table(con, """SELECT old_theme_id, new_theme_id, shared_mentions, round(share_of_old, 3) AS share_of_old
                             FROM theme_id_map WHERE theme_fit_id = ? ORDER BY old_theme_id, shared_mentions DESC""",
                     [result["theme_fit_id"]], title="Old → new theme ids")
    finally:
        con.close()
    return 0


def cmd_validate(args) -> int:
    import tempfile

    from pipelines.validate import validate_airline, validate_clap

    with tempfile.TemporaryDirectory(prefix="unmet-validate-") as workdir:
        results = {}
        if "airline" in args.sets:
            results["airline"] = validate_airline(args.data_dir, Path(workdir), n_bootstrap=args.n_boot)
        if "clap" in args.sets:
            results["clap"] = validate_clap(args.data_dir, Path(workdir), n_bootstrap=args.n_boot)
    text = json.dumps(results, indent=1, default=str)
    print(text)
    if args.json:
        args.json.write_text(text, encoding="utf-8")
    return 0


def cmd_status(args) -> int:
    from pipelines.storage.readonly import open_for_query

    con = open_for_query(args.db, wait_s=args.wait)
    try:
        _print_table(con, """SELECT (SELECT count(*) FROM documents) AS documents,
                                    (SELECT count(*) FROM quarantine) AS quarantined,
                                    (SELECT count(*) FROM v_need_mentions) AS need_mentions,
                                    (SELECT count(*) FROM v_unmet_needs) AS themes""", title="Warehouse")
        _print_table(con, """SELECT run_id, flow, status, left(started_at::VARCHAR, 19) AS started,
                                    round(epoch(finished_at - started_at), 1) AS seconds,
                                    left(counts::VARCHAR, 90) AS counts,
                                    error FROM runs ORDER BY started_at DESC LIMIT 10""", title="Recent runs")
    finally:
        con.close()
    return 0


def cmd_train(args) -> int:
    from models import ARTIFACTS_DIR
    from models.train import train_heads
    from pipelines.storage import read_labels

    out = args.out or ARTIFACTS_DIR
    corrections = read_labels(args.corrections_db) if args.corrections_db else None
    if corrections is not None:
        print(f"human labels from {args.corrections_db}: "
              + (", ".join(f"{task} {len(texts)}" for task, (texts, _) in corrections.items()) or "none"))
    adapter = "default"
    if args.finetune:
        from models.finetune import finetune_encoder

        tuned = finetune_encoder(args.data_dir, args.version, out_dir=out, mode=args.finetune_mode,
                                 rank=args.rank, epochs=args.epochs, limit=args.limit, extra=corrections,
                                 overwrite=args.overwrite, topic_weight=args.topic_weight)
        print(f"encoder ({args.finetune_mode}): {tuned['steps']} steps, {tuned['texts']} texts in "
              f"{tuned['seconds']:.0f}s on {tuned['where']} → {tuned['path']}")
        adapter = tuned["path"]
    results = train_heads(args.data_dir, args.version, out_dir=out, encoder=args.encoder, adapter=adapter,
                          tasks=tuple(args.heads.split(",")), backend=args.encoder_backend,
                          limit=args.limit, extra=corrections, overwrite=args.overwrite, n_boot=args.n_boot)
    for task, result in results.items():
        print(f"{task} → {result['path']}")
        for title, m in result["metrics"].items():
            if "value" in m:
                low, high = m["ci95"]
                print(f"  {title.split('|')[0]}: {m['metric']} {m['value']:.3f} ({low:.3f}–{high:.3f})")
            else:  # the aspect-term tagger: precision / recall / F1 of the aspect it names
                interval = " ({:.3f}–{:.3f})".format(*m["f1_ci95"]) if "f1_ci95" in m else ""
                print(f"  {title}: precision {m['precision']:.3f} recall {m['recall']:.3f} F1 {m['f1']:.3f}{interval}")
    return 0


def cmd_eval(args) -> int:
    import time

    from models.analyzer import Analyzer
    from models.evaluation import SUPPLEMENTARY, TARGETS, Evaluator, format_table
    from models.hf_head import parse_label_map

    analyzer = Analyzer(encoder=args.encoder, adapter=args.adapter or "default", sentiment_head=args.sentiment_head,
                        need_head=args.need_head, implicit_aspect_head=args.implicit_aspect_head,
                        sentiment_labels=parse_label_map(args.sentiment_labels), device=args.device,
                        encoder_backend=args.encoder_backend, precision=args.precision,
                        aspect_term_head=args.aspect_term_head)
    started = time.perf_counter()
    evaluator = Evaluator(analyzer, args.data_dir, n_boot=args.n_boot, limit=args.limit)
    results = evaluator.run(TARGETS if args.targets_only else TARGETS + SUPPLEMENTARY)
    try:
        aspects = evaluator.aspect_terms()
    except FileNotFoundError as exc:  # the sentence benchmarks stand on their own
        aspects = {}
        print(f"aspect terms not scored: {exc}", file=sys.stderr)
    try:
        voc = evaluator.voc_needs()
    except FileNotFoundError as exc:
        voc = {}
        print(f"voc_needs aspects not scored: {exc}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps({"models": analyzer.versions, "throughput": evaluator.throughput,
                                         "results": [r.as_dict() for r in results], "aspect_terms": aspects,
                                         "voc_needs": voc},
                                        indent=1) + "\n")
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"unmet eval — dev rows of {args.data_dir} (never trained on); 95 % bootstrap CI")
    for column in ("task", "metric", "value (95 % CI)", "target", "met", "n", "anchor"):
        table.add_column(column, overflow="fold")
    for row in format_table(results):
        table.add_row(*row)
    console = Console(width=max(140, Console().width))
    console.print(table)
    if aspects:
        terms = Table(title="aspect named per sentence, SemEval/ACOS dev (right: head word of an annotated term)")
        for column in ("method", "precision", "recall", "F1 (95 % CI)"):
            terms.add_column(column, overflow="fold")
        for method, m in aspects.items():
            interval = f" ({m['f1_ci95'][0]:.3f}–{m['f1_ci95'][1]:.3f})" if "f1_ci95" in m else ""
            terms.add_row(method, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}{interval}")
        console.print(terms)
    if voc:
        console.print(_voc_table(voc))
    print("models: " + ", ".join(f"{k} {v}" for k, v in analyzer.versions.items()))
    t = evaluator.throughput
    print(f"throughput: {t['sentences']} sentences through the shared encoder and {len(analyzer.heads)} heads in "
          f"{t['seconds']:.1f}s = {t['sentences_per_s']:.0f} sentences/s ({t['device']}, {t['threads']} threads); "
          f"eval total {time.perf_counter() - started:.0f}s")
    return 0


def _voc_table(voc: dict):
    """voc_needs dev sentences run as documents: aspects found, and accuracy where a contrast, negation or wish
    makes a sentence hard."""
    from rich.table import Table

    def cell(m: dict) -> str:
        return f"{m['value']:.3f} ({m['ci95'][0]:.3f}–{m['ci95'][1]:.3f})" if m["n"] else "–"

    table = Table(title="voc_needs dev, each sentence run as one document (what the warehouse stores); 95 % CI")
    for column in ("measure", "value (95 % CI)", "n", "target"):
        table.add_column(column, overflow="fold")
    for title, m in voc["measures"].items():
        if "value" in m:
            table.add_row(title + " (shares a word with the annotated aspect)", cell(m), str(m["n"]),
                          "≥ 0.75" if title == "named aspect found" else "report")
        else:
            for measure, sub in m.items():
                table.add_row(f"{measure} accuracy, {title}", cell(sub), str(sub["n"]), "report")
    return table


def cmd_label(args) -> int:
    from pipelines.storage import add_label, connect

    con = connect(args.db)
    try:
        label_id = add_label(con, args.task, args.label, sentence_id=args.sentence_id, text=args.text,
                             labelled_by=args.by, note=args.note)
    finally:
        con.close()
    print(f"stored label {label_id}: {args.task} = {args.label}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="unmet", description="Find the unmet customer needs in feedback.")
    sub = parser.add_subparsers(dest="command", required=True)
    db, wait, model = option_group(add_db_option), option_group(add_wait_option), option_group(add_model_options)

    run = sub.add_parser("run", help="ingest files, analyse and rank (the feedback_pipeline flow)",
                         parents=[db, model, wait])
    run.add_argument("inputs", nargs="+", help="files, directories or glob patterns")
    run.add_argument("--source-kind", choices=["review", "social"], help="default: from the detected adapter")
    run.add_argument("--source-name", help="default: the file name without extensions")
    run.add_argument("--format", choices=["csv", "tsv", "jsonl", "json", "parquet"], help="default: detected")
    run.add_argument("--adapter", help="amazon, datafiniti, twitter_v2, tweet_csv, reddit, app_store, generic")
    run.add_argument("--map", action="append", default=[], metavar="FIELD=COLUMN",
                     help="column mapping, e.g. --map text=Body --map created_at=When (repeatable)")
    run.add_argument("--segment", action="append", default=[], metavar="NAME=COLUMN",
                     help="rank needs per value of this column too, e.g. --segment department=\"Department Name\" "
                          "(repeatable; shown in v_feedback.segments and v_unmet_needs_by_segment)")
    run.add_argument("--date-format", help="strptime format of the date column, e.g. %%d:%%m:%%y:%%H:%%M:%%S")
    run.add_argument("--batch-documents", type=int, default=1000,
                     help="most documents per analysis partition (evened out so that every partition in flight "
                          "stays busy to the end)")
    run.add_argument("--dask", metavar="ADDRESS",
                     help="read input parts and analyse partitions on Dask: a scheduler address (tcp://host:8786) "
                          "or 'local' for a local cluster (default: $UNMET_DASK_ADDRESS, else in this process)")
    run.add_argument("--dask-workers", type=int, default=2,
                     help="workers of a 'local' cluster; with a remote scheduler, how many it has")
    run.add_argument("--dask-gpu-resource", metavar="NAME",
                     help="run the encoder only on Dask workers that declare this resource (e.g. GPU) and "
                          "splitting and parsing on workers that declare CPU (default: $UNMET_DASK_GPU_RESOURCE)")
    run.add_argument("--top", type=int, default=10, help="how many unmet needs to print")
    run.add_argument("--refit-themes", action="store_true", help="refit themes from scratch (ids mapped, not kept)")
    run.add_argument("--period", default="auto", choices=["auto", "day", "week", "month"], help="trend period")
    run.add_argument("--report", type=Path, help="also write the HTML report here")
    run.add_argument("--batch-rows", type=int, default=5000, help="rows read and written per ingest transaction")
    run.add_argument("--part-mb", type=int, default=PART_BYTES >> 20,
                     help="large files are read in parts of about this many MiB, in parallel on Dask")
    run.add_argument("--reread", action="store_true",
                     help="read every input part again, even those already ingested with the same options")
    run.add_argument("--keep-handles", action="store_true",
                     help="do not mask @handles (in reviews and social posts; other personal data is always masked)")
    run.set_defaults(handler=cmd_run)

    report = sub.add_parser("report", help="write the self-contained HTML report of the latest ranking",
                            parents=[db])
    report.add_argument("--out", type=Path, default=Path("report.html"))
    report.set_defaults(handler=cmd_report)

    export = sub.add_parser("export", help="write the views as Parquet, partitioned by year and month written",
                            parents=[db, wait])
    export.add_argument("out", type=Path, help="directory; each view goes to OUT/<view>/")
    export.set_defaults(handler=cmd_export)

    themes = sub.add_parser("themes", help="refit the themes from scratch, or rename, merge, hide them",
                            description=THEME_EDIT_USAGE, formatter_class=argparse.RawDescriptionHelpFormatter,
                            parents=[db])
    themes.add_argument("action", nargs="?", default="refit",
                        choices=["refit", "rename", "merge", "hide", "undo", "edits"])
    themes.add_argument("values", nargs="*", help="theme ids (and the label, for rename); edit ids for undo")
    themes.add_argument("--seed", type=int, default=0)
    themes.add_argument("--period", default="auto", choices=["auto", "day", "week", "month"])
    themes.set_defaults(handler=cmd_themes)

    validate = sub.add_parser("validate", help="check themes and ranking against airline and CLAP ground truth")
    validate.add_argument("--data-dir", type=Path, default=DEFAULT_SHARED_DATA)
    validate.add_argument("--sets", nargs="+", default=["airline", "clap"], choices=["airline", "clap"])
    validate.add_argument("--n-boot", type=int, default=200)
    validate.add_argument("--json", type=Path, help="also write the figures here")
    validate.set_defaults(handler=cmd_validate)

    query = sub.add_parser("query", help="run read-only SQL against the warehouse", parents=[db, wait])
    query.add_argument("sql")
    query.add_argument("--format", choices=["table", "csv", "json"], default="table")
    query.set_defaults(handler=cmd_query)

    status = sub.add_parser("status", help="show counts and recent runs", parents=[db, wait])
    status.set_defaults(handler=cmd_status)

    train = sub.add_parser("train", help="retrain the default heads (and optionally the encoder adapter)")
    train.add_argument("--data-dir", type=Path, default=DEFAULT_SHARED_DATA)
    train.add_argument("--version", required=True, help="new artifact version, e.g. 1.1.0")
    train.add_argument("--out", type=Path, help="artifact root (default: models/artifacts)")
    train.add_argument("--encoder", help="HF model id or path (default: packaged MiniLM)")
    train.add_argument("--finetune", action="store_true",
                       help="first tune a multi-task LoRA adapter of the encoder (minutes to an hour on CPU)")
    train.add_argument("--epochs", type=int, default=4, help="encoder tuning epochs (with --finetune)")
    train.add_argument("--finetune-mode", choices=["full", "lora"], default="full",
                       help="full: every transformer layer, stored as an fp16 delta (default); lora: low-rank adapter")
    train.add_argument("--rank", type=int, default=32, help="LoRA rank (with --finetune-mode lora)")
    train.add_argument("--topic-weight", type=float, default=0.0,
                       help="keep the untuned encoder's sentence similarities (what themes cluster on) with this "
                            "weight while tuning (with --finetune)")
    train.add_argument("--corrections-db", type=Path, help="also learn from the human_labels of this warehouse")
    train.add_argument("--limit", type=int, help="at most this many rows per labelled set (quick runs)")
    train.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the model card")
    train.add_argument("--heads", default="sentiment,needs,implicit_aspect,aspect_terms,implied_aspects",
                       help="which heads to fit")
    train.add_argument("--overwrite", action="store_true", help="replace an existing version")
    train.add_argument("--encoder-backend", default="auto", choices=("auto", "static"),
                       help="static: distil the fast mode's token vectors and fit heads for them")
    train.set_defaults(handler=cmd_train)

    evaluate = sub.add_parser("eval", help="score the models on the public labelled sets (dev rows)",
                              parents=[model])
    evaluate.add_argument("--data-dir", type=Path, default=DEFAULT_SHARED_DATA)
    evaluate.add_argument("--adapter", help="encoder adapter directory (default: newest in models/artifacts)")
    evaluate.add_argument("--need-head", help="need head directory (default: newest)")
    evaluate.add_argument("--implicit-aspect-head", help="implicit-aspect head directory (default: newest)")
    evaluate.add_argument("--targets-only", action="store_true", help="only the rows of the target table")
    evaluate.add_argument("--limit", type=int, help="score a random sample of at most N dev rows per set")
    evaluate.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the intervals")
    evaluate.add_argument("--json", type=Path, help="also write every figure and confusion matrix here")
    evaluate.set_defaults(handler=cmd_eval)

    label = sub.add_parser("label", help="store a human correction that retraining will learn from", parents=[db])
    label.add_argument("--task", required=True, choices=["sentiment", "needs", "implicit_aspect"])
    label.add_argument("--label", required=True)
    target = label.add_mutually_exclusive_group(required=True)
    target.add_argument("--sentence-id", help="v_need_mentions.mention_id of a stored sentence")
    target.add_argument("--text", help="a free text to label")
    label.add_argument("--by", help="who labels")
    label.add_argument("--note")
    label.set_defaults(handler=cmd_label)
    return parser


def main(argv: list[str] | None = None) -> int:
    quiet_prefect_defaults()
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "map", None):
            args.map = _column_map(args.map)
        if getattr(args, "segment", None):
            args.segment = _column_map(args.segment, "--segment", "NAME")
    except argparse.ArgumentTypeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("unmet").setLevel(logging.INFO)
    from models.errors import UnmetError

    try:
        return args.handler(args)
    except UnmetError as exc:  # anything else is a bug and keeps its traceback
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
