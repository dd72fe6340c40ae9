-- What a document's source says besides its text: the customer's recommend flag (Datafiniti's
-- reviews.doRecommend, or --map recommend=COLUMN: the customer's own verdict where there is no star rating), the
-- review's helpful-vote count, and any number of segment columns (--segment department="Department Name"),
-- ranked like product and shown in v_feedback as (segment, value) pairs.

ALTER TABLE documents ADD COLUMN recommend BOOLEAN;
ALTER TABLE documents ADD COLUMN helpful_votes BIGINT;
ALTER TABLE documents ADD COLUMN segments STRUCT(segment VARCHAR, value VARCHAR)[];

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
       d.recommend, d.segments, d.helpful_votes
FROM documents d
LEFT JOIN v_current_analysis a USING (feedback_id)
LEFT JOIN need_counts n USING (feedback_id);

-- Comments of the columns kept are given back by the migration runner; these are new or changed.
COMMENT ON COLUMN v_feedback.recommend IS 'Whether the customer recommends the product, when the source says (NULL: not said)';
COMMENT ON VIEW v_theme_trends IS 'Each theme''s share of all need mentions per period (day, week or month, chosen from the data''s span); no rows when the data has no dates (trends are not computed: map a date column with --map created_at=COLUMN)';
COMMENT ON COLUMN v_feedback.segments IS 'The document''s segment values as (segment, value) pairs, from --segment NAME=COLUMN (NULL when none is mapped); each segment is ranked in v_unmet_needs_by_segment';
COMMENT ON COLUMN v_feedback.helpful_votes IS 'How many readers found the review helpful, when the source says (reviews.numHelpful, a helpful/positive_feedback_count column, or --map helpful_votes=COLUMN)';
COMMENT ON COLUMN v_unmet_needs_by_segment.segment IS 'source_kind | source_name | product | period, or a segment mapped with --segment NAME=COLUMN';
