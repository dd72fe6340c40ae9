-- The parts of input files already ingested (a byte range of a text file, a run of Parquet row groups, or a
-- whole file), keyed by a digest of their bytes and of the options that read them: the next run skips them.

CREATE TABLE ingested_parts (
    part_key     VARCHAR PRIMARY KEY,   -- sha256 of the part's bytes, the ingest options and the unmet version
    source_file  VARCHAR NOT NULL,
    part_index   INTEGER NOT NULL,      -- 0-based, in file order
    part_count   INTEGER NOT NULL,
    first_line   BIGINT NOT NULL,       -- line (text) or row (Parquet) number of the part's first record
    rows_read    BIGINT NOT NULL,       -- = stored + quarantined
    stored       BIGINT NOT NULL,
    quarantined  BIGINT NOT NULL,
    run_id       VARCHAR NOT NULL,
    ingested_at  TIMESTAMPTZ NOT NULL
);
