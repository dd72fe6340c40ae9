"""Map the shapes people export (Amazon, Datafiniti, app stores, X/Twitter, Reddit, plain tables)
onto the fields of one feedback record.

An adapter only *picks* values; typing, cleaning and validation happen in ``normalize``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from pipelines.sources.types import SourceError

FIELDS = ("source_id", "title", "body", "created_at", "rating", "recommend", "helpful_votes", "author", "product",
          "url", "language")

ALIASES: dict[str, tuple[str, ...]] = {
    "source_id": ("id", "review_id", "reviewid", "tweet_id", "post_id", "comment_id", "feedback_id",
                  "review_key", "uuid", "_id"),
    "body": ("text", "review", "review_text", "reviewtext", "body", "comment", "content", "message",
             "feedback", "full_text", "selftext", "description", "review_body"),
    "title": ("title", "summary", "subject", "headline", "review_title"),
    "created_at": ("created_at", "date", "created", "timestamp", "time", "datetime", "review_date",
                   "posted_at", "tweet_created", "created_utc", "unixreviewtime", "at", "updated_at"),
    "rating": ("rating", "stars", "star_rating", "overall", "review_rating", "score"),
    "recommend": ("recommend", "recommended", "recommends", "would_recommend", "do_recommend", "dorecommend",
                  "recommend_flag", "recommend_ind"),
    "helpful_votes": ("helpful_votes", "helpful", "helpful_count", "helpfulness", "positive_feedback_count",
                      "thumbs_up", "thumbsupcount", "upvotes", "useful"),
    "author": ("author", "author_id", "user", "username", "user_name", "user_id", "reviewer",
               "reviewer_id", "reviewerid", "author_username", "screen_name"),
    "product": ("product", "product_id", "product_name", "asin", "app", "app_id", "appid", "app_name",
                "entity", "brand", "airline", "subreddit"),
    "url": ("url", "link", "permalink", "review_url"),
    "language": ("lang", "language"),
}


MAPPABLE = ("text", *FIELDS)  # what --map FIELD=COLUMN may name ("text" is the body)


def check_mapped_fields(column_map: dict[str, str]) -> None:
    """A mapping that names a field unmet does not know is a clear error, before any file is read."""
    unknown = [f"{field}={column}" for field, column in column_map.items() if field not in MAPPABLE]
    if unknown:
        raise SourceError(f"--map {unknown[0]}: unknown field {unknown[0].split('=')[0]!r}; fields that can be "
                          f"mapped: {', '.join(MAPPABLE)}")


def missing_columns(column_map: dict[str, str], columns) -> list[str]:
    """The FIELD=COLUMN pairs of ``column_map`` whose column is not among ``columns`` (names compared as the
    adapters compare them: case, spaces, dots and dashes aside)."""
    present = {normalize_key(c) for c in columns}
    return [f"{field}={column}" for field, column in column_map.items()
            if column not in columns and normalize_key(column) not in present]


@functools.lru_cache(maxsize=4096)  # called for every key of every row; exports have few distinct keys
def normalize_key(key: str) -> str:
    return re.sub(r"[\s.\-]+", "_", str(key).strip().lstrip("\ufeff")).lower()


@dataclass(frozen=True)
class Adapter:
    """A named shape: which keys identify it and which source column feeds each field."""

    name: str
    source_kind: str
    identify: Callable[[set[str]], bool]
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    derive: Callable[[dict, dict], None] | None = None

    def extract(self, row: dict, column_map: dict[str, str] | None = None) -> dict:
        """Pick the record fields from ``row``; ``column_map`` (field -> column) wins over defaults."""
        by_key = {normalize_key(k): v for k, v in row.items()}
        picked: dict = {}
        for name in FIELDS:
            if column_map and name in column_map:
                picked[name] = row.get(column_map[name], by_key.get(normalize_key(column_map[name])))
                continue
            for alias in self.columns.get(name, ALIASES.get(name, ())):
                value = by_key.get(normalize_key(alias))
                if value not in (None, ""):
                    picked[name] = value
                    break
        if column_map and "text" in column_map:
            picked["body"] = row.get(column_map["text"], by_key.get(normalize_key(column_map["text"])))
        if self.derive:
            self.derive(row, picked)
        return picked


def _has(*names: str) -> Callable[[set[str]], bool]:
    wanted = {normalize_key(n) for n in names}
    return lambda keys: wanted <= keys


def _amazon_derive(row: dict, picked: dict) -> None:
    if row.get("unixReviewTime") not in (None, ""):
        picked["created_at"] = row["unixReviewTime"]
    if picked.get("source_id") is None and row.get("reviewerID") and row.get("asin"):
        picked["source_id"] = f"{row['asin']}/{row['reviewerID']}"


def _twitter_derive(row: dict, picked: dict) -> None:
    if row.get("id") not in (None, "") and not picked.get("url"):
        picked["url"] = f"https://x.com/i/web/status/{row['id']}"


def _reddit_derive(row: dict, picked: dict) -> None:
    if row.get("reddit_kind") == "comment" or ("body" in row and "selftext" not in row):
        picked["title"] = None
        picked["body"] = row.get("body")
    else:
        picked["title"] = row.get("title")
        picked["body"] = row.get("selftext")
    if isinstance(picked.get("url"), str) and picked["url"].startswith("/r/"):
        picked["url"] = "https://www.reddit.com" + picked["url"]


def _app_store_identify(keys: set[str]) -> bool:
    has_body = bool(keys & {"body", "comment", "review", "content", "text"})
    has_app = bool(keys & {"app", "app_id", "appid", "app_name", "app_version", "version"})
    has_rating = bool(keys & {"rating", "score", "stars"})
    return has_body and has_rating and (has_app or "title" in keys)


ADAPTERS: tuple[Adapter, ...] = (
    Adapter("amazon", "review", _has("reviewText"),
            {"body": ("reviewText",), "title": ("summary",), "rating": ("overall",), "product": ("asin",),
             "author": ("reviewerID",), "source_id": ("review_id", "id"), "created_at": ("reviewTime",)},
            _amazon_derive),
    Adapter("datafiniti", "review", _has("reviews.text"),
            {"body": ("reviews.text",), "title": ("reviews.title",), "rating": ("reviews.rating",),
             "recommend": ("reviews.doRecommend",), "helpful_votes": ("reviews.numHelpful",),
             "created_at": ("reviews.date", "reviews.dateAdded", "dateAdded"),
             "author": ("reviews.username",), "product": ("name", "asins", "brand"),
             "url": ("reviews.sourceURLs", "sourceURLs"), "source_id": ("reviews.id", "id")}),
    Adapter("twitter_v2", "social",
            lambda k: {"text", "created_at", "id"} <= k and bool(k & {"public_metrics", "author_id",
                                                                       "edit_history_tweet_ids"}),
            {"body": ("text",), "title": (), "rating": (), "source_id": ("id",),
             "author": ("author_username", "author_id")},
            _twitter_derive),
    Adapter("tweet_csv", "social", _has("tweet_id", "text"),
            {"body": ("text",), "title": (), "rating": (), "source_id": ("tweet_id",),
             "created_at": ("tweet_created", "created_at", "date"), "author": ("name", "user", "username"),
             "product": ("airline", "product", "brand")}),
    Adapter("reddit", "social",
            lambda k: bool(k & {"reddit_kind", "subreddit"}) or ("created_utc" in k and bool(k & {"selftext", "body"})),
            {"rating": (), "source_id": ("name", "id"), "created_at": ("created_utc",),
             "product": ("subreddit",), "url": ("permalink", "url")},
            _reddit_derive),
    Adapter("app_store", "review", _app_store_identify,
            {"body": ("body", "comment", "review", "content", "text"),
             "product": ("app_id", "appid", "app", "app_name", "product")}),
    Adapter("generic", "review", lambda keys: bool(keys & {normalize_key(a) for a in ALIASES["body"]})),
)
ADAPTERS_BY_NAME = {a.name: a for a in ADAPTERS}


def detect_adapter(keys: Iterable[str], column_map: dict[str, str] | None = None) -> Adapter | None:
    """The first adapter whose identifying keys are present; ``generic`` when a text column is mapped."""
    normalized = {normalize_key(k) for k in keys}
    for adapter in ADAPTERS:
        if adapter.identify(normalized):
            return adapter
    if column_map and ("text" in column_map or "body" in column_map):
        return ADAPTERS_BY_NAME["generic"]
    return None


def records_from_document(document) -> list | None:
    """The records of a whole JSON document: a list of them, or a feed envelope (a Reddit listing, with comment
    trees flattened; an X API v2 response, with authors joined; an object with one list); None if it has none."""
    if isinstance(document, list):
        if document and all(_is_reddit_listing(item) for item in document):
            return [rec for item in document for rec in _flatten_reddit(item)]
        return document
    if not isinstance(document, dict):
        return None
    if _is_reddit_listing(document):
        return list(_flatten_reddit(document))
    if isinstance(document.get("data"), list):  # X/Twitter API v2 response
        users = {u.get("id"): u for u in document.get("includes", {}).get("users", []) if isinstance(u, dict)}
        records = []
        for tweet in document["data"]:
            if isinstance(tweet, dict) and tweet.get("author_id") in users:
                tweet = {**tweet, "author_username": users[tweet["author_id"]].get("username")}
            records.append(tweet)
        return records
    lists = [v for v in document.values() if isinstance(v, list)]
    return lists[0] if len(lists) == 1 else None


def _is_reddit_listing(value) -> bool:
    return isinstance(value, dict) and value.get("kind") == "Listing" and isinstance(value.get("data"), dict)


def _flatten_reddit(listing: dict) -> Iterator[dict]:
    """Posts and comments of a Reddit listing, comment trees included, as flat records."""
    for child in listing["data"].get("children", []):
        if not isinstance(child, dict) or child.get("kind") not in ("t1", "t3"):
            continue  # "more" stubs carry no text
        data = dict(child.get("data") or {})
        replies = data.pop("replies", None)
        data["reddit_kind"] = "comment" if child["kind"] == "t1" else "post"
        yield data
        if _is_reddit_listing(replies):
            yield from _flatten_reddit(replies)
