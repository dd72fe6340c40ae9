-- Views now live in pipelines/storage/views/ (<name>.sql + views.yml): each is re-created when its checksum
-- changes, and this table records the checksum each view was last created with.
CREATE TABLE view_versions (
    view_name  VARCHAR PRIMARY KEY,
    checksum   VARCHAR NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL
);
