"""Build the labelled personal-data corpus that measures redaction recall and precision.

Values come from Faker's locale providers (12 countries' phone, address, IBAN and card conventions),
which were written independently of our detectors, placed in customer-feedback sentences; hard
negatives (order and tweet ids, dates, prices, versions, flight numbers) test precision. The output is
committed, so tests never need Faker; regenerate with
``pip install faker==40.54.0 && python tests/pii/make_corpus.py``.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "en_IN", "pt_BR", "en_AU", "en_CA", "pl_PL"]
TEMPLATES = {
    "email": ["Please contact me at {x}, I never got my refund.", "My email is {x} if support wants to follow up.",
              "Your agent told me to send the photos to {x} but nobody replied", "{x} is my login and it keeps "
              "saying wrong password", "reach me on {x} asap!!", "Schreiben Sie mir an {x}, danke.",
              "Écrivez-moi à {x} svp"],
    "phone": ["Call me back on {x} — I've been on hold for 2 hours.", "I rang {x} three times and nobody answered",
              "my number is {x}, please call before 5pm", "The support line {x} just hangs up on you.",
              "text me at {x} when the replacement ships", "Bitte rufen Sie mich unter {x} an.",
              "Appelez-moi au {x}, merci.", "Llámame al {x} por favor", "whatsapp {x}", "{x} is the hotline "
              "printed on the box and it is dead"],
    "card": ["They charged my card {x} twice!", "I paid with card number {x} and still no order",
             "refund it to {x} please, not store credit", "card ending... actually the full number is {x}"],
    "iban": ["The refund should go to my account {x}", "I sent the bank transfer to IBAN {x} and it never arrived",
             "Überweisung auf {x} ist nicht angekommen.", "pay me back: {x}"],
    "address": ["Ship it to {x} instead.", "The courier left it at {x} which is not even my house",
                "I live at {x} and the delivery never came.", "Return label says {x}, is that right?",
                "Paket wurde an {x} geliefert, nicht zu mir.", "Livré au {x} au lieu de chez moi."],
    "handle": ["{x} your app crashed again during checkout", "thanks {x} for nothing, 3rd delay this week",
               "cc {x} this is the worst service", "Hey {x} can you fix the login bug?"],
}
# Handles inside reviews (not social posts): masked there too.
REVIEW_HANDLES = ["The seller {x} never answered my messages.", "I asked {x} on Instagram and she said it runs small.",
                  "Follow {x} for the unboxing, it arrived scratched.", "My sister ({x}) returned hers too."]
NEGATIVES = [
    "Order #112-4455667-8899001 arrived broken.", "Flight UA 1234 was delayed 3 hours on 2015-02-24.",
    "It cost $1,299.99 and died after 14 days.", "Updated to version 14.2.1 and now it crashes.",
    "The model SM-G991B overheats.", "ISBN 978-3-16-148410-0 is printed on the wrong book.",
    "tracking number 1Z999AA10123456784 shows delivered", "tweet 570306133677760513 got no reply",
    "I waited 45 minutes at gate 12", "Bought 3 Echo Dots for $29.99 each", "room 1204 had no hot water",
    "5 stars, would buy again", "Screen is 1080p but looks blurry", "Battery went from 100% to 20% in 3 hours",
    "Delivered on 12/03/2021 at 14:35", "Arrived 20.02.2015, two weeks late", "order number 40532178 still pending",
    "case number 0012345678 was closed without a reply", "My reference is 2023-11-05-7781", "call took 25:13 minutes",
    "I paid 1.234,56 € for this", "weighs 2.5 kg, way too heavy", "Serial 4F8K-22LM-9Q3X", "ticket 00123456789 open",
    "the 2 Main features I needed are missing", "It has 4 USB Ports and only 2 work",
    "Flight 5 to Parkersburg was cancelled", "between 10-12 working days", "Call 911 if it catches fire",
    "firmware 1.0.45.2 bricked it", "Invoice 2019-000123 is wrong", "lost 3 hours on the phone",
    "The booking reference 6H7J2K was not found", "sold 1,000,000 units they say", "on 03.04.2022 I ordered it",
    "my 2 year old loves it", "Costs 49,99 EUR", "temperature was 38.5 degrees", "zip code doesn't matter here",
    "Amazon's ASIN B07XJ8C8F5 page is wrong", "rated 4.5/5 elsewhere", "ordered 2x 500ml bottles",
]

# Written by hand: formats from several countries as people type them, several per sentence.
HANDWRITTEN = [
    "UK customer here, ring me on [[phone:+44 (0)20 7946 0958]] or [[phone:07700 900123]].",
    "Meine Nummer: [[phone:0171 1234567]], Festnetz [[phone:030 12345678]].",
    "Appelez le [[phone:06 12 34 56 78]] ou écrivez à [[email:jean.dupont@orange.fr]]",
    "Sydney office [[phone:(02) 9876 5432]] never picks up",
    "Tokyo support [[phone:+81 3-1234-5678]] was great though",
    "Indian helpline [[phone:+91 98765 43210]] kept me waiting 40 minutes",
    "US number [[phone:415-555-0132]] and fax [[phone:(415) 555-0199 ext. 12]]",
    "call [[phone:1-800-555-0199]] they said, nobody there",
    "Mi móvil es [[phone:612 34 56 78]], llamen por favor",
    "whatsapp me on [[phone:0033 6 12 34 56 78]]",
    "Delivery went to [[address:221B Baker Street, London NW1 6XE]] instead of my flat",
    "I live at [[address:1600 Pennsylvania Avenue NW]], the driver could not find it",
    "Ship to [[address:742 Evergreen Terrace, Springfield, IL 62704]] please",
    "Lieferadresse war [[address:Hauptstraße 5, 10115 Berlin]], kam nie an",
    "le colis est parti au [[address:12 rue de la Paix, 75002 Paris]]",
    "enviado a [[address:Calle Mayor 10, 28013 Madrid]] por error",
    "consegnato in [[address:Via Roma 1, 00184 Roma]] ma abito altrove",
    "bezorgd op [[address:Kerkstraat 12, 1017 GC Amsterdam]] terwijl ik ergens anders woon",
    "send it to [[address:P.O. Box 4471]] not my home",
    "my card [[card:4111 1111 1111 1111]] was charged twice",
    "Amex [[card:3782 822463 10005]] got declined for no reason",
    "charged [[card:5555555555554444]] without asking",
    "refund to IBAN [[iban:DE89 3704 0044 0532 0130 00]] please",
    "my account [[iban:GB29NWBK60161331926819]] never got the money",
    "virement sur [[iban:FR14 2004 1010 0505 0001 3M02 606]] jamais reçu",
    "email me: [[email:maria.garcia+orders@gmail.com]] / alt [[email:m.garcia@uni-heidelberg.de]]",
    "contact [[email:john dot smith at gmail dot com]] is how I write it to avoid spam",
    "[[email:support@company.co.uk]] never answers",
    "[[handle:@AmericanAir]] lost my bag again, thanks [[handle:@jane_doe99]] for the tip",
    "[[handle:@united]] 3 hours on the tarmac, [[handle:@SouthwestAir]] never did this",
    "order 112-4455667-8899001, call me at [[phone:+1 (555) 010-4477]] about it",
]


def parse_marked(marked: str, social: bool) -> dict:
    """``[[kind:value]]`` markup → text plus character spans."""
    text, spans, cursor = "", [], 0
    for match in re.finditer(r"\[\[(\w+):(.+?)\]\]", marked):
        text += marked[cursor:match.start()]
        spans.append({"kind": match.group(1), "start": len(text), "end": len(text) + len(match.group(2))})
        text += match.group(2)
        cursor = match.end()
    return {"text": text + marked[cursor:], "social": social, "spans": spans}


def place(template: str, value: str, kind: str) -> dict:
    start = template.index("{x}")
    text = template.replace("{x}", value)
    span = {"kind": kind, "start": start, "end": start + len(value)}
    return {"text": text, "social": kind == "handle", "spans": [span]}


GB_FAKER = None


def iban_checks(iban: str) -> bool:
    """ISO 13616: the country's length (the common ones) and mod 97 == 1."""
    lengths = {"GB": 22, "DE": 22, "FR": 27, "ES": 24, "IT": 27, "NL": 18, "PL": 28, "BR": 29, "BE": 16}
    if iban[:2] in lengths and len(iban) != lengths[iban[:2]]:
        return False
    return int("".join(str(int(ch, 36)) for ch in iban[4:] + iban[:4])) % 97 == 1


def card_value(fake, rng: random.Random) -> str:
    number = fake.credit_card_number()
    style = rng.random()
    if style < 0.35 and len(number) == 16:
        return " ".join(number[i:i + 4] for i in range(0, 16, 4))
    if style < 0.5 and len(number) == 16:
        return "-".join(number[i:i + 4] for i in range(0, 16, 4))
    return number


def iban_value(fake, rng: random.Random) -> str:
    iban = fake.iban()
    if not iban_checks(iban):  # en_IN emits GB IBANs one character short: use a well-formed one instead
        iban = GB_FAKER.iban()
    return " ".join(iban[i:i + 4] for i in range(0, len(iban), 4)) if rng.random() < 0.5 else iban


def main(out: Path, per_kind_per_locale: int = 8, seed: int = 7) -> None:
    from faker import Faker

    global GB_FAKER
    rng = random.Random(seed)
    review_rng = random.Random(seed + 1)  # its own draws, so the rows made before it existed stay as they were
    GB_FAKER = Faker("en_GB")
    GB_FAKER.seed_instance(seed)
    rows = []
    for locale in LOCALES:
        fake = Faker(locale)
        fake.seed_instance(seed)
        makers = {
            "email": fake.email, "phone": fake.phone_number, "card": lambda f=fake: card_value(f, rng),
            "iban": lambda f=fake: iban_value(f, rng),
            "address": lambda f=fake: (f.street_address() if rng.random() < 0.6 else f.address()).replace("\n", ", "),
            "handle": lambda f=fake: "@" + re.sub(r"\W", "_", f.user_name())[:15],  # X allows [A-Za-z0-9_]{1,15}
        }
        for kind, make in makers.items():
            for _ in range(per_kind_per_locale):
                value = make().strip()
                rows.append({**place(rng.choice(TEMPLATES[kind]), value, kind), "locale": locale})
        for _ in range(per_kind_per_locale // 2):
            row = place(review_rng.choice(REVIEW_HANDLES), makers["handle"]().strip(), "handle")
            rows.append({**row, "social": False, "locale": locale})
    for marked in HANDWRITTEN:
        rows.append({**parse_marked(marked, social="handle:" in marked), "locale": "handwritten"})
    for text in NEGATIVES:
        rows.append({"text": text, "social": False, "spans": [], "locale": "en_US"})
        rows.append({"text": text, "social": True, "spans": [], "locale": "en_US"})
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"{len(rows)} examples written to {out}")


if __name__ == "__main__":
    main(Path(__file__).with_name("pii_corpus.jsonl"))
