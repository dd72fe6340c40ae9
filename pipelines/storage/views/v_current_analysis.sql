SELECT * FROM document_analysis
QUALIFY row_number() OVER (PARTITION BY feedback_id ORDER BY analyzed_at DESC, analysis_version) = 1
