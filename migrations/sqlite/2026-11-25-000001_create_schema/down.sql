DROP TABLE counters;
DROP TABLE comments;
DROP TABLE favorites;
DROP TABLE article_tags;
DROP TABLE tags;
DROP TABLE articles;
DROP TABLE follows;
DROP TABLE users;
