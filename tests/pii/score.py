"""Score redaction on the labelled corpus: recall per gold span, precision per predicted span.

A gold span counts as found when masks cover at least 90% of its characters (a masked phone number is
protected whatever kind the mask says); a predicted span is correct when it overlaps a gold span.
Run ``python tests/pii/score.py`` to print the table.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from pipelines.sources.redact import KINDS, RedactionPolicy, find_pii

CORPUS = Path(__file__).with_name("pii_corpus.jsonl")


def score(rows: list[dict]) -> dict:
    found, gold, correct, predicted = Counter(), Counter(), Counter(), Counter()
    misses, false_alarms = [], []
    for row in rows:
        spans = find_pii(row["text"], RedactionPolicy().kinds())
        covered = set()
        for span in spans:
            covered.update(range(span.start, span.end))
        for g in row["spans"]:
            gold[g["kind"]] += 1
            chars = [i for i in range(g["start"], g["end"]) if not row["text"][i].isspace()]
            if sum(i in covered for i in chars) >= 0.9 * len(chars):
                found[g["kind"]] += 1
            else:
                misses.append((g["kind"], row["text"][g["start"]:g["end"]], row["locale"]))
        for span in spans:
            predicted[span.kind] += 1
            if any(span.start < g["end"] and g["start"] < span.end for g in row["spans"]):
                correct[span.kind] += 1
            else:
                false_alarms.append((span.kind, row["text"][span.start:span.end], row["text"]))
    table = {kind: {"gold": gold[kind], "recall": found[kind] / gold[kind] if gold[kind] else None,
                    "predicted": predicted[kind],
                    "precision": correct[kind] / predicted[kind] if predicted[kind] else None} for kind in KINDS}
    table["all"] = {"gold": sum(gold.values()), "recall": sum(found.values()) / max(sum(gold.values()), 1),
                    "predicted": sum(predicted.values()),
                    "precision": sum(correct.values()) / max(sum(predicted.values()), 1)}
    return {"table": table, "misses": misses, "false_alarms": false_alarms}


def load() -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]


if __name__ == "__main__":
    result = score(load())
    for kind, row in result["table"].items():
        fmt = lambda v: "  -  " if v is None else f"{v:.3f}"  # noqa: E731
        print(f"{kind:8} gold {row['gold']:4}  recall {fmt(row['recall'])}  predicted {row['predicted']:4}  "
              f"precision {fmt(row['precision'])}")
    for miss in result["misses"]:
        print("MISS", miss)
    for alarm in result["false_alarms"]:
        print("FALSE", alarm)
