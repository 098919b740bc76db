ALTER TABLE tags ADD COLUMN articles_count BIGINT NOT NULL DEFAULT 0;

UPDATE tags t
SET articles_count = s.total
FROM (SELECT tag_id, sum(articles_count) AS total FROM tag_counts GROUP BY tag_id) s
WHERE s.tag_id = t.id;

DROP TABLE tag_counts;
