-- Each article's tag names as a JSON array, sorted: tags are set when an
-- article is created and never change, so reading them from the row saves a
-- query per article page and per single article. article_tags stays the
-- source for filtering by tag and for tags.articles_count.
ALTER TABLE articles ADD COLUMN tag_list TEXT NOT NULL DEFAULT '[]';

UPDATE articles a
SET tag_list = sub.names
FROM (
    SELECT at.article_id, json_agg(t.name ORDER BY t.name)::text AS names
    FROM article_tags at
    JOIN tags t ON t.id = at.tag_id
    GROUP BY at.article_id
) sub
WHERE sub.article_id = a.id;
