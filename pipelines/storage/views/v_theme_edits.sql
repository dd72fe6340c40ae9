SELECT edit_id, action, theme_id, into_id, label, created_at, undone_at IS NULL AS is_active
FROM theme_edits
ORDER BY edit_id
