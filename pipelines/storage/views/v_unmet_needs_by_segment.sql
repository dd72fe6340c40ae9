SELECT r.segment, r.segment_value, r.rank, r.theme_id, coalesce(t.edited_label, t.label) AS theme_label, r.mentions,
       r.documents, r.explicit_share, r.negative_share, r.importance, r.satisfaction, r.opportunity_score, r.ci_low,
       r.ci_high
FROM segment_rankings r
JOIN themes t USING (theme_fit_id, theme_id)
WHERE r.theme_fit_id = (SELECT theme_fit_id FROM v_latest_theme_fit)
ORDER BY r.segment, r.segment_value, r.rank
