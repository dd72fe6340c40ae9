-- One outlier convention everywhere: a need mention that fits no theme has theme_id -1 in v_need_mentions (it was
-- NULL there, since the outlier bucket has no row in themes); NULL now means only "not assigned yet" (analysed
-- after the latest theme fit). Need mentions whose aspect is implied store it in aspect with aspect_kind implicit.

CREATE OR REPLACE VIEW v_need_mentions AS
SELECT s.sentence_id AS mention_id, s.feedback_id, d.source_id, s.text AS sentence, s.need_kind,
       s.need_confidence, s.aspect, s.aspect_kind, s.sentiment, ta.theme_id,
       CASE WHEN ta.theme_id = -1 THEN 'outliers (fits no theme)' ELSE t.label END AS theme_label, d.created_at,
       t.parent_id AS parent_theme_id, t.parent_label AS parent_theme_label, d.source_kind, d.source_name,
       d.product, d.url
FROM sentences s
JOIN v_current_analysis a USING (feedback_id, analysis_version)
JOIN documents d USING (feedback_id)
LEFT JOIN theme_assignments ta
       ON ta.sentence_id = s.sentence_id AND ta.theme_fit_id = (SELECT theme_fit_id FROM v_latest_theme_fit)
LEFT JOIN themes t ON t.theme_fit_id = ta.theme_fit_id AND t.theme_id = ta.theme_id
WHERE s.need_kind IN ('explicit', 'implicit');

COMMENT ON VIEW v_need_mentions IS 'One row per sentence that states (explicit) or implies (implicit) a need, with its theme (-1 = outlier).';
COMMENT ON COLUMN v_need_mentions.mention_id IS 'Id of the sentence';
COMMENT ON COLUMN v_need_mentions.feedback_id IS 'Document the sentence belongs to (v_feedback.feedback_id)';
COMMENT ON COLUMN v_need_mentions.source_id IS 'Id of the document in its source';
COMMENT ON COLUMN v_need_mentions.sentence IS 'The sentence text';
COMMENT ON COLUMN v_need_mentions.need_kind IS 'explicit | implicit';
COMMENT ON COLUMN v_need_mentions.need_confidence IS 'Probability of need_kind from the need model';
COMMENT ON COLUMN v_need_mentions.aspect IS 'What the need is about: the noun phrase the sentence names, or the aspect it implies (aspect_kind implicit: "too heavy" -> weight)';
COMMENT ON COLUMN v_need_mentions.aspect_kind IS 'explicit: the aspect is named by words of the sentence | implicit: only implied';
COMMENT ON COLUMN v_need_mentions.sentiment IS 'Sentence sentiment: negative | neutral | positive';
COMMENT ON COLUMN v_need_mentions.theme_id IS 'Theme in the latest theme fit; -1 = fits no theme (outlier bucket); NULL = analysed after the latest fit, not assigned yet; ids stay the same across incremental runs';
COMMENT ON COLUMN v_need_mentions.theme_label IS 'Readable theme label ("outliers (fits no theme)" for -1)';
COMMENT ON COLUMN v_need_mentions.created_at IS 'When the document was written (UTC)';
COMMENT ON COLUMN v_need_mentions.parent_theme_id IS 'Parent theme (themes merged for the overview)';
COMMENT ON COLUMN v_need_mentions.parent_theme_label IS 'Readable parent theme label';
COMMENT ON COLUMN v_need_mentions.source_kind IS 'review | social';
COMMENT ON COLUMN v_need_mentions.source_name IS 'Name of the source';
COMMENT ON COLUMN v_need_mentions.product IS 'Product, app or entity the feedback is about, when the source says';
COMMENT ON COLUMN v_need_mentions.url IS 'Link to the original feedback, when the source gives one';
