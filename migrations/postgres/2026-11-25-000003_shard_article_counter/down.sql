INSERT INTO counters (name, value)
SELECT 'articles', COALESCE(SUM(value), 0) FROM counters WHERE name LIKE 'articles/%';
DELETE FROM counters WHERE name LIKE 'articles/%';
