-- Stable theme ids across nightly runs (incremental fits), an outlier bucket, parent themes, trends,
-- rankings per segment, and the old → new id mapping that a full refit records.

ALTER TABLE theme_fits ADD COLUMN kind VARCHAR;              -- initial | incremental | refit
ALTER TABLE theme_fits ADD COLUMN previous_fit_id VARCHAR;   -- the fit this one continues or replaces
ALTER TABLE theme_fits ADD COLUMN encoder VARCHAR;           -- embedding space of the centroids
ALTER TABLE theme_fits ADD COLUMN min_similarity DOUBLE;     -- below it a mention is an outlier
ALTER TABLE theme_fits ADD COLUMN cohesion_floor DOUBLE;     -- how tight a new (emerging) theme must be
ALTER TABLE theme_fits ADD COLUMN n_outliers INTEGER;
ALTER TABLE theme_fits ADD COLUMN period VARCHAR;            -- day | week | month, for trends
ALTER TABLE theme_fits ADD COLUMN mentions_digest VARCHAR;   -- same mentions + settings: the fit is reused
ALTER TABLE theme_fits ADD COLUMN featurizer_fit_id VARCHAR; -- the full fit whose word features this one uses

ALTER TABLE themes ADD COLUMN parent_id INTEGER;
ALTER TABLE themes ADD COLUMN parent_label VARCHAR;
ALTER TABLE themes ADD COLUMN is_emerging BOOLEAN;
ALTER TABLE themes ADD COLUMN cohesion DOUBLE;

ALTER TABLE need_rankings ADD COLUMN implicit_share DOUBLE;
ALTER TABLE need_rankings ADD COLUMN share_previous DOUBLE;
ALTER TABLE need_rankings ADD COLUMN share_latest DOUBLE;
ALTER TABLE need_rankings ADD COLUMN trend_growth DOUBLE;
ALTER TABLE need_rankings ADD COLUMN trend_p_value DOUBLE;
ALTER TABLE need_rankings ADD COLUMN trend VARCHAR;

CREATE TABLE theme_centroids (            -- the fitted theme model, read back by the next incremental run
    theme_fit_id VARCHAR NOT NULL,
    theme_id     INTEGER NOT NULL,
    parent_id    INTEGER NOT NULL,
    is_emerging  BOOLEAN NOT NULL,
    centroid     FLOAT[] NOT NULL,
    PRIMARY KEY (theme_fit_id, theme_id)
);

CREATE TABLE theme_featurizers (          -- word features of a full fit (vocabulary, idf, projection)
    theme_fit_id   VARCHAR PRIMARY KEY,
    terms          VARCHAR[] NOT NULL,
    idf            FLOAT[] NOT NULL,
    components     FLOAT[] NOT NULL,       -- n_components x len(terms), row-major
    n_components   INTEGER NOT NULL,
    lexical_weight DOUBLE NOT NULL
);

CREATE TABLE theme_id_map (
    theme_fit_id     VARCHAR NOT NULL,    -- the refit
    previous_fit_id  VARCHAR NOT NULL,
    old_theme_id     INTEGER NOT NULL,
    new_theme_id     INTEGER NOT NULL,    -- -1: the old theme's mentions are now outliers
    shared_mentions  INTEGER NOT NULL,
    share_of_old     DOUBLE NOT NULL,
    PRIMARY KEY (theme_fit_id, old_theme_id, new_theme_id)
);

CREATE TABLE theme_trends (
    theme_fit_id    VARCHAR NOT NULL,
    theme_id        INTEGER NOT NULL,
    period_start    DATE NOT NULL,
    mentions        INTEGER NOT NULL,
    period_mentions INTEGER NOT NULL,
    share           DOUBLE NOT NULL,
    PRIMARY KEY (theme_fit_id, theme_id, period_start)
);

CREATE TABLE segment_rankings (
    theme_fit_id      VARCHAR NOT NULL,
    segment           VARCHAR NOT NULL,   -- source_kind | source_name | product | period
    segment_value     VARCHAR NOT NULL,
    theme_id          INTEGER NOT NULL,
    rank              INTEGER NOT NULL,
    mentions          INTEGER NOT NULL,
    documents         INTEGER NOT NULL,
    explicit_share    DOUBLE NOT NULL,
    negative_share    DOUBLE NOT NULL,
    importance        DOUBLE NOT NULL,
    satisfaction      DOUBLE NOT NULL,
    opportunity_score DOUBLE NOT NULL,
    ci_low            DOUBLE NOT NULL,
    ci_high           DOUBLE NOT NULL,
    PRIMARY KEY (theme_fit_id, segment, segment_value, theme_id)
);

CREATE OR REPLACE VIEW v_need_mentions AS
SELECT s.sentence_id AS mention_id, s.feedback_id, d.source_id, s.text AS sentence, s.need_kind,
       s.need_confidence, s.aspect, s.aspect_kind, s.sentiment, t.theme_id, t.label AS theme_label, d.created_at,
       t.parent_id AS parent_theme_id, t.parent_label AS parent_theme_label, d.source_kind, d.source_name,
       d.product, d.url
FROM sentences s
JOIN v_current_analysis a USING (feedback_id, analysis_version)
JOIN documents d USING (feedback_id)
LEFT JOIN theme_assignments ta
       ON ta.sentence_id = s.sentence_id AND ta.theme_fit_id = (SELECT theme_fit_id FROM v_latest_theme_fit)
LEFT JOIN themes t ON t.theme_fit_id = ta.theme_fit_id AND t.theme_id = ta.theme_id
WHERE s.need_kind IN ('explicit', 'implicit');

CREATE OR REPLACE VIEW v_unmet_needs AS
SELECT r.rank, r.theme_id, t.label AS theme_label, r.mentions, r.explicit_share, r.negative_share,
       r.opportunity_score, r.ci_low, r.ci_high, r.example_quotes,
       r.documents, r.importance, r.satisfaction, r.implicit_share, r.share_previous, r.share_latest,
       r.trend_growth, r.trend_p_value, r.trend, t.is_emerging, t.parent_id AS parent_theme_id,
       t.parent_label AS parent_theme_label, t.top_terms
FROM need_rankings r
JOIN themes t USING (theme_fit_id, theme_id)
WHERE r.theme_fit_id = (SELECT theme_fit_id FROM v_latest_theme_fit)
ORDER BY r.rank;

CREATE VIEW v_unmet_needs_by_segment AS
SELECT r.segment, r.segment_value, r.rank, r.theme_id, t.label AS theme_label, r.mentions, r.documents,
       r.explicit_share, r.negative_share, r.importance, r.satisfaction, r.opportunity_score, r.ci_low, r.ci_high
FROM segment_rankings r
JOIN themes t USING (theme_fit_id, theme_id)
WHERE r.theme_fit_id = (SELECT theme_fit_id FROM v_latest_theme_fit)
ORDER BY r.segment, r.segment_value, r.rank;

CREATE VIEW v_theme_trends AS
SELECT tr.theme_id, t.label AS theme_label, tr.period_start, tr.mentions, tr.period_mentions, tr.share
FROM theme_trends tr
JOIN themes t USING (theme_fit_id, theme_id)
WHERE tr.theme_fit_id = (SELECT theme_fit_id FROM v_latest_theme_fit)
ORDER BY tr.theme_id, tr.period_start;

COMMENT ON VIEW v_need_mentions IS 'One row per sentence that states (explicit) or implies (implicit) a need, with its theme (-1 = outlier).';
COMMENT ON COLUMN v_need_mentions.theme_id IS 'Theme in the latest theme fit; -1 = fits no theme (outlier bucket); ids stay the same across incremental runs';
COMMENT ON COLUMN v_need_mentions.parent_theme_id IS 'Parent theme (themes merged for the overview)';
COMMENT ON COLUMN v_need_mentions.parent_theme_label IS 'Readable parent theme label';
COMMENT ON COLUMN v_need_mentions.source_kind IS 'review | social';
COMMENT ON COLUMN v_need_mentions.source_name IS 'Name of the source';
COMMENT ON COLUMN v_need_mentions.product IS 'Product, app or entity the feedback is about, when the source says';
COMMENT ON COLUMN v_need_mentions.url IS 'Link to the original feedback, when the source gives one';

COMMENT ON VIEW v_unmet_needs IS 'Themes ranked by opportunity (importance + max(importance - satisfaction, 0), 0-20), best first; rank orders by the lower confidence bound. Outliers are not ranked.';
COMMENT ON COLUMN v_unmet_needs.documents IS 'Documents raising the theme';
COMMENT ON COLUMN v_unmet_needs.importance IS 'Importance 0-10: documents raising the theme relative to the most-raised theme';
COMMENT ON COLUMN v_unmet_needs.satisfaction IS 'Satisfaction 0-10: 10 x share of the theme''s mentions that are not negative';
COMMENT ON COLUMN v_unmet_needs.implicit_share IS 'Share of mentions that imply the need (complaint, pain, workaround)';
COMMENT ON COLUMN v_unmet_needs.share_previous IS 'Theme share of all need mentions in the period before the latest';
COMMENT ON COLUMN v_unmet_needs.share_latest IS 'Theme share of all need mentions in the latest period';
COMMENT ON COLUMN v_unmet_needs.trend_growth IS 'share_latest - share_previous';
COMMENT ON COLUMN v_unmet_needs.trend_p_value IS 'Two-proportion z-test p-value of the change, Benjamini-Hochberg adjusted over themes';
COMMENT ON COLUMN v_unmet_needs.trend IS 'rising | falling (adjusted p < 0.05) | steady | unknown (fewer than two periods)';
COMMENT ON COLUMN v_unmet_needs.is_emerging IS 'True when the theme was born in an incremental run from mentions that fit no existing theme';
COMMENT ON COLUMN v_unmet_needs.parent_theme_id IS 'Parent theme id';
COMMENT ON COLUMN v_unmet_needs.parent_theme_label IS 'Parent theme label';
COMMENT ON COLUMN v_unmet_needs.top_terms IS 'Most distinctive phrases of the theme';

COMMENT ON VIEW v_unmet_needs_by_segment IS 'The ranking recomputed within each segment (source_kind, source_name, product, period) that has enough mentions.';
COMMENT ON COLUMN v_unmet_needs_by_segment.segment IS 'source_kind | source_name | product | period';
COMMENT ON COLUMN v_unmet_needs_by_segment.segment_value IS 'Value of the segment, e.g. an airline or 2015-02-23';
COMMENT ON COLUMN v_unmet_needs_by_segment.rank IS '1 = biggest unmet need within the segment';

COMMENT ON VIEW v_theme_trends IS 'Each theme''s share of all need mentions per period (day, week or month, chosen from the data''s span).';
COMMENT ON COLUMN v_theme_trends.share IS 'mentions / period_mentions';

-- Replacing a view drops its column comments: the earlier ones again.
COMMENT ON COLUMN v_need_mentions.mention_id IS 'Id of the sentence';
COMMENT ON COLUMN v_need_mentions.feedback_id IS 'Document the sentence belongs to (v_feedback.feedback_id)';
COMMENT ON COLUMN v_need_mentions.source_id IS 'Id of the document in its source';
COMMENT ON COLUMN v_need_mentions.sentence IS 'The sentence text';
COMMENT ON COLUMN v_need_mentions.need_kind IS 'explicit | implicit';
COMMENT ON COLUMN v_need_mentions.need_confidence IS 'Probability of need_kind from the need model';
COMMENT ON COLUMN v_need_mentions.aspect IS 'What the need is about (noun phrase), when found';
COMMENT ON COLUMN v_need_mentions.sentiment IS 'Sentence sentiment: negative | neutral | positive';
COMMENT ON COLUMN v_need_mentions.theme_label IS 'Readable theme label';
COMMENT ON COLUMN v_need_mentions.created_at IS 'When the document was written (UTC)';
COMMENT ON COLUMN v_unmet_needs.rank IS '1 = biggest unmet need';
COMMENT ON COLUMN v_unmet_needs.theme_id IS 'Theme id in the latest theme fit';
COMMENT ON COLUMN v_unmet_needs.theme_label IS 'Readable theme label';
COMMENT ON COLUMN v_unmet_needs.mentions IS 'Need mentions in the theme';
COMMENT ON COLUMN v_unmet_needs.explicit_share IS 'Share of mentions that state the need explicitly';
COMMENT ON COLUMN v_unmet_needs.negative_share IS 'Share of mentions with negative sentiment';
COMMENT ON COLUMN v_unmet_needs.opportunity_score IS 'Opportunity score, 0-20 (formula in README)';
COMMENT ON COLUMN v_unmet_needs.ci_low IS 'Lower bound of the 95% bootstrap interval of the score';
COMMENT ON COLUMN v_unmet_needs.ci_high IS 'Upper bound of the 95% bootstrap interval of the score';
COMMENT ON COLUMN v_unmet_needs.example_quotes IS 'JSON list of representative quotes with feedback_id, source_id and url';
COMMENT ON COLUMN v_need_mentions.aspect_kind IS 'explicit | implicit: whether the opinion names its target (implicit-aspect head)';
COMMENT ON COLUMN v_unmet_needs_by_segment.theme_id IS 'Theme id in the latest theme fit';
COMMENT ON COLUMN v_unmet_needs_by_segment.theme_label IS 'Readable theme label';
COMMENT ON COLUMN v_unmet_needs_by_segment.mentions IS 'Need mentions of the theme within the segment';
COMMENT ON COLUMN v_unmet_needs_by_segment.documents IS 'Documents of the segment raising the theme';
COMMENT ON COLUMN v_unmet_needs_by_segment.explicit_share IS 'Share of the mentions that state the need';
COMMENT ON COLUMN v_unmet_needs_by_segment.negative_share IS 'Share of the mentions with negative sentiment';
COMMENT ON COLUMN v_unmet_needs_by_segment.importance IS 'Importance 0-10 within the segment';
COMMENT ON COLUMN v_unmet_needs_by_segment.satisfaction IS 'Satisfaction 0-10 within the segment';
COMMENT ON COLUMN v_unmet_needs_by_segment.opportunity_score IS 'Opportunity score 0-20 within the segment';
COMMENT ON COLUMN v_unmet_needs_by_segment.ci_low IS 'Lower bound of the 95% bootstrap interval';
COMMENT ON COLUMN v_unmet_needs_by_segment.ci_high IS 'Upper bound of the 95% bootstrap interval';
COMMENT ON COLUMN v_theme_trends.theme_id IS 'Theme id in the latest theme fit';
COMMENT ON COLUMN v_theme_trends.theme_label IS 'Readable theme label';
COMMENT ON COLUMN v_theme_trends.period_start IS 'First day of the period';
COMMENT ON COLUMN v_theme_trends.mentions IS 'Need mentions of the theme in the period';
COMMENT ON COLUMN v_theme_trends.period_mentions IS 'All themed need mentions in the period';
