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
LEFT JOIN need_counts n USING (feedback_id)
