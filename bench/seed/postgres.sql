-- Deterministic seed for the Conduit schema on PostgreSQL.
-- psql variables: users, articles (row counts), seed (float in [-1, 1] for
-- setseed) and hash (the argon2id PHC string every seeded user shares).
-- Every random() call runs in one serial session after setseed(), and every
-- INSERT reads its input in a fixed order, so the same seed gives the same rows.
\set ON_ERROR_STOP on
SET max_parallel_workers_per_gather = 0;
SET synchronous_commit = off;

BEGIN;
TRUNCATE comments, favorites, article_tags, tag_counts, tags, articles, follows, users RESTART IDENTITY;
SELECT setseed(:seed);

-- Users: user1..userN, email userN@bench.example, all with the same password.
INSERT INTO users (id, username, email, password_hash, bio, image, created_at, updated_at)
SELECT i, 'user' || i, 'user' || i || '@bench.example', :'hash',
       'I am seeded user number ' || i || '.', NULL, ts, ts
FROM generate_series(1, :users) AS i,
     LATERAL (SELECT timestamp '2024-01-01' + i * interval '1 second' AS ts) t
ORDER BY i;

-- A pool of 50 tags.
INSERT INTO tags (id, name)
SELECT i, name
FROM unnest(ARRAY[
  'rust','actix','diesel','postgres','sqlite','web','api','async','tokio','serde',
  'testing','security','performance','database','design','devops','docker','linux','cloud','http',
  'json','jwt','auth','cache','metrics','logging','tracing','benchmark','memory','concurrency',
  'networking','frontend','backend','react','vue','angular','svelte','typescript','javascript','python',
  'go','java','kotlin','swift','elixir','haskell','ocaml','zig','wasm','realworld'
]) WITH ORDINALITY AS t(name, i)
ORDER BY i;

-- Articles: ~30 s apart with jitter, random author, ~2 KB body.
INSERT INTO articles (id, slug, title, description, body, author_id, created_at, updated_at)
SELECT i,
       'seeded-article-' || i,
       'Seeded article ' || i,
       'Description of seeded article ' || i,
       'Article ' || i || '. ' || substr(repeat(
         'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor '
         'incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud. ',
         16), 1 + floor(random() * 160)::int, 2000),
       1 + floor(random() * :users)::bigint,
       ts, ts
FROM generate_series(1, :articles) AS i,
     LATERAL (SELECT date_trunc('milliseconds',
                timestamp '2024-01-01' + i * interval '30 seconds'
                + random() * interval '29 seconds') AS ts) t
ORDER BY i;

-- 1-4 distinct tags per article; popular tags (low ids) come up more often.
INSERT INTO article_tags (article_id, tag_id)
SELECT a.id, 1 + (a.t0 + k * 7) % 50
FROM (SELECT id, floor(50 * random() ^ 2)::int AS t0, 1 + floor(random() * 4)::int AS n
      FROM articles ORDER BY id) a,
     LATERAL generate_series(0, a.n - 1) AS k
ORDER BY a.id, k;

-- Each user follows min(10, users-1) distinct others.
INSERT INTO follows (follower_id, followee_id, created_at)
SELECT u.id,
       1 + (u.id + (u.b + k * ((:users - 1) / least(10, :users - 1))) % (:users - 1)) % :users,
       u.created_at
FROM (SELECT id, created_at, floor(random() * (:users - 1))::int AS b
      FROM users ORDER BY id) u,
     generate_series(0, least(10, :users - 1) - 1) AS k
ORDER BY u.id, k
ON CONFLICT DO NOTHING;

-- 0-4 favorites per article from distinct users.
INSERT INTO favorites (user_id, article_id, created_at)
SELECT 1 + (a.b + k * (:users / 5)) % :users, a.id, a.created_at + interval '1 day'
FROM (SELECT id, created_at, floor(random() * :users)::int AS b, floor(random() * 5)::int AS n
      FROM articles ORDER BY id) a,
     LATERAL generate_series(0, a.n - 1) AS k
ORDER BY a.id, k
ON CONFLICT DO NOTHING;

-- 0-3 comments per article.
INSERT INTO comments (body, article_id, author_id, created_at, updated_at)
SELECT 'Comment ' || k || ' on article ' || a.id || ': thanks for sharing.',
       a.id, 1 + floor(random() * :users)::bigint,
       a.created_at + k * interval '1 hour', a.created_at + k * interval '1 hour'
FROM (SELECT id, created_at, floor(random() * 4)::int AS n FROM articles ORDER BY id) a,
     LATERAL generate_series(1, a.n) AS k
ORDER BY a.id, k;

SELECT setval('users_id_seq', :users);
SELECT setval('tags_id_seq', 50);
SELECT setval('articles_id_seq', :articles);
SELECT setval('comments_id_seq', greatest(1, (SELECT max(id) FROM comments)));

-- Counter columns, recomputed from the rows they count.
UPDATE users u SET articles_authored = s.n
FROM (SELECT author_id, count(*) AS n FROM articles GROUP BY author_id) s
WHERE u.id = s.author_id;
UPDATE users u SET articles_favorited = s.n
FROM (SELECT user_id, count(*) AS n FROM favorites GROUP BY user_id) s
WHERE u.id = s.user_id;
-- Each tag's count lives in up to 16 shards (tag_counts); put it all in shard 0.
INSERT INTO tag_counts (tag_id, shard, articles_count)
SELECT t.id, 0, (SELECT count(*) FROM article_tags x WHERE x.tag_id = t.id) FROM tags t;
UPDATE articles a SET favorites_count = s.n
FROM (SELECT article_id, count(*) AS n FROM favorites GROUP BY article_id) s
WHERE a.id = s.article_id;
-- The site total lives in 16 shards (articles/0 .. articles/15); put it all in one.
UPDATE counters SET value = 0 WHERE name LIKE 'articles/%';
UPDATE counters SET value = (SELECT count(*) FROM articles) WHERE name = 'articles/0';
-- Each article's sorted tag names, stored on the row as a JSON array.
UPDATE articles a SET tag_list = s.names
FROM (SELECT at.article_id, json_agg(t.name ORDER BY t.name)::text AS names
      FROM article_tags at JOIN tags t ON t.id = at.tag_id GROUP BY at.article_id) s
WHERE a.id = s.article_id;
COMMIT;

VACUUM ANALYZE;
