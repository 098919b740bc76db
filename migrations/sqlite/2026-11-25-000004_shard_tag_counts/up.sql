-- Every create and delete of an article with a given tag updated that tag's
-- one articles_count. Each tag's count is now spread over up to 16 rows
-- (tag_id, shard): a writer adds +1 or -1 to one shard picked at random, and
-- readers sum a tag's rows. Same schema as the PostgreSQL migration (SQLite
-- writers are serialised anyway; one schema keeps one code path).
CREATE TABLE tag_counts (
    tag_id         BIGINT NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    shard          BIGINT NOT NULL,
    articles_count BIGINT NOT NULL,
    PRIMARY KEY (tag_id, shard)
);

INSERT INTO tag_counts (tag_id, shard, articles_count)
SELECT id, 0, articles_count FROM tags;

ALTER TABLE tags DROP COLUMN articles_count;
