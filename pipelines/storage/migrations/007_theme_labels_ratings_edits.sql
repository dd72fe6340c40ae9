-- Themes a product team can act on: "aspect — problem" labels with a need statement, label coverage and top
-- requests; satisfaction from star ratings (or recommend flags) and each theme's rating and recommend impact; and
-- the team's own edits (rename, merge, hide), kept as rules that every later run and refit applies.

ALTER TABLE themes ADD COLUMN aspect VARCHAR;                    -- what the mentions are about
ALTER TABLE themes ADD COLUMN problem VARCHAR;                   -- what is wrong with it
ALTER TABLE themes ADD COLUMN need_statement VARCHAR;
ALTER TABLE themes ADD COLUMN label_coverage DOUBLE;             -- share of mentions containing the aspect word
ALTER TABLE themes ADD COLUMN top_request_sentence_ids VARCHAR[]; -- stated requests closest to the theme
ALTER TABLE themes ADD COLUMN edited_label VARCHAR;              -- the team's name for it (unmet themes rename)
ALTER TABLE themes ADD COLUMN merged_into INTEGER;               -- unmet themes merge: ranked as this theme
ALTER TABLE themes ADD COLUMN is_hidden BOOLEAN DEFAULT false;   -- unmet themes hide: not ranked

ALTER TABLE need_rankings ADD COLUMN top_requests VARCHAR;       -- JSON: [{sentence, feedback_id, source_id, ...}]
ALTER TABLE need_rankings ADD COLUMN satisfaction_basis VARCHAR; -- ratings | sentiment | ratings and sentiment
ALTER TABLE need_rankings ADD COLUMN rated_documents INTEGER;
ALTER TABLE need_rankings ADD COLUMN mean_rating DOUBLE;
ALTER TABLE need_rankings ADD COLUMN mean_rating_without DOUBLE;
ALTER TABLE need_rankings ADD COLUMN rating_impact DOUBLE;
ALTER TABLE need_rankings ADD COLUMN rating_impact_ci_low DOUBLE;
ALTER TABLE need_rankings ADD COLUMN rating_impact_ci_high DOUBLE;
ALTER TABLE need_rankings ADD COLUMN recommend_documents INTEGER;
ALTER TABLE need_rankings ADD COLUMN recommend_share DOUBLE;
ALTER TABLE need_rankings ADD COLUMN recommend_share_without DOUBLE;
ALTER TABLE need_rankings ADD COLUMN recommend_impact DOUBLE;
ALTER TABLE need_rankings ADD COLUMN recommend_impact_ci_low DOUBLE;
ALTER TABLE need_rankings ADD COLUMN recommend_impact_ci_high DOUBLE;

CREATE SEQUENCE theme_edit_ids START 1;
CREATE TABLE theme_edits (
    edit_id     INTEGER PRIMARY KEY DEFAULT nextval('theme_edit_ids'),
    action      VARCHAR NOT NULL CHECK (action IN ('rename', 'merge', 'hide')),
    theme_id    INTEGER NOT NULL,     -- carried to the new id when a refit renumbers the theme
    into_id     INTEGER,              -- merge: the theme it joins
    label       VARCHAR,              -- rename: the new label
    created_at  TIMESTAMPTZ NOT NULL,
    undone_at   TIMESTAMPTZ           -- unmet themes undo
);

CREATE OR REPLACE VIEW v_unmet_needs AS
SELECT r.rank, r.theme_id, coalesce(t.edited_label, t.label) AS theme_label, r.mentions, r.explicit_share,
       r.negative_share, r.opportunity_score, r.ci_low, r.ci_high, r.example_quotes,
       r.documents, r.importance, r.satisfaction, r.implicit_share, r.share_previous, r.share_latest,
       r.trend_growth, r.trend_p_value, r.trend, t.is_emerging, t.parent_id AS parent_theme_id,
       t.parent_label AS parent_theme_label, t.top_terms, t.need_statement, t.aspect, t.problem, t.label_coverage,
       r.top_requests, r.satisfaction_basis, r.rated_documents, r.mean_rating, r.mean_rating_without,
       r.rating_impact, r.rating_impact_ci_low, r.rating_impact_ci_high, t.label AS model_label,
       t.edited_label IS NOT NULL AS is_renamed, r.recommend_documents, r.recommend_share,
       r.recommend_share_without, r.recommend_impact, r.recommend_impact_ci_low, r.recommend_impact_ci_high
FROM need_rankings r
JOIN themes t USING (theme_fit_id, theme_id)
WHERE r.theme_fit_id = (SELECT theme_fit_id FROM v_latest_theme_fit)
ORDER BY r.rank;

CREATE OR REPLACE VIEW v_need_mentions AS
SELECT s.sentence_id AS mention_id, s.feedback_id, d.source_id, s.text AS sentence, s.need_kind,
       s.need_confidence, s.aspect, s.aspect_kind, s.sentiment, coalesce(t.merged_into, ta.theme_id) AS theme_id,
       CASE WHEN ta.theme_id = -1 THEN 'outliers (fits no theme)'
            ELSE coalesce(shown.edited_label, shown.label) END AS theme_label, d.created_at,
       shown.parent_id AS parent_theme_id, shown.parent_label AS parent_theme_label, d.source_kind, d.source_name,
       d.product, d.url, coalesce(shown.is_hidden, false) AS theme_is_hidden
FROM sentences s
JOIN v_current_analysis a USING (feedback_id, analysis_version)
JOIN documents d USING (feedback_id)
LEFT JOIN theme_assignments ta
       ON ta.sentence_id = s.sentence_id AND ta.theme_fit_id = (SELECT theme_fit_id FROM v_latest_theme_fit)
LEFT JOIN themes t ON t.theme_fit_id = ta.theme_fit_id AND t.theme_id = ta.theme_id
LEFT JOIN themes shown ON shown.theme_fit_id = ta.theme_fit_id AND shown.theme_id = coalesce(t.merged_into, ta.theme_id)
WHERE s.need_kind IN ('explicit', 'implicit');

CREATE OR REPLACE VIEW v_unmet_needs_by_segment AS
SELECT r.segment, r.segment_value, r.rank, r.theme_id, coalesce(t.edited_label, t.label) AS theme_label, r.mentions,
       r.documents, r.explicit_share, r.negative_share, r.importance, r.satisfaction, r.opportunity_score, r.ci_low,
       r.ci_high
FROM segment_rankings r
JOIN themes t USING (theme_fit_id, theme_id)
WHERE r.theme_fit_id = (SELECT theme_fit_id FROM v_latest_theme_fit)
ORDER BY r.segment, r.segment_value, r.rank;

CREATE OR REPLACE VIEW v_theme_trends AS
SELECT tr.theme_id, coalesce(t.edited_label, t.label) AS theme_label, tr.period_start, tr.mentions,
       tr.period_mentions, tr.share
FROM theme_trends tr
JOIN themes t USING (theme_fit_id, theme_id)
WHERE tr.theme_fit_id = (SELECT theme_fit_id FROM v_latest_theme_fit)
ORDER BY tr.theme_id, tr.period_start;

CREATE VIEW v_theme_edits AS
SELECT edit_id, action, theme_id, into_id, label, created_at, undone_at IS NULL AS is_active
FROM theme_edits
ORDER BY edit_id;

-- Comments of the columns kept from 006 are given back by the migration runner; these are new or changed.
COMMENT ON COLUMN v_unmet_needs.theme_label IS 'The team''s label (unmet themes rename) or else the "aspect — problem" label taken from the mentions';

COMMENT ON COLUMN v_unmet_needs.need_statement IS 'The need in roadmap words, built from the aspect and the problem';
COMMENT ON COLUMN v_unmet_needs.aspect IS 'What the theme''s mentions are about (NULL when no aspect is shared)';
COMMENT ON COLUMN v_unmet_needs.problem IS 'What is wrong with it: the phrase most distinctive of the theme''s negative mentions';
COMMENT ON COLUMN v_unmet_needs.label_coverage IS 'Share of the theme''s mentions whose text or aspect contains the aspect''s word (0 without an aspect)';
COMMENT ON COLUMN v_unmet_needs.top_requests IS 'JSON list of the stated (explicit) requests closest to the theme, each with sentence, feedback_id, source_id, source_name, url';

COMMENT ON COLUMN v_unmet_needs.rated_documents IS 'Documents raising the theme that carry a star rating';
COMMENT ON COLUMN v_unmet_needs.mean_rating IS 'Mean star rating of the rated documents raising the theme';
COMMENT ON COLUMN v_unmet_needs.mean_rating_without IS 'Mean star rating of the rated documents not raising it';
COMMENT ON COLUMN v_unmet_needs.rating_impact IS 'mean_rating - mean_rating_without: stars the theme costs (negative) or brings; NULL without ratings';
COMMENT ON COLUMN v_unmet_needs.rating_impact_ci_low IS '95 % interval of rating_impact, lower bound (Welch, normal)';
COMMENT ON COLUMN v_unmet_needs.rating_impact_ci_high IS '95 % interval of rating_impact, upper bound';
COMMENT ON COLUMN v_unmet_needs.model_label IS 'The label the model gave, before any rename';
COMMENT ON COLUMN v_unmet_needs.is_renamed IS 'Whether the team renamed the theme';
COMMENT ON COLUMN v_need_mentions.theme_id IS 'Theme in the latest theme fit, after the team''s merges; -1 = fits no theme (outlier bucket); NULL = analysed after the latest fit; ids stay the same across incremental runs';
COMMENT ON COLUMN v_need_mentions.theme_label IS 'The theme''s label after the team''s renames ("outliers (fits no theme)" for -1)';
COMMENT ON COLUMN v_need_mentions.theme_is_hidden IS 'The team hid the theme (unmet themes hide): it is not ranked';
COMMENT ON COLUMN v_unmet_needs_by_segment.theme_label IS 'The theme''s label after the team''s renames';
COMMENT ON COLUMN v_theme_trends.theme_label IS 'The theme''s label after the team''s renames';
COMMENT ON VIEW v_theme_edits IS 'The team''s edits of themes: renames, merges and hides, applied by every later run and refit';
COMMENT ON COLUMN v_theme_edits.edit_id IS 'Id of the edit (unmet themes undo ID)';
COMMENT ON COLUMN v_theme_edits.action IS 'rename | merge | hide';
COMMENT ON COLUMN v_theme_edits.theme_id IS 'The theme edited (carried to its new id by refits)';
COMMENT ON COLUMN v_theme_edits.into_id IS 'merge: the theme it was merged into';
COMMENT ON COLUMN v_theme_edits.label IS 'rename: the new label';
COMMENT ON COLUMN v_theme_edits.created_at IS 'When the edit was made (UTC)';
COMMENT ON COLUMN v_theme_edits.is_active IS 'False once undone';
COMMENT ON COLUMN v_unmet_needs.satisfaction IS 'Satisfaction 0-10: share of satisfied votes; a rated document is one vote, satisfied with 4-5 of 5 stars; else a document with a recommend flag votes it; an unrated one votes per mention, satisfied unless negative';
COMMENT ON COLUMN v_unmet_needs.satisfaction_basis IS 'ratings | sentiment | ratings and sentiment: what satisfaction was measured from (a recommend flag counts as a rating)';
COMMENT ON COLUMN v_unmet_needs.recommend_documents IS 'Documents raising the theme that say whether they recommend';
COMMENT ON COLUMN v_unmet_needs.recommend_share IS 'Share of those that recommend';
COMMENT ON COLUMN v_unmet_needs.recommend_share_without IS 'Share recommending among the flagged documents not raising the theme';
COMMENT ON COLUMN v_unmet_needs.recommend_impact IS 'recommend_share - recommend_share_without (NULL without recommend flags)';
COMMENT ON COLUMN v_unmet_needs.recommend_impact_ci_low IS '95 % interval of recommend_impact, lower bound (normal approximation)';
COMMENT ON COLUMN v_unmet_needs.recommend_impact_ci_high IS '95 % interval of recommend_impact, upper bound';
