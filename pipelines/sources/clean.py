"""Text cleaning: repair what exports break, normalize what social platforms add, keep emoji."""

from __future__ import annotations

import html
import re

import ftfy

_TAG = re.compile(r"<\s*(br|/p|p|/div|div|li)\b[^>]*>|<[^>]{1,200}>", re.IGNORECASE)
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<![\w@])@\w{1,30}")
_HASHTAG = re.compile(r"(?<![\w#])#(\w+)")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=\d)")
_SPACES = re.compile(r"[^\S\n]+")
_NEWLINES = re.compile(r"\s*\n\s*")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_PLAIN = re.compile(r"[\t\n\x20-\x7e]*")  # printable ASCII: nothing in it that ftfy repairs
_ENTITY = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def strip_html(text: str) -> str:
    if "<" in text:
        text = _TAG.sub(lambda m: "\n" if m.group(1) else " ", text)
    if "&" in text:
        text = html.unescape(text)
        if _ENTITY.search(text):  # escaped twice by the export ("it&amp;#39;s"): one more pass
            text = html.unescape(text)
    return text


def _hashtag_words(match: re.Match) -> str:
    word = match.group(1)
    return _CAMEL.sub(" ", word) if not word.islower() and not word.isupper() else word


def normalize_social(text: str) -> str:
    """URLs become ``http``, @handles ``@user`` (the TweetEval convention); hashtags keep their words."""
    text = _URL.sub("http", text)
    text = _MENTION.sub("@user", text)
    return _HASHTAG.sub(_hashtag_words, text)


def clean_text(text: str, social: bool = False) -> str:
    if not _PLAIN.fullmatch(text):  # ftfy costs more than the rest of ingest's cleaning; plain text skips it
        text = ftfy.fix_text(text, unescape_html=False, normalization="NFC")
    text = strip_html(text)
    text = _CONTROL.sub(" ", text)
    if social:
        text = normalize_social(text)
    text = _SPACES.sub(" ", text)
    return _NEWLINES.sub("\n", text).strip()
