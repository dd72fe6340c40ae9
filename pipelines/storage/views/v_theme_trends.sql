SELECT tr.theme_id, coalesce(t.edited_label, t.label) AS theme_label, tr.period_start, tr.mentions,
       tr.period_mentions, tr.share
FROM theme_trends tr
JOIN themes t USING (theme_fit_id, theme_id)
WHERE tr.theme_fit_id = (SELECT theme_fit_id FROM v_latest_theme_fit)
ORDER BY tr.theme_id, tr.period_start
