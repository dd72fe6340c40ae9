SELECT * FROM theme_fits ORDER BY created_at DESC, theme_fit_id LIMIT 1
