"""A miniature copy of the shared data folder (same files, same formats, invented rows) so that readers,
training, evaluation and the notebooks are tested without the real data sets."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

THINGS = ["battery", "screen", "app", "charger", "camera", "update", "login page", "speaker", "menu", "search",
          "sync", "lamp", "timer", "keyboard", "map"]
GOOD = ["works perfectly", "is wonderful", "is fast and reliable", "made my day", "is excellent"]
BAD = ["died after an hour", "crashes every time", "is painfully slow", "stopped working", "keeps freezing"]
WISH = ["Please add a dark mode to the {t}", "I wish the {t} had an offline option",
        "It would be great if the {t} supported widgets", "Could you add export to the {t}"]
NEUTRAL = ["The {t} arrived on Tuesday", "I use the {t} at work", "The {t} comes in two colours"]


def _texts(kind: str, n: int) -> list[str]:
    if kind == "wish":
        pool = [w.format(t=t) + "." for w, t in itertools.product(WISH, THINGS)]
    elif kind == "neutral":
        pool = [w.format(t=t) + "." for w, t in itertools.product(NEUTRAL, THINGS)]
    else:
        verbs = GOOD if kind == "good" else BAD
        pool = [f"The {t} {v}." for v, t in itertools.product(verbs, THINGS)]
    return pool[:n]


def build(root: Path, n: int = 30) -> Path:
    """Write the miniature folder under ``root`` and return it."""
    root = Path(root)
    good, bad, wish, neutral = _texts("good", n), _texts("bad", n), _texts("wish", n), _texts("neutral", n)

    def write_csv(path: Path, header: list[str], rows: list[list], encoding: str = "utf-8", delimiter: str = ","):
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding=encoding, newline="") as fh:
            writer = csv.writer(fh, delimiter=delimiter)
            writer.writerow(header)
            writer.writerows(rows)

    write_csv(root / "airline_tweets" / "Tweets_train.csv", ["text", "airline_sentiment", "negativereason", "airline"],
              [[f"@united {t}", "negative", "Late Flight", "United"] for t in bad]
              + [[f"@delta {t}", "positive", "", "Delta"] for t in good]
              + [[f"@united {t}", "neutral", "", "United"] for t in neutral])
    (root / "tweeteval_sentiment").mkdir(parents=True, exist_ok=True)
    tweets = [(t, 0) for t in bad] + [(t, 1) for t in neutral] + [(t, 2) for t in good]
    (root / "tweeteval_sentiment" / "val_text.txt").write_text("\n".join(f"{t} #today" for t, _ in tweets) + "\n")
    (root / "tweeteval_sentiment" / "val_labels.txt").write_text("\n".join(str(c) for _, c in tweets) + "\n")
    sst = [[f"honestly , {t.lower()}", 0] for t in bad] + [[f"honestly , {t.lower()}", 1] for t in good]
    write_csv(root / "sst2" / "train.tsv", ["sentence", "label"], sst, delimiter="\t")
    write_csv(root / "sst2" / "dev.tsv", ["sentence", "label"], sst[::3], delimiter="\t")
    write_csv(root / "amazon_device_reviews" / "Datafiniti_Amazon_Consumer_Reviews_of_Amazon_Products.csv",
              ["reviews.rating", "reviews.title", "reviews.text"],
              [[1, "Bad", f"{t} Returned it."] for t in bad] + [[5, "Great", f"{t} Love it."] for t in good]
              + [[3, "Ok", t] for t in neutral], encoding="utf-8-sig")
    sentences = []
    for i, t in enumerate(bad + good):
        polarity = "negative" if t in bad else "positive"
        target = "NULL" if i % 3 == 0 else t.split()[1]
        start = 0 if target == "NULL" else len(t.split()[0]) + 1  # the target's real character offsets
        end = 0 if target == "NULL" else start + len(target)
        sentences.append(f'<sentence id="r:{i}"><text>{t}</text><Opinions><Opinion target="{target}" '
                         f'category="X#Y" polarity="{polarity}" from="{start}" to="{end}"/></Opinions></sentence>')
    xml = root / "semeval_absa" / "2016" / "ABSA16_Restaurants_Train_SB1_v2.xml"
    xml.parent.mkdir(parents=True, exist_ok=True)
    xml.write_text('<?xml version="1.0" encoding="UTF-8"?><Reviews><Review rid="r"><sentences>'
                   + "".join(sentences) + "</sentences></Review></Reviews>\n")
    acos = root / "semeval_absa" / "acos" / "Restaurant-ACOS" / "rest16_quad_train.tsv"
    acos.parent.mkdir(parents=True, exist_ok=True)
    acos.write_text("".join(f"{t.lower().rstrip('.')} .\t{'-1,-1' if i % 2 else '1,2'} X#Y "
                            f"{0 if t in bad else 2} -1,-1\n" for i, t in enumerate(bad + good)))
    maalej = root / "maalej2016_app_reviews" / "train.jsonl"
    maalej.parent.mkdir(parents=True, exist_ok=True)
    rows = ([{"title": "", "comment": t, "labels": ["Feature"]} for t in wish]
            + [{"title": "", "comment": t, "labels": ["Bug"]} for t in bad]
            + [{"title": "", "comment": t, "labels": ["Rating"]} for t in good])
    maalej.write_text("".join(json.dumps(r) + "\n" for r in rows))
    write_csv(root / "clap2017_app_reviews" / "rq1_train.csv", ["review", "category"],
              [[t, "FEATURE"] for t in wish] + [[t, "BUG"] for t in bad] + [[t, "OTHER"] for t in good])
    write_csv(root / "urr2017_app_reviews" / "golden_set.csv", ["reviewText", "class1", "class2"],
              [[t, "ERROR", ""] for t in bad] + [[t, "OTHER", ""] for t in good] + [["Café UI", "UI", ""]],
              encoding="latin-1")
    write_csv(root / "semeval_twitter_sentiment" / "train.tsv", ["tweet_id", "label", "text", "collection"],
              [[i, label, f"{t} #now", "twitter-2016train"] for i, (t, label) in
               enumerate([(t, "negative") for t in bad] + [(t, "neutral") for t in neutral]
                         + [(t, "positive") for t in good])], delimiter="\t")
    voc = root / "voc_needs" / "sentences.jsonl"
    voc.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for kind, texts, sentiment in (("explicit", wish, "neutral"), ("implicit", bad, "negative"),
                                   ("none", good, "positive"), ("none", neutral, "neutral")):
        for t in texts:
            thing = next((w for w in sorted(THINGS, key=len, reverse=True) if w in t), "")
            implied = kind == "implicit" and len(rows) % 4 == 0  # "It died after an hour." names no battery
            sentence = f"It {t.split(' ', 2)[2].rstrip('.')} on day {len(rows)}." if implied else t
            rows.append({"id": f"n{len(rows):05d}", "source": "maalej2016_app_reviews", "doc": str(len(rows)),
                         "sentence": sentence, "context": t, "need_kind": kind,
                         "aspect": thing if kind != "none" else "", "aspect_named": kind != "none" and not implied,
                         "need": f"better {thing}" if kind != "none" else "", "sentiment": sentiment,
                         "unsure": False, "split": "dev" if len(rows) % 5 == 0 else "train", "sampled": "random"})
    voc.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root
