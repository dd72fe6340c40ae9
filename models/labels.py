"""The label sets every model, data reader, evaluation and warehouse table shares, and the outlier sentinel."""

from __future__ import annotations

SENTIMENT_LABELS = ("negative", "neutral", "positive")
NEED_LABELS = ("explicit", "implicit", "none")
IMPLICIT_ASPECT_LABELS = ("explicit", "implicit")  # is the aspect named in the sentence, or only implied?
TASK_LABELS = {"sentiment": SENTIMENT_LABELS, "needs": NEED_LABELS, "implicit_aspect": IMPLICIT_ASPECT_LABELS}
OUTLIER = -1  # the theme id of a mention that fits no theme
