-- Views that product teams query. Their names and columns are a contract: add, never rename.

CREATE VIEW v_current_analysis AS
SELECT * FROM document_analysis
QUALIFY row_number() OVER (PARTITION BY feedback_id ORDER BY analyzed_at DESC, analysis_version) = 1;

CREATE VIEW v_latest_theme_fit AS
SELECT * FROM theme_fits ORDER BY created_at DESC, theme_fit_id LIMIT 1;

CREATE VIEW v_feedback AS
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
       coalesce(n.implicit_needs, 0)::INTEGER AS implicit_needs
FROM documents d
LEFT JOIN v_current_analysis a USING (feedback_id)
LEFT JOIN need_counts n USING (feedback_id);

CREATE VIEW v_need_mentions AS
SELECT s.sentence_id AS mention_id, s.feedback_id, d.source_id, s.text AS sentence, s.need_kind,
       s.need_confidence, s.aspect, s.sentiment, t.theme_id, t.label AS theme_label, d.created_at
FROM sentences s
JOIN v_current_analysis a USING (feedback_id, analysis_version)
JOIN documents d USING (feedback_id)
LEFT JOIN theme_assignments ta
       ON ta.sentence_id = s.sentence_id AND ta.theme_fit_id = (SELECT theme_fit_id FROM v_latest_theme_fit)
LEFT JOIN themes t ON t.theme_fit_id = ta.theme_fit_id AND t.theme_id = ta.theme_id
WHERE s.need_kind IN ('explicit', 'implicit');

CREATE VIEW v_unmet_needs AS
SELECT r.rank, r.theme_id, t.label AS theme_label, r.mentions, r.explicit_share, r.negative_share,
       r.opportunity_score, r.ci_low, r.ci_high, r.example_quotes
FROM need_rankings r
JOIN themes t USING (theme_fit_id, theme_id)
WHERE r.theme_fit_id = (SELECT theme_fit_id FROM v_latest_theme_fit)
ORDER BY r.rank;

COMMENT ON VIEW v_feedback IS 'One row per feedback document (review or post) with its sentiment and need counts from the current model versions.';
COMMENT ON COLUMN v_feedback.feedback_id IS 'Stable content-based id of the document';
COMMENT ON COLUMN v_feedback.source_kind IS 'review | social';
COMMENT ON COLUMN v_feedback.source_name IS 'Name of the source (input file stem unless given)';
COMMENT ON COLUMN v_feedback.source_id IS 'Id of the document in its source, kept exactly for joins';
COMMENT ON COLUMN v_feedback.created_at IS 'When the customer wrote it (UTC)';
COMMENT ON COLUMN v_feedback.rating IS 'Star rating when the source has one';
COMMENT ON COLUMN v_feedback.text IS 'Cleaned text, title and body';
COMMENT ON COLUMN v_feedback.sentiment IS 'negative | neutral | positive; NULL when not analysed (e.g. not English)';
COMMENT ON COLUMN v_feedback.sentiment_score IS 'P(positive) - P(negative) averaged over sentences, in [-1, 1]';
COMMENT ON COLUMN v_feedback.explicit_needs IS 'Number of sentences stating a need';
COMMENT ON COLUMN v_feedback.implicit_needs IS 'Number of sentences implying a need (complaint, pain, workaround)';

COMMENT ON VIEW v_need_mentions IS 'One row per sentence that states (explicit) or implies (implicit) a need, with its theme.';
COMMENT ON COLUMN v_need_mentions.mention_id IS 'Id of the sentence';
COMMENT ON COLUMN v_need_mentions.feedback_id IS 'Document the sentence belongs to (v_feedback.feedback_id)';
COMMENT ON COLUMN v_need_mentions.source_id IS 'Id of the document in its source';
COMMENT ON COLUMN v_need_mentions.sentence IS 'The sentence text';
COMMENT ON COLUMN v_need_mentions.need_kind IS 'explicit | implicit';
COMMENT ON COLUMN v_need_mentions.need_confidence IS 'Probability of need_kind from the need model';
COMMENT ON COLUMN v_need_mentions.aspect IS 'What the need is about (noun phrase), when found';
COMMENT ON COLUMN v_need_mentions.sentiment IS 'Sentence sentiment: negative | neutral | positive';
COMMENT ON COLUMN v_need_mentions.theme_id IS 'Theme in the latest theme fit';
COMMENT ON COLUMN v_need_mentions.theme_label IS 'Readable theme label';
COMMENT ON COLUMN v_need_mentions.created_at IS 'When the document was written (UTC)';

COMMENT ON VIEW v_unmet_needs IS 'Themes ranked by opportunity (importance + max(importance - satisfaction, 0), 0-20), best first; rank orders by the lower confidence bound.';
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
