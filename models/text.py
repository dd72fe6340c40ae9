"""Text cleaning: repair what exports break, normalize what social platforms add, keep emoji. It lives with the
models because training data is cleaned exactly as ingest cleans what it stores."""

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
_LINE_BREAK = re.compile(r"([^\S\n]*\n\s*)")  # a break and the space around it, blank lines included
_ENDS_SENTENCE = re.compile(r"[.!?…:;][\"'’”»)\]]*$")
_CARRIES_ON = re.compile(r"[,(&/+–—-]$")
_LIST_ITEM = re.compile(r"([-*•·▪‣◦–—>]|\d{1,3}[.)]|[A-Za-z][.)])\s")
# words a sentence does not end on: a line that ends on one is cut mid-sentence whatever the next line starts with
_OPEN_WORDS = frozenset({
    "a", "an", "the", "and", "or", "but", "nor", "so", "to", "of", "at", "in", "on", "for", "with", "from", "by",
    "into", "onto", "about", "than", "as", "is", "are", "was", "were", "be", "been", "my", "your", "his", "her",
    "its", "our", "their", "this", "that", "these", "those", "which", "who", "whose", "when", "while", "if",
    "because", "very", "not", "no", "will", "would", "can", "could", "should", "must",
})
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


def _continues(line: str, next_line: str) -> bool:
    """Whether a single line break between these lines falls inside a sentence (wrapped text, not a new one).

    On airline tweets and Maalej app reviews a break after no terminal punctuation was followed by a lower-case
    word 592 times (a wrapped sentence) and by a capital 90 times (nearly all a new sentence: "Can't vote reviews
    helpful / Can't read your own contributions"); so a capital starts a new sentence unless the line ends on a
    word or sign that cannot end one ("Open more kiosks at / Austin-Bergstrom")."""
    if _ENDS_SENTENCE.search(line) or _LIST_ITEM.match(next_line):
        return False
    if next_line[0].islower() or _CARRIES_ON.search(line):
        return True
    last_word = line.rsplit(None, 1)[-1].lower()
    return last_word in _OPEN_WORDS and next_line[0].isalnum()


def join_wrapped_lines(text: str) -> str:
    """Joins the lines of a sentence that a line break cut in two; paragraphs (a blank line) and list items keep
    their break, since the segmenter ends a sentence at every line break."""
    parts = _LINE_BREAK.split(text)
    out = [parts[0]]
    for index in range(1, len(parts) - 1, 2):
        gap, line = parts[index], parts[index + 1]
        previous = out[-1]
        joined = gap.count("\n") == 1 and previous.strip() and line and _continues(previous.rstrip(), line)
        out.append(" " if joined else gap)
        out.append(line)
    return "".join(out)


def clean_text(text: str, social: bool = False) -> str:
    if not _PLAIN.fullmatch(text):  # ftfy costs more than the rest of ingest's cleaning; plain text skips it
        text = ftfy.fix_text(text, unescape_html=False, normalization="NFC")
    text = strip_html(text)
    text = _CONTROL.sub(" ", text)
    if social:
        text = normalize_social(text)
    text = join_wrapped_lines(_SPACES.sub(" ", text))
    return _NEWLINES.sub("\n", text).strip()
