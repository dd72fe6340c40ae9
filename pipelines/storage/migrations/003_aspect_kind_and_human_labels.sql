-- Implicit-aspect head output per sentence, and human corrections that retraining reads.

ALTER TABLE sentences ADD COLUMN aspect_kind VARCHAR;
ALTER TABLE sentences ADD COLUMN aspect_kind_model VARCHAR;

CREATE TABLE human_labels (
    label_id     VARCHAR PRIMARY KEY,
    task         VARCHAR NOT NULL CHECK (task IN ('sentiment', 'needs', 'implicit_aspect')),
    text         VARCHAR NOT NULL CHECK (length(trim(text)) > 0),
    label        VARCHAR NOT NULL,
    sentence_id  VARCHAR,
    labelled_by  VARCHAR,
    labelled_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
    note         VARCHAR,
    CHECK ((task = 'sentiment' AND label IN ('negative', 'neutral', 'positive'))
        OR (task = 'needs' AND label IN ('explicit', 'implicit', 'none'))
        OR (task = 'implicit_aspect' AND label IN ('explicit', 'implicit')))
);

CREATE OR REPLACE VIEW v_need_mentions AS
SELECT s.sentence_id AS mention_id, s.feedback_id, d.source_id, s.text AS sentence, s.need_kind,
       s.need_confidence, s.aspect, s.aspect_kind, s.sentiment, t.theme_id, t.label AS theme_label, d.created_at
FROM sentences s
JOIN v_current_analysis a USING (feedback_id, analysis_version)
JOIN documents d USING (feedback_id)
LEFT JOIN theme_assignments ta
       ON ta.sentence_id = s.sentence_id AND ta.theme_fit_id = (SELECT theme_fit_id FROM v_latest_theme_fit)
LEFT JOIN themes t ON t.theme_fit_id = ta.theme_fit_id AND t.theme_id = ta.theme_id
WHERE s.need_kind IN ('explicit', 'implicit');

COMMENT ON VIEW v_need_mentions IS 'One row per sentence that states (explicit) or implies (implicit) a need, with its theme.';
COMMENT ON COLUMN v_need_mentions.mention_id IS 'Id of the sentence';
COMMENT ON COLUMN v_need_mentions.feedback_id IS 'Document the sentence belongs to (v_feedback.feedback_id)';
COMMENT ON COLUMN v_need_mentions.source_id IS 'Id of the document in its source';
COMMENT ON COLUMN v_need_mentions.sentence IS 'The sentence text';
COMMENT ON COLUMN v_need_mentions.need_kind IS 'explicit | implicit';
COMMENT ON COLUMN v_need_mentions.need_confidence IS 'Probability of need_kind from the need model';
COMMENT ON COLUMN v_need_mentions.aspect IS 'What the need is about (noun phrase), when found';
COMMENT ON COLUMN v_need_mentions.aspect_kind IS 'explicit: the sentence names what it judges; implicit: it does not (e.g. "it died after an hour")';
COMMENT ON COLUMN v_need_mentions.sentiment IS 'Sentence sentiment: negative | neutral | positive';
COMMENT ON COLUMN v_need_mentions.theme_id IS 'Theme in the latest theme fit';
COMMENT ON COLUMN v_need_mentions.theme_label IS 'Readable theme label';
COMMENT ON COLUMN v_need_mentions.created_at IS 'When the document was written (UTC)';

COMMENT ON TABLE human_labels IS 'Corrections by people; `unmet train --corrections-db` and the retraining notebooks read them (latest label per task and text wins).';
