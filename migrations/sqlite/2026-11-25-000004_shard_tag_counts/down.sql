ALTER TABLE tags ADD COLUMN articles_count BIGINT NOT NULL DEFAULT 0;

UPDATE tags
SET articles_count = (SELECT coalesce(sum(articles_count), 0) FROM tag_counts WHERE tag_id = tags.id);

DROP TABLE tag_counts;
