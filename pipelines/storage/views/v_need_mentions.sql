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
WHERE s.need_kind IN ('explicit', 'implicit')
