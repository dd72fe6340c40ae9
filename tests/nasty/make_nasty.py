"""Write the corpus of nasty input files that tests/test_reliability.py feeds through ingest.

Each file is small and committed; the generator documents how each was made and can rebuild them
(``python tests/nasty/make_nasty.py``). Files too big to commit (huge rows) are made by the tests.
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

HERE = Path(__file__).with_name("files")
TWEET_HEADER = "tweet_id,airline_sentiment,airline,name,text,tweet_created\n"


def write(name: str, data: bytes | str) -> None:
    (HERE / name).write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def main() -> None:
    HERE.mkdir(exist_ok=True)
    rng = random.Random(5)
    good = "".join(f"{i},negative,United,user{i},@united flight {i} was late again and nobody helped,"
                   f"2015-02-{10 + i % 9} 11:35:52 -0800\n" for i in range(40))
    full = gzip.compress((TWEET_HEADER + good).encode())
    write("truncated.csv.gz", full[: len(full) // 2])
    write("binary_junk.csv", bytes(rng.randrange(256) for _ in range(4000)))
    write("binary_junk.bin", b"\x00\x01\x02PK\x03\x04" + bytes(rng.randrange(256) for _ in range(2000)))
    latin1 = "id,text\n1,Très déçu: l'écran est cassé\n2,plain ascii review works fine\n"
    write("latin1.csv", latin1.encode("latin-1"))
    write("mixed_encoding.jsonl", b'{"text": "caf\xc3\xa9 was lovely, app is great"}\n'
          b'{"text": "caf\xe9 in cp1252 breaks utf-8"}\n{"text": "third line fine"}\n')
    write("bom_utf8.csv", "\ufeffid,text\n1,the BOM should not leak into the header name\n")
    write("utf16_excel.tsv", "id\ttext\n1\tExcel exports UTF-16 with a BOM\n2\tsecond row\n".encode("utf-16"))
    write("embedded.csv", 'id,title,text\n1,"Comma, inside","Line one\nline two, with ""quotes"" and ; semicolons"\n'
          '2,"Tab\there","CRLF inside\r\nstill the same field"\n3,short,"unterminated quote\n')
    write("semicolon.csv", "id;text;rating\n1;Akku hält nur 3 Stunden, schade;2\n2;Lieferung kam zu spät;1\n")
    write("ragged.csv", "id,text,rating\n1,ok row,5\n2,too,many,fields,here\n3\n4,last good row,4\n")
    write("trailing_comma.json", '[\n {"id": 1, "text": "first review"},\n {"id": 2, "text": "second review"},\n]\n')
    write("wrong_shape_number.json", "42\n")
    write("wrong_shape_object.json", '{"reviews": 1, "note": "no list of records here"}\n')
    write("wrong_shape_strings.json", '["just", "strings", "not objects"]\n')
    write("truncated_array.json", '[{"id": 1, "text": "complete element"}, {"id": 2, "text": "cut off in the mid')
    write("empty.csv", "")
    write("empty.json", "")
    write("whitespace_only.jsonl", "\n   \n\t\n")
    write("header_only.csv", "id,text\n")
    write("null_bytes.csv", "id,text\n1,before\x00after a null byte\n2,normal row\n")
    write("dates_every_format.csv", "id,text,date\n" + "".join(
        f'{i},review number {i} about the battery,"{d}"\n' for i, d in enumerate([
            "2015-02-24T11:35:52Z", "2015-02-24 11:35:52 -0800", "Tue, 24 Feb 2015 11:35:52 +0000",
            "02/24/2015", "24.02.2015", "24/02/2015 14:05", "Feb 24, 2015", "24 February 2015", "1424777752",
            "1424777752000", "2015-W09-2", "20150224", "yesterday", "24 février 2015", "0000-00-00", "9999-12-31",
            "", "NaN", "2015-02-30", "2015-02-24T11:35:52.123456+05:30"])))
    write("emoji_and_blank_texts.csv", 'id,text\n1,😡😡😡\n2,"   "\n3,\n4,👍\n5,"\u200b\u200b"\n6,🔋📉😤 battery\n')
    write("rtl_cjk.jsonl", "".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n" for i, t in enumerate([
        "التطبيق يتوقف عن العمل بعد التحديث الأخير", "האפליקציה קורסת כל פעם שאני פותח אותה",
        "电池续航太差了，一天要充三次电", "アプリが起動しません。早く直してください。", "배송이 너무 늦어요",
        "mixed עברית and English in one review", "\u202eoverride characters\u202c should not break anything"])))
    write("mixed_line_endings.csv", "id,text\r\n1,windows line\r\n2,unix line\n3,old mac line\r4,last\n")
    write("corrupt.parquet", b"PAR1" + bytes(rng.randrange(256) for _ in range(500)) + b"PAR1")
    write("jsonl_garbage.jsonl", '{"text": "fine"}\n[1, 2]\n{"text": \n{"text": "also fine", "rating": "five"}\n'
          '{"text": {"nested": "object"}}\n{"text": "bad date", "date": "not a date at all"}\nnull\n"string"\n')
    write("pii_rows.csv", "id,username,text\n1,jane_doe,Call me on +44 20 7946 0958 or mail jane.doe@example.com\n"
          "2,bob99,Refund to card 4111 1111 1111 1111 or IBAN DE89 3704 0044 0532 0130 00\n"
          "3,carla,\"I live at 221B Baker Street, London NW1 6XE and it never came\"\n")
    print(f"{len(list(HERE.iterdir()))} files in {HERE}")


if __name__ == "__main__":
    main()
