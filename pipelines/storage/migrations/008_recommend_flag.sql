-- The customer's recommend flag (Datafiniti's reviews.doRecommend, or --map recommend=COLUMN): with star ratings,
-- the customer's own verdict, used for satisfaction where a document has no rating and for each theme's
-- recommend impact.

ALTER TABLE documents ADD COLUMN recommend BOOLEAN;

ALTER TABLE need_rankings ADD COLUMN recommend_documents INTEGER;
ALTER TABLE need_rankings ADD COLUMN recommend_share DOUBLE;
ALTER TABLE need_rankings ADD COLUMN recommend_share_without DOUBLE;
ALTER TABLE need_rankings ADD COLUMN recommend_impact DOUBLE;
ALTER TABLE need_rankings ADD COLUMN recommend_impact_ci_low DOUBLE;
ALTER TABLE need_rankings ADD COLUMN recommend_impact_ci_high DOUBLE;

CREATE OR REPLACE VIEW v_feedback AS
WITH need_counts AS (
    SELECT s.feedback_id,
           count(*) FILTER (WHERE s.need_kind = 'explicit') AS explicit_needs,
           count(*) FILTER (WHERE s.need_kind = 'implicit') AS implicit_needs
    FROM sentences s
    JOIN v_current_analysis a USING (feedback_id, analysis_version)
    GROUP BY s.feedback_id
)
SELECT d.feedback_id, d.source_kind, d.source_name, d.source_id, d.created_at, d.rating, d.text,
       a.sentiment, a.sentiment_score,
       coalesce(n.explicit_needs, 0)::INTEGER AS explicit_needs,
       coalesce(n.implicit_needs, 0)::INTEGER AS implicit_needs,
       d.recommend
FROM documents d
LEFT JOIN v_current_analysis a USING (feedback_id)
LEFT JOIN need_counts n USING (feedback_id);

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

-- Comments of the columns kept are given back by the migration runner; these are new or changed.
COMMENT ON COLUMN v_feedback.recommend IS 'Whether the customer recommends the product, when the source says (NULL: not said)';
COMMENT ON COLUMN v_unmet_needs.satisfaction IS 'Satisfaction 0-10: share of satisfied votes; a rated document is one vote, satisfied with 4-5 of 5 stars; else a document with a recommend flag votes it; an unrated one votes per mention, satisfied unless negative';
COMMENT ON COLUMN v_unmet_needs.satisfaction_basis IS 'ratings | sentiment | ratings and sentiment: what satisfaction was measured from (a recommend flag counts as a rating)';
COMMENT ON COLUMN v_unmet_needs.recommend_documents IS 'Documents raising the theme that say whether they recommend';
COMMENT ON COLUMN v_unmet_needs.recommend_share IS 'Share of those that recommend';
COMMENT ON COLUMN v_unmet_needs.recommend_share_without IS 'Share recommending among the flagged documents not raising the theme';
COMMENT ON COLUMN v_unmet_needs.recommend_impact IS 'recommend_share - recommend_share_without (NULL without recommend flags)';
COMMENT ON COLUMN v_unmet_needs.recommend_impact_ci_low IS '95 % interval of recommend_impact, lower bound (normal approximation)';
COMMENT ON COLUMN v_unmet_needs.recommend_impact_ci_high IS '95 % interval of recommend_impact, upper bound';
COMMENT ON VIEW v_theme_trends IS 'Each theme''s share of all need mentions per period (day, week or month, chosen from the data''s span); no rows when the data has no dates (trends are not computed: map a date column with --map created_at=COLUMN)';
