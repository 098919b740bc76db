-- Each article's tag names as a JSON array, sorted: tags are set when an
-- article is created and never change, so reading them from the row saves a
-- query per article page and per single article. article_tags stays the
-- source for filtering by tag and for tags.articles_count.
ALTER TABLE articles ADD COLUMN tag_list TEXT NOT NULL DEFAULT '[]';

UPDATE articles
SET tag_list = (
    SELECT json_group_array(name)
    FROM (
        SELECT t.name
        FROM article_tags at
        JOIN tags t ON t.id = at.tag_id
        WHERE at.article_id = articles.id
        ORDER BY t.name
    )
);
