"""Regenerate the bundled sample data: feedback about "Glowbird", a fictional smart lamp and its app.

Every sentence below was written for this project. Run `python data/sample/generate.py` to rebuild the
three files (deterministic); malformed rows are added on purpose to show quarantine at work.
"""

from __future__ import annotations

import csv
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXPLICIT = {
    "sleep timer": ["Please add a sleep timer so the lamp fades out after I fall asleep.",
                    "I wish there was a sleep timer, I always forget to switch it off.",
                    "A fade-out timer for bedtime would make this perfect."],
    "dark mode": ["Please add dark mode to the app, it is blinding at night.",
                  "Would love a dark theme in the Glowbird app.",
                  "Dark mode please! Opening the app at 2am hurts my eyes."],
    "home assistant integration": ["Please support Home Assistant, I do not want another cloud account.",
                                   "I wish it worked with Home Assistant or HomeKit.",
                                   "Add Matter support so it works with the rest of my smart home."],
    "scene sharing": ["It would be great to share my light scenes with my partner's phone.",
                      "Let me export scenes, I had to rebuild all of them on my tablet."],
    "sunrise alarm": ["Can you add a sunrise alarm that slowly brightens in the morning?",
                      "A wake-up light mode would be a killer feature."],
}
IMPLICIT = {
    "wifi connection": ["The lamp drops off the wifi every night and I have to unplug it.",
                        "It keeps disconnecting from my router, I reset it three times this week.",
                        "Half the time the app says the lamp is offline even though it is right next to the router.",
                        "After the firmware update it will not reconnect to wifi at all."],
    "app crashes": ["The app crashes every time I open the schedule screen.",
                    "App freezes on the loading spinner and then closes itself.",
                    "Since the last update the app crashes on my Pixel as soon as I tap a scene."],
    "battery life": ["The portable version's battery died halfway through a camping evening.",
                     "Battery barely lasts two hours on medium brightness.",
                     "I have to charge it every single day, the battery is a joke."],
    "customer support wait": ["Support took eleven days to answer a simple warranty question.",
                              "I have been on hold with customer service for forty minutes.",
                              "Nobody replies to support tickets, I opened one a month ago."],
    "setup pairing": ["Pairing took me an hour, the QR code would not scan.",
                      "Setup failed four times before it finally found the lamp.",
                      "The setup guide skips the step where you hold the button, I was stuck."],
    "colour accuracy": ["The warm white looks greenish compared to my other bulbs.",
                        "Colours are washed out, red looks pink."],
    "buzzing noise": ["It makes a high pitched buzzing noise when dimmed below 30 percent.",
                      "There is an annoying hum at low brightness, I can hear it from bed."],
}
PRAISE = ["Love the warm glow in the evening.", "Great lamp, looks beautiful on my desk.",
          "Five stars, the colours are gorgeous.", "Really happy with it so far.",
          "Best purchase this year, my kids love the rainbow mode.", "The app is simple and clean.",
          "Build quality is excellent and it feels solid.", "Works great with my voice assistant."]
NOISE = ["Bought it for my sister.", "Arrived on Tuesday.", "It is a lamp.", "Second one I own.",
         "Ordered the white version.", "ok", "See title."]
FOREIGN = ["La lámpara se desconecta del wifi cada noche, muy molesto.",
           "Die App stürzt ständig ab, bitte reparieren.",
           "J'adore la couleur mais la batterie ne dure pas longtemps.",
           "Por favor añadan un temporizador para dormir."]
TITLES = {"implicit": ["Frustrating", "Almost good", "Needs work", "Disappointed", "Not again"],
          "explicit": ["Feature request", "So close", "One thing missing", "Suggestion"],
          "praise": ["Love it", "Great lamp", "Beautiful", "Happy customer"]}


def compose(rng: random.Random) -> tuple[str, str, int]:
    """(title, body, rating) for one review built from a mix of needs, praise and noise."""
    roll = rng.random()
    sentences, kind = [], "praise"
    if roll < 0.45:
        theme = rng.choice(list(IMPLICIT))
        sentences.append(rng.choice(IMPLICIT[theme]))
        kind, rating = "implicit", rng.choice([1, 1, 2, 2, 3])
    elif roll < 0.75:
        theme = rng.choice(list(EXPLICIT))
        sentences.append(rng.choice(EXPLICIT[theme]))
        kind, rating = "explicit", rng.choice([3, 4, 4, 5])
    else:
        rating = rng.choice([4, 5, 5])
    if rng.random() < 0.6:
        sentences.insert(0, rng.choice(PRAISE)) if kind != "implicit" else sentences.append(rng.choice(NOISE))
    if rng.random() < 0.3:
        sentences.append(rng.choice(PRAISE if kind == "praise" else NOISE))
    return rng.choice(TITLES[kind]), " ".join(sentences), rating


def main() -> None:
    rng = random.Random(7)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    with open(HERE / "app_store_reviews.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["review_id", "app_id", "title", "body", "rating", "date", "version"])
        for i in range(200):
            title, body, rating = compose(rng)
            when = start + timedelta(hours=rng.randint(0, 24 * 240))
            writer.writerow([f"gb-{i:04d}", "com.glowbird.app", title, body, rating,
                             when.strftime("%Y-%m-%d %H:%M:%S"), rng.choice(["2.3.0", "2.4.1", "2.5.0"])])
        for i, text in enumerate(FOREIGN):
            writer.writerow([f"gb-f{i}", "com.glowbird.app", "", text, rng.choice([2, 3]), "2026-05-02 10:00:00",
                             "2.5.0"])
        writer.writerow(["gb-bad1", "com.glowbird.app", "", "   ", 3, "2026-05-03 10:00:00", "2.5.0"])
        writer.writerow(["gb-bad2", "com.glowbird.app", "Hmm", "Lamp is fine I guess.", 4, "last tuesday-ish",
                         "2.5.0"])
        writer.writerow(["gb-bad3", "com.glowbird.app", "Rating?", "Works.", "five stars", "2026-05-04", "2.5.0"])
        writer.writerow(["gb-html", "com.glowbird.app", "Markup", "<p>The app crashes &amp; <b>freezes</b>"
                         "</p><br>Please fix.", 2, "2026-05-05T08:00:00Z", "2.5.0"])
        writer.writerow(["gb-moji", "com.glowbird.app", "Mojibake", "The lamp doesnâ€™t remember my scenes.", 2,
                         "2026-05-06T08:00:00Z", "2.5.0"])

    tweets, users = [], []
    for i in range(120):
        _, body, _ = compose(rng)
        handle = f"glowfan{rng.randint(1, 60)}"
        extras = rng.choice(["", " #Glowbird", " @GlowbirdHelp", " https://glowbird.example/help 😡", " 😍",
                             " #SmartHome #FixItPlease"])
        when = start + timedelta(hours=rng.randint(0, 24 * 240))
        tweets.append({"id": str(1900000000000000000 + i), "text": body + extras, "author_id": str(1000 + i % 60),
                       "created_at": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "lang": "en",
                       "public_metrics": {"retweet_count": rng.randint(0, 5), "like_count": rng.randint(0, 40)}})
        users.append({"id": str(1000 + i % 60), "username": handle})
    tweets.append({"id": "1900000000000009998", "author_id": "1000", "created_at": "2026-06-01T00:00:00.000Z",
                   "public_metrics": {}})  # no text: quarantined
    tweets.append({"id": "1900000000000009999", "text": "🔥🔥🔥", "author_id": "1001",
                   "created_at": "2026-06-01T00:00:00.000Z", "public_metrics": {}})
    unique_users = list({u["id"]: u for u in users}.values())
    (HERE / "social_posts.json").write_text(json.dumps({"data": tweets, "includes": {"users": unique_users},
                                                        "meta": {"result_count": len(tweets)}}, indent=1,
                                                       ensure_ascii=False) + "\n", encoding="utf-8")

    with open(HERE / "marketplace_reviews.jsonl", "w", encoding="utf-8") as fh:
        for _ in range(60):
            title, body, rating = compose(rng)
            when = start + timedelta(hours=rng.randint(0, 24 * 240))
            fh.write(json.dumps({"reviewerID": f"R{rng.randint(10000, 99999)}", "asin": "B0GLOWBIRD",
                                 "reviewText": body, "summary": title, "overall": float(rating),
                                 "unixReviewTime": int(when.timestamp())}) + "\n")
        fh.write('{"reviewerID": "RBROKEN", "asin": "B0GLOWBIRD", "reviewText": "cut off\n')
        fh.write(json.dumps({"reviewerID": "RTYPE", "asin": "B0GLOWBIRD", "reviewText": ["not", "a", "string"],
                             "overall": 3.0}) + "\n")


if __name__ == "__main__":
    main()
