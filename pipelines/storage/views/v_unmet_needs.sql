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
ORDER BY r.rank
