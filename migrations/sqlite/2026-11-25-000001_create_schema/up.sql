-- Conduit schema, SQLite dialect. migrations/postgres holds the same schema for PostgreSQL.
-- Timestamps are naive UTC set by the application (truncated to milliseconds).
-- Counter columns are maintained by the application in the same transaction as
-- the rows they count, so list totals never need a COUNT over the whole table.

CREATE TABLE users (
    id                 INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    username           TEXT      NOT NULL,
    email              TEXT      NOT NULL,
    password_hash      TEXT      NOT NULL,
    bio                TEXT,
    image              TEXT,
    articles_authored  BIGINT    NOT NULL DEFAULT 0,
    articles_favorited BIGINT    NOT NULL DEFAULT 0,
    created_at         TIMESTAMP NOT NULL,
    updated_at         TIMESTAMP NOT NULL
);
-- Usernames and emails are unique case-insensitively; lookups use lower(..).
CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

CREATE TABLE follows (
    follower_id BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    followee_id BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (follower_id, followee_id)
);
CREATE INDEX follows_followee_id_idx ON follows (followee_id);

CREATE TABLE articles (
    id              INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    slug            TEXT      NOT NULL UNIQUE,
    title           TEXT      NOT NULL,
    description     TEXT      NOT NULL,
    body            TEXT      NOT NULL,
    author_id       BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    favorites_count BIGINT    NOT NULL DEFAULT 0,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
-- Global list and feed/author lists, newest first with a deterministic tie-break.
CREATE INDEX articles_created_at_id_idx ON articles (created_at DESC, id DESC);
CREATE INDEX articles_author_created_at_idx ON articles (author_id, created_at DESC, id DESC);

CREATE TABLE tags (
    id             INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    name           TEXT   NOT NULL UNIQUE,
    articles_count BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE article_tags (
    article_id BIGINT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    tag_id     BIGINT NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
    PRIMARY KEY (article_id, tag_id)
);
CREATE INDEX article_tags_tag_id_article_id_idx ON article_tags (tag_id, article_id);

CREATE TABLE favorites (
    user_id    BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    article_id BIGINT    NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, article_id)
);
CREATE INDEX favorites_article_id_idx ON favorites (article_id);

CREATE TABLE comments (
    id         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    body       TEXT      NOT NULL,
    article_id BIGINT    NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    author_id  BIGINT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX comments_article_id_id_idx ON comments (article_id, id);
CREATE INDEX comments_author_id_idx ON comments (author_id);

-- Site-wide totals (name -> value), e.g. the number of articles.
CREATE TABLE counters (
    name  TEXT   PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('articles', 0);
