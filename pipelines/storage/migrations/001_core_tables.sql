-- Core tables. Every label column sits next to the model version that produced it.

CREATE TABLE settings (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);

CREATE TABLE runs (
    run_id         VARCHAR PRIMARY KEY,
    flow           VARCHAR NOT NULL,
    started_at     TIMESTAMPTZ NOT NULL,
    finished_at    TIMESTAMPTZ,
    status         VARCHAR NOT NULL,          -- running | completed | failed
    parameters     JSON,
    model_versions JSON,
    counts         JSON,
    timings        JSON,
    error          VARCHAR
);

CREATE TABLE documents (
    feedback_id   VARCHAR PRIMARY KEY,        -- stable hash of the content and its provenance
    source_kind   VARCHAR NOT NULL,           -- review | social
    source_name   VARCHAR NOT NULL,
    source_id     VARCHAR,                    -- the id in the source, kept exactly
    adapter       VARCHAR NOT NULL,
    text          VARCHAR NOT NULL,           -- cleaned text (title + body)
    raw_text      VARCHAR NOT NULL,
    created_at    TIMESTAMPTZ,
    rating        DOUBLE,
    author_hash   VARCHAR,                    -- salted hash; the raw handle is never stored
    product       VARCHAR,
    url           VARCHAR,
    language      VARCHAR,
    source_file   VARCHAR,
    source_line   BIGINT,
    raw_payload   VARCHAR,
    ingest_run_id VARCHAR NOT NULL,
    ingested_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE quarantine (
    quarantine_id  VARCHAR PRIMARY KEY,
    source_file    VARCHAR,
    source_line    BIGINT,                    -- 0 when the whole file (or its tail) could not be read
    source_name    VARCHAR,
    reason         VARCHAR NOT NULL,
    raw_payload    VARCHAR,
    run_id         VARCHAR NOT NULL,
    quarantined_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE document_analysis (
    feedback_id          VARCHAR NOT NULL,
    analysis_version     VARCHAR NOT NULL,    -- hash of every model version below
    status               VARCHAR NOT NULL,    -- analyzed | skipped_language
    sentiment            VARCHAR,
    sentiment_score      DOUBLE,              -- P(positive) - P(negative), in [-1, 1]
    sentiment_confidence DOUBLE,
    sentiment_model      VARCHAR,
    n_sentences          INTEGER NOT NULL,
    run_id               VARCHAR NOT NULL,
    analyzed_at          TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (feedback_id, analysis_version)
);

CREATE TABLE sentences (
    sentence_id          VARCHAR PRIMARY KEY,
    feedback_id          VARCHAR NOT NULL,
    analysis_version     VARCHAR NOT NULL,
    sentence_index       INTEGER NOT NULL,
    text                 VARCHAR NOT NULL,
    char_start           INTEGER NOT NULL,
    char_end             INTEGER NOT NULL,
    sentiment            VARCHAR NOT NULL,
    sentiment_score      DOUBLE NOT NULL,
    sentiment_confidence DOUBLE NOT NULL,
    sentiment_model      VARCHAR NOT NULL,
    need_kind            VARCHAR NOT NULL,    -- explicit | implicit | none
    need_confidence      DOUBLE NOT NULL,
    need_model           VARCHAR NOT NULL,
    aspect               VARCHAR,
    aspect_model         VARCHAR NOT NULL,
    segmenter            VARCHAR NOT NULL,
    run_id               VARCHAR NOT NULL
);

CREATE TABLE sentence_embeddings (
    sentence_id VARCHAR PRIMARY KEY,
    encoder     VARCHAR NOT NULL,
    embedding   FLOAT[] NOT NULL
);

CREATE TABLE theme_fits (
    theme_fit_id VARCHAR PRIMARY KEY,
    model        VARCHAR NOT NULL,
    params       JSON,
    n_mentions   INTEGER NOT NULL,
    run_id       VARCHAR NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE themes (
    theme_fit_id VARCHAR NOT NULL,
    theme_id     INTEGER NOT NULL,
    label        VARCHAR NOT NULL,
    top_terms    VARCHAR[] NOT NULL,
    size         INTEGER NOT NULL,
    representative_sentence_ids VARCHAR[] NOT NULL,
    PRIMARY KEY (theme_fit_id, theme_id)
);

CREATE TABLE theme_assignments (
    theme_fit_id VARCHAR NOT NULL,
    sentence_id  VARCHAR NOT NULL,
    theme_id     INTEGER NOT NULL,
    PRIMARY KEY (theme_fit_id, sentence_id)
);

CREATE TABLE need_rankings (
    theme_fit_id      VARCHAR NOT NULL,
    theme_id          INTEGER NOT NULL,
    rank              INTEGER NOT NULL,
    mentions          INTEGER NOT NULL,
    documents         INTEGER NOT NULL,
    explicit_share    DOUBLE NOT NULL,
    negative_share    DOUBLE NOT NULL,
    importance        DOUBLE NOT NULL,
    satisfaction      DOUBLE NOT NULL,
    opportunity_score DOUBLE NOT NULL,
    ci_low            DOUBLE NOT NULL,
    ci_high           DOUBLE NOT NULL,
    example_quotes    JSON NOT NULL,
    PRIMARY KEY (theme_fit_id, theme_id)
);

CREATE INDEX sentences_by_feedback ON sentences (feedback_id, analysis_version);
