import gzip
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.text import clean_text
from pipelines.flows.params import IngestParams
from pipelines.sources import IngestOptions, SourceError, detect_format, normalize_file
from pipelines.sources.normalize import parse_timestamp


def ingest(path, **options):
    result = normalize_file(path, IngestOptions(**options))
    return result, result.records.to_pylist(), result.quarantine.to_pylist()


def test_minimal_id_text_csv(write):
    result, records, quarantined = ingest(write("mini.csv", "id,text\n1,The battery died.\n2,Please add dark mode\n"))
    assert result.adapter == "generic"
    assert [r["source_id"] for r in records] == ["1", "2"]
    assert records[0]["text"] == "The battery died." and records[0]["source_kind"] == "review"
    assert quarantined == []


def test_amazon_review_json(write):
    row = {"reviewerID": "A1", "asin": "B00X", "reviewText": "Stopped charging after a week.", "overall": 2.0,
           "summary": "Dead", "unixReviewTime": 1500000000}
    result, records, _ = ingest(write("amazon.jsonl", json.dumps(row) + "\n"))
    record = records[0]
    assert result.adapter == "amazon"
    assert record["text"] == "Dead\nStopped charging after a week."
    assert record["rating"] == 2.0 and record["product"] == "B00X"
    assert record["created_at"].year == 2017
    assert record["author_hash"] and "A1" not in record["author_hash"]


def test_datafiniti_csv_with_bom(write):
    content = "\ufeffid,name,reviews.date,reviews.doRecommend,reviews.numHelpful,reviews.rating,reviews.text," \
              "reviews.title,reviews.username\n" \
              "AV1,Kindle,2017-09-03T00:00:00.000Z,FALSE,3,3,Too small to read on.,Meh,bob\n" \
              "AV2,Kindle,2017-09-04T00:00:00.000Z,TRUE,0,5,Light and easy.,Great,amy\n" \
              "AV3,Kindle,2017-09-05T00:00:00.000Z,,,4,No flag here.,Fine,cy\n" \
              "AV4,Kindle,2017-09-06T00:00:00.000Z,maybe,1,4,A flag that is not one.,Hm,di\n" \
              "AV5,Kindle,2017-09-07T00:00:00.000Z,TRUE,-2,4,Minus two helpful votes.,Hm,ed\n"
    result, records, quarantined = ingest(write("df.csv", content))
    assert result.adapter == "datafiniti"
    assert records[0]["source_id"] == "AV1" and records[0]["product"] == "Kindle"
    assert records[0]["rating"] == 3.0 and records[0]["text"] == "Meh\nToo small to read on."
    assert [r["recommend"] for r in records] == [False, True, None]
    assert [r["helpful_votes"] for r in records] == [3, 0, None]
    assert [q["reason"] for q in quarantined] == ["recommend is not a yes/no flag: 'maybe'",
                                                 "helpful_votes is not a whole number of votes: '-2'"]


def test_app_store_export(write):
    content = "review_id,app_id,title,body,rating,date\nr1,com.x,Crash,App crashes on start,1,2024-01-02\n"
    result, records, _ = ingest(write("apps.csv", content))
    assert result.adapter == "app_store" and records[0]["product"] == "com.x"


def test_twitter_v2_json(write):
    doc = {"data": [{"id": "1888", "text": "@acme your app is down again #FixIt https://t.co/x 😡",
                     "created_at": "2025-01-01T10:00:00.000Z", "author_id": "7",
                     "public_metrics": {"like_count": 3}}],
           "includes": {"users": [{"id": "7", "username": "someone"}]}}
    result, records, _ = ingest(write("tweets.json", json.dumps(doc)))
    record = records[0]
    assert result.adapter == "twitter_v2" and record["source_kind"] == "social"
    assert record["text"] == "@user your app is down again Fix It http 😡"
    assert record["source_id"] == "1888" and record["url"].endswith("/1888")
    assert "someone" not in json.dumps({k: v for k, v in record.items() if k != "raw_payload"}, default=str)


def test_flat_tweet_csv(write):
    content = "tweet_id,airline,name,text,tweet_created\n570306133677760513,United,joe,@united lost my bag," \
              "2015-02-24 11:35:52 -0800\n"
    _, records, _ = ingest(write("Tweets.csv", content))
    assert records[0]["source_id"] == "570306133677760513"  # kept exactly, no float rounding
    assert records[0]["product"] == "United"
    assert records[0]["created_at"].isoformat() == "2015-02-24T19:35:52+00:00"


def test_reddit_listing_with_comment_tree(write):
    comment = {"kind": "t1", "data": {"id": "c1", "body": "Same, the sync keeps failing.", "created_utc": 1700000100,
                                      "score": 4, "author": "u2", "subreddit": "acme", "replies": {
                                          "kind": "Listing", "data": {"children": [
                                              {"kind": "t1", "data": {"id": "c2", "body": "+1",
                                                                      "created_utc": 1700000200, "subreddit": "acme"}}
                                          ]}}}}
    post = {"kind": "t3", "data": {"id": "p1", "title": "Sync broken", "selftext": "Nothing syncs since Monday.",
                                   "created_utc": 1700000000, "score": 10, "subreddit": "acme",
                                   "permalink": "/r/acme/comments/p1/"}}
    listing = {"kind": "Listing", "data": {"children": [post, comment]}}
    result, records, _ = ingest(write("reddit.json", json.dumps(listing)))
    assert result.adapter == "reddit"
    assert [r["text"] for r in records] == ["Sync broken\nNothing syncs since Monday.",
                                            "Same, the sync keeps failing.", "+1"]
    assert records[0]["url"] == "https://www.reddit.com/r/acme/comments/p1/"
    assert records[0]["rating"] is None  # a Reddit score is not a star rating


def test_column_mapping_for_unknown_columns(write):
    content = "uid;Opinion;When\n9;Too loud at night;03/04/2024\n"
    result, records, quarantined = ingest(write("odd.csv", content),
                                          column_map={"source_id": "uid", "text": "Opinion", "created_at": "When"})
    assert quarantined == [] and records[0]["text"] == "Too loud at night" and records[0]["source_id"] == "9"


def test_gzip_tsv_parquet_and_detection(write, tmp_path):
    gz = write("a.tsv.gz", gzip.compress(b"id\ttext\n1\tNeeds a longer cable\n"))
    assert detect_format(gz) == "tsv"
    assert ingest(gz)[1][0]["text"] == "Needs a longer cable"
    pq.write_table(pa.table({"id": ["p1"], "review": ["Lid cracked"]}), tmp_path / "noext")
    assert detect_format(tmp_path / "noext") == "parquet"
    assert ingest(tmp_path / "noext")[1][0]["text"] == "Lid cracked"
    sniffed = write("feed", '{"id": 1, "text": "a"}\n{"id": 2, "text": "b"}\n')
    assert detect_format(sniffed) == "jsonl"


def test_bad_rows_are_quarantined_with_reasons_and_accounted(write):
    content = (b"id,text,date,rating\n1,fine text,2024-01-01,5\n2,,2024-01-01,4\n3,bad date,someday,4\n"
               b"4,bad rating,2024-01-01,five\n5,\xff\xfe broken bytes,2024-01-01,3\n6,too,many,fields,here\n"
               b"7,<p> </p>,2024-01-01,3\n8," + b"x" * 30 + b",2024-01-01,3\n")
    result, records, quarantined = ingest(write("bad.csv", content), max_text_chars=20)
    reasons = {q["source_line"]: q["reason"] for q in quarantined}
    assert [r["source_id"] for r in records] == ["1"]
    assert reasons[3] == "no text"
    assert reasons[4].startswith("unparseable date")
    assert reasons[5].startswith("rating is not a number")
    assert reasons[6].startswith("undecodable bytes")
    assert reasons[7].startswith("expected 4 fields")
    assert reasons[8].startswith("no text after cleaning")
    assert reasons[9].startswith("text too long")
    assert result.rows_read == 8 == len(records) + len(quarantined)
    assert all(q["raw_payload"] for q in quarantined)


def test_jsonl_bad_lines_and_wrong_types(write):
    content = '{"id": 1, "text": "ok"}\n{"id": 2, "text": "cut\n[1, 2]\n{"id": 3, "text": ["a"]}\n'
    result, records, quarantined = ingest(write("x.jsonl", content))
    assert len(records) == 1 and result.rows_read == 4
    assert [q["reason"].split(" (")[0] for q in quarantined] == ["invalid JSON", "expected a JSON object, found list",
                                                               "wrong type for text: list"]


def test_unreadable_files_become_one_quarantine_entry(write):
    for name, content in [("broken.json", '[{"id": 1,}'), ("empty.csv", ""), ("shape.json", '{"a": 1}')]:
        result, records, quarantined = ingest(write(name, content))
        assert records == [] and len(quarantined) == 1 and name in quarantined[0]["reason"]
    truncated = write("t.jsonl.gz", gzip.compress(b'{"id": 1, "text": "a"}\n' * 2000)[:-40])
    result, records, quarantined = ingest(truncated)
    assert "compressed stream is corrupt or truncated" in quarantined[-1]["reason"]
    assert result.file_errors == 1 and result.rows_read == len(records) + len(quarantined) - 1
    assert len(records) > 0


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        normalize_file(tmp_path / "nope.csv", IngestOptions())


def test_reingesting_gives_identical_ids(write):
    path = write("same.csv", "id,text\n1,The hinge broke\n")
    assert ingest(path)[1][0]["feedback_id"] == ingest(path)[1][0]["feedback_id"]


def test_cleaning():
    assert clean_text("The app doesnâ€™t sync") == "The app doesn't sync"
    assert clean_text("<p>Too&nbsp;loud</p><br>Fix   it") == "Too loud\nFix it"
    assert clean_text("@Acme #BatteryLife sucks 😭 http://x.co/1", social=True) == "@user Battery Life sucks 😭 http"
    assert clean_text("Line one\r\nLine\x1b[31m two\x00") == "Line one\nLine two"  # ASCII that ftfy repairs


@pytest.mark.parametrize("text, expected", [
    ("something about the\nhanging at store or the way it was\nsewn.",  # wrapped: one sentence
     "something about the hanging at store or the way it was sewn."),
    ("Open more kiosks at\nAustin-Bergstrom.", "Open more kiosks at Austin-Bergstrom."),  # cut on an open word
    ("It broke,\nThen it froze", "It broke, Then it froze"),
    ("Can't vote reviews helpful\nCan't read your own", "Can't vote reviews helpful\nCan't read your own"),
    ("It broke.\nthen it froze", "It broke.\nthen it froze"),  # terminal punctuation ends the sentence
    ("Pros are\n- light\n- cheap", "Pros are\n- light\n- cheap"),  # list items keep their break
    ("Two things that\n1. sync fails", "Two things that\n1. sync fails"),
    ("The first paragraph ends\n\nthe second starts", "The first paragraph ends\nthe second starts"),
    ("Wrapped by <br>a form", "Wrapped by a form"),
])
def test_a_line_break_inside_a_sentence_does_not_end_it(text, expected):
    assert clean_text(text) == expected


def test_a_title_ends_its_sentence_and_the_id_is_unchanged_by_joining(write):
    content = 'id,title,text\nr1,Great dress,"Not the best fit, something about the\nhanging at store."\n'
    [record] = ingest(write("dress.csv", content))[1]
    assert record["text"] == "Great dress\nNot the best fit, something about the hanging at store."
    assert record["feedback_id"] == "97a9b6e6461994a92052"  # the id hashes the text as read, before joining


def test_html_entities_are_unescaped_even_when_the_export_escaped_them_twice():
    assert clean_text("it&#39;s see-through &amp; it&#x2019;s thin") == "it's see-through & it\u2019s thin"
    assert clean_text("it&amp;#39;s thin, Don&amp;amp;#39;t") == "it's thin, Don&#39;t"  # twice escaped, not thrice
    assert clean_text("caf&eacute; was &quot;fine&quot;") == 'café was "fine"'
    assert clean_text("I &lt;3 it, <b>really</b>") == "I <3 it, really"  # an escaped "<" is text, not a tag
    assert clean_text("AT&T and R&D, fish & chips") == "AT&T and R&D, fish & chips"  # no entity: unchanged


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"[\t\n\x20-\x7e]*", fullmatch=True) | st.text(alphabet=st.characters(max_codepoint=0x7f))
       | st.text())
def test_cleaning_skips_ftfy_only_where_ftfy_changes_nothing(text):
    import ftfy

    from models.text import _PLAIN

    if _PLAIN.fullmatch(text):
        assert ftfy.fix_text(text, unescape_html=False, normalization="NFC") == text


@pytest.mark.parametrize("value, expected", [
    ("2015-02-24 11:35:52 -0800", "2015-02-24T19:35:52+00:00"),
    ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05+00:00"),
    (1390090741168, "2014-01-19T00:19:01.168000+00:00"),
    ("1500000000", "2017-07-14T02:40:00+00:00"),
    ("Wed Oct 10 20:19:24 +0000 2018", "2018-10-10T20:19:24+00:00"),
])
def test_timestamps(value, expected):
    assert parse_timestamp(value).isoformat() == expected


def test_house_date_format(write):
    content = "id,text,date\n1,Sync fails,25:11:13:02:26:01\n"
    _, records, _ = ingest(write("m.csv", content), date_format="%d:%m:%y:%H:%M:%S")
    assert records[0]["created_at"].isoformat() == "2013-11-25T02:26:01+00:00"


LANGUAGE_SAMPLES = [
    "Este producto es muy bueno, lo recomiendo a todos mis amigos y a mi familia.",
    "Ce produit est vraiment génial, je l'adore et je le recommande!",
    "Das Gerät ist leider nach zwei Wochen kaputt gegangen, sehr enttäuschend.",
    "Это устройство сломалось через неделю, очень плохое качество.",
    "この製品はとても良いです。また買いたいと思います。",
    "هذا المنتج رائع جدا وأنصح به الجميع",
    "THE BATTERY DIED HALFWAY THROUGH MY COMMUTE AND NOBODY ANSWERS",
    "Questo prodotto è fantastico, funziona benissimo da mesi.",
    "@united thanks for nothing, my bag is still in Denver #fail",
    "Works great.", "", "!!!! ???? 1234 5678 9999", "\ud800 a lone surrogate, and enough letters to be judged",
    "x" * 3000,
]


def test_batched_language_detection_agrees_with_py3langid_text_by_text():
    import re

    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    from pipelines.sources.language import COMMON_LANGUAGES, detect_languages, language_scores

    reference = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    reference.set_languages(COMMON_LANGUAGES)
    expected = []
    for text in LANGUAGE_SAMPLES:  # py3langid's own walk, one text at a time, under the same rules
        if len(re.findall(r"[^\W\d_]", text[:200])) < 12:
            expected.append("en")
            continue
        language, probability = reference.classify(text[:1000])
        expected.append(language if probability >= 0.5 else "en")
    assert detect_languages(LANGUAGE_SAMPLES) == expected
    assert expected[:8] == ["es", "fr", "de", "ru", "ja", "ar", "en", "it"]
    labels, scores = language_scores(LANGUAGE_SAMPLES[:9])
    for text, row in zip(LANGUAGE_SAMPLES[:9], scores, strict=True):
        ranked = dict(reference.rank(text[:1000]))
        np.testing.assert_allclose(row, [ranked.get(label, 0.0) if i == labels.index(label) else 0.0
                                         for i, label in enumerate(labels)], atol=1e-5)


def test_declared_languages_are_kept_and_the_rest_detected_per_batch(write):
    rows = ["id,text,lang", "1,Este producto es muy bueno y lo recomiendo a todos,",
            "2,This one is in English but declared otherwise,PT-BR", "3,ok,",
            "4,Das Gerät ist leider nach zwei Wochen kaputt gegangen,"]
    _, records, _ = ingest(write("langs.csv", "\n".join(rows) + "\n"), batch_rows=2)  # two batches
    assert [r["language"] for r in records] == ["es", "pt-br", "en", "de"]


RETAIL = ("Review Text,Rating,Department Name,Class Name\n"
          '"Runs small, had to return it.",2,Tops,Knits\n"Lovely fabric.",5,Dresses,Dresses\n')


def test_a_mapped_column_the_file_lacks_is_an_error_naming_file_field_and_columns(write):
    path = write("retail.csv", RETAIL)
    with pytest.raises(SourceError) as caught:
        ingest(path, column_map={"product": "Dept Name"})
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and "product=Dept Name" in message
    assert "Department Name" in message  # the columns it has
    _, records, _ = ingest(path, column_map={"product": "department name"})  # names compare as the adapters do
    assert [r["product"] for r in records] == ["Tops", "Dresses"]


def test_a_mapped_column_no_json_row_has_is_an_error(write):
    path = write("rows.jsonl", '{"text": "It broke.", "dept": "Tops"}\n{"text": "Too big.", "shop": "A"}\n')
    _, records, _ = ingest(path, column_map={"product": "shop"})  # a key only some rows have is fine
    assert [r["product"] for r in records] == [None, "A"]
    with pytest.raises(SourceError, match="no column 'department'"):
        ingest(path, column_map={"product": "department"})


def test_a_mapping_to_an_unknown_field_is_refused_before_anything_is_read(tmp_path, capsys):
    from pipelines.cli import main

    path = tmp_path / "retail.csv"
    path.write_text(RETAIL, encoding="utf-8")
    db = tmp_path / "w.duckdb"
    assert main(["run", str(path), "--db", str(db), "--map", "department=Department Name"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "unknown field 'department'" in err and "product" in err
    assert main(["run", str(path), "--db", str(db), "--map", "product=Dept Name"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(path) in err and "product=Dept Name" in err and "Department Name" in err
    assert not db.exists()  # validated before work starts


def test_a_row_without_an_id_is_cited_by_its_file_and_line(write):
    path = write("noid.csv", "text,rating\nRuns small.,2\n\"Two\nlines\",4\nToo long.,1\n")
    result, records, _ = ingest(path)
    assert [r["source_id"] for r in records] == ["noid.csv:2", "noid.csv:3", "noid.csv:5"]
    assert [r["source_line"] for r in records] == [2, 3, 5]
    _, again, _ = ingest(path)
    assert [r["feedback_id"] for r in again] == [r["feedback_id"] for r in records]  # stable across re-runs
    _, with_ids, _ = ingest(write("ids.csv", "id,text\nr-7,Runs small.\n"))
    assert with_ids[0]["source_id"] == "r-7"  # a file's own id wins


def test_a_rerun_with_a_new_mapping_updates_what_it_maps_and_says_so(tmp_path, prefect_harness, capsys):
    import duckdb

    from pipelines.cli import main
    from pipelines.flows import ingest_feedback

    path = tmp_path / "retail.csv"
    path.write_text(RETAIL, encoding="utf-8")
    db = str(tmp_path / "w.duckdb")
    first = ingest_feedback([str(path)], db)
    again = ingest_feedback([str(path)], db, IngestParams(column_map={"product": "Department Name"}))
    assert first["new_documents"] > 0 and again["new_documents"] == 0
    assert again["updated_documents"] == first["new_documents"]  # every row now has its department
    with duckdb.connect(db, read_only=True) as con:
        products = dict(con.execute("SELECT product, count(*) FROM documents GROUP BY ALL").fetchall())
    assert products == {"Tops": 1, "Dresses": 1}
    same = ingest_feedback([str(path)], db, IngestParams(column_map={"product": "Department Name"}))
    assert same["updated_documents"] == 0 and same["files"][0]["parts_skipped"] == 1
    capsys.readouterr()
    assert main(["run", str(path), "--db", db, "--map", "product=Class Name"]) == 0
    out = capsys.readouterr().out  # Knits is new for the first row; the second's class is its department
    assert "1 document stored before took new product/rating/recommend/url values" in out


def test_any_number_of_segment_columns_are_stored_shown_and_ranked(tmp_path, prefect_harness, capsys):
    import duckdb

    from pipelines.cli import main

    rows = [("The zipper broke after a week.", "Tops", "Jackets"), ("Runs small, order a size up.", "Dresses", "Knits"),
            ("The fabric pills after one wash.", "Tops", "Knits"), ("Please add petite sizes.", "Dresses", "Dresses")]
    path = tmp_path / "retail.csv"
    path.write_text("Review Text,Department Name,Class Name\n"
                    + "".join(f'"{t} ({i})",{d},{c}\n' for i in range(40) for t, d, c in rows), encoding="utf-8")
    db = str(tmp_path / "w.duckdb")
    assert main(["run", str(path), "--db", db, "--segment", "department=Department Name",
                 "--segment", "class=Class Name", "--segment", "missing=No Such Column"]) == 2
    assert "segment:missing=No Such Column" in capsys.readouterr().err  # checked before anything is read
    assert main(["run", str(path), "--db", db, "--segment", "department=Department Name",
                 "--segment", "class=Class Name"]) == 0
    with duckdb.connect(db, read_only=True) as con:
        pairs = con.execute("SELECT segments FROM v_feedback ORDER BY source_id LIMIT 1").fetchone()[0]
        ranked = {r[0]: r[1] for r in con.execute("""SELECT segment, count(DISTINCT segment_value)
                                                      FROM v_unmet_needs_by_segment GROUP BY segment""").fetchall()}
    assert sorted(p["segment"] for p in pairs) == ["class", "department"]
    assert ranked.get("department") == 2 and ranked.get("class", 0) >= 2
