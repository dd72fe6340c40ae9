"""Which words may name a theme, and which sentences are bare verdicts.

A product team acts on "sizing — runs small", not on "going", "little" or "disappointed". Three word classes
are kept out of labels:

- ``STOP_WORDS``: function words and the placeholders left by cleaning ("user", "http").
- ``FILLER_WORDS``: content-free verbs, nouns and hedges that reviews use everywhere ("going", "bit", "look",
  "thing", "return", "product").
- ``VERDICT_WORDS``: opinion without a subject: every positive word of the VADER lexicon ("great", "love",
  "nice", "easy") and the negative words that judge rather than describe ("disappointed", "terrible",
  "waste"). Negative words that describe what went wrong ("broken", "crash", "delayed", "lost", "rude") are
  *not* verdicts: they are the problem half of a label.

A sentence made only of these words ("Disappointed.", "Not again!", "Love it") is a **bare verdict**: it says
how the customer feels, not about what, so it never forms a theme of its own.
"""

from __future__ import annotations

import re
from functools import cache

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS


def word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")

STOP_WORDS = frozenset(ENGLISH_STOP_WORDS | {
    "user", "http", "https", "url", "email", "phone_number", "amp", "rt", "dm", "im", "dont", "ive", "id", "its",
    "did", "does", "doesn", "don", "didn", "isn", "wasn", "won", "ll", "ve", "re", "lol", "pls", "plz", "thx",
    "i'm", "i've", "i'd", "it's", "don't", "doesn't", "didn't", "isn't", "wasn't", "won't", "can't", "couldn't",
    "wouldn't", "shouldn't", "aren't", "haven't", "hasn't", "hadn't", "that's", "there's", "you're", "they're",
    "we're", "let's", "what's", "he's", "she's", "i'll", "you'll", "we'll", "they'll", "cant", "wont", "thats"})

FILLER_WORDS = word_set("""
going gonna goes go went gone come came comes coming get gets got getting gotten make makes made making take
takes took taken give gives gave given put puts say says said tell told ask asked try tried tries trying know
knew known think thought feel felt seem seems seemed look looks looked looking see saw seen use used uses using
want wants wanted need needs needed wish wished wishes hope hoped let lets keep kept little bit bits lot lots
thing things stuff way ways kind sort sure maybe probably definitely actually really literally pretty quite just
also even still ever yet far overall basically honestly totally absolutely item items product products purchase
purchased purchasing buy bought buying order ordered ordering return returned returning returns review reviews
star stars recommend recommended recommending time times hour hours hr hrs minute minutes min mins day days week
weeks month months year years today yesterday tomorrow tonight morning ago people person guy guys someone anyone
everyone everything anything nothing something one ones two three first second last new old big able unable work
works worked working follow followed following asap hi hey hello right yes yeah sir maam folks anyway instead
else etc
""")

JUDGING_NEGATIVES = word_set("""
bad worse worst terrible horrible awful poor poorly disappointed disappointing disappointment frustrated
frustrating frustration annoyed annoying upset angry mad unhappy dissatisfied sad sucks suck sucked crap crappy
garbage junk useless pathetic ridiculous unacceptable disgusting disgusted shame shameful hate hated hates
dislike waste wasted regret regretted meh mediocre lame stupid dumb fail failed fails epic
""")

# Problem words VADER has no valence for.
PROBLEM_EXTRAS = word_set("""
slow slower late delay delays cancelled canceled missing stuck small smaller tiny large big heavy loud quiet noisy
expensive overpriced cheap flimsy short long longer dim dark hot cold leak leaks leaking drains drain dies died
crashes crashed freezes froze freezing lag lags laggy glitch glitches bug bugs buggy error errors hold wait waiting
refund charged overcharged disconnects drops dropped lost damaged scratched cracked won't doesn't can't couldn't
""")

NEGATIONS = frozenset({"not", "no", "never", "nothing", "none", "cannot", "can't", "won't", "don't", "doesn't",
                       "didn't", "isn't", "wasn't", "couldn't", "wouldn't", "too", "very", "more", "less", "hard",
                       "unable"})


@cache
def verdict_words() -> frozenset[str]:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    positive = {word for word, valence in SentimentIntensityAnalyzer().lexicon.items() if valence > 0}
    return frozenset(positive | JUDGING_NEGATIVES | {"worth", "money"})


@cache
def non_content_words() -> list[str]:
    """Every word that says nothing about what a need is about (stop words, filler, verdicts), sorted, in the
    plain-letter form that a ``[^\\W\\d_]{2,}`` tokenizer sees ("doesn't" → "doesn")."""
    plain = re.compile(r"[^\W\d_]{2,}")
    return sorted({w for w in STOP_WORDS | FILLER_WORDS | verdict_words() if plain.fullmatch(w)}
                  | {piece for w in STOP_WORDS for piece in plain.findall(w)})


@cache
def problem_words() -> frozenset[str]:
    """Negative words that describe what went wrong ("broken", "delayed", "lost", "slow"), not how it felt."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    negative = {word for word, valence in SentimentIntensityAnalyzer().lexicon.items() if valence < 0}
    return frozenset((negative - JUDGING_NEGATIVES) | PROBLEM_EXTRAS)


def words(text: str) -> list[str]:
    """Lower-cased words (apostrophes kept: "doesn't" is one word)."""
    return WORD.findall(text.lower().replace("’", "'"))


def is_content(word: str, excluded: frozenset[str] = frozenset()) -> bool:
    """A word that can say what a need is about or what is wrong."""
    return (len(word) > 1 and word not in STOP_WORDS and word not in FILLER_WORDS and word not in verdict_words()
            and word not in excluded)


def is_bare_verdict(text: str) -> bool:
    """True when the sentence has no content word: a feeling about nothing named ("Disappointed.", "Not again")."""
    return not any(is_content(word) for word in words(text))
