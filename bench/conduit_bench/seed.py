"""Fresh databases, the seed data, and the token/slug lists the Lua scripts rotate over."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import sqlite3
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

SEED_SQL = Path(__file__).resolve().parent.parent / "seed" / "postgres.sql"
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
PASSWORD = "bench-password-123"
TAGS = [
    "rust", "actix", "diesel", "postgres", "sqlite", "web", "api", "async", "tokio", "serde",
    "testing", "security", "performance", "database", "design", "devops", "docker", "linux",
    "cloud", "http", "json", "jwt", "auth", "cache", "metrics", "logging", "tracing",
    "benchmark", "memory", "concurrency", "networking", "frontend", "backend", "react", "vue",
    "angular", "svelte", "typescript", "javascript", "python", "go", "java", "kotlin", "swift",
    "elixir", "haskell", "ocaml", "zig", "wasm", "realworld",
]
LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
    "incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud. "
) * 16
EPOCH = datetime(2024, 1, 1)


@dataclass(frozen=True)
class Size:
    users: int
    articles: int


SIZES = {"small": Size(100, 1_000), "large": Size(100_000, 1_000_000)}


# --- databases ---------------------------------------------------------------

def pg_url(dbname: str) -> str:
    return f"postgres://postgres@127.0.0.1:5432/{dbname}?sslmode=disable"


def psql(url: str, *args: str, timeout: float = 3600) -> str:
    out = subprocess.run(
        ["psql", url, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", *args],
        check=True, capture_output=True, text=True, timeout=timeout,
    )
    return out.stdout.strip()


def recreate_postgres(dbname: str) -> str:
    psql(PG_ADMIN_URL, "-c", f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    psql(PG_ADMIN_URL, "-c", f'CREATE DATABASE "{dbname}"')
    return pg_url(dbname)


def recreate_sqlite(path: Path) -> str:
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(path)


# --- the shared password hash ------------------------------------------------

def register_user(base_url: str, username: str, email: str, password: str) -> None:
    body = json.dumps({"user": {"username": username, "email": email, "password": password}})
    req = urllib.request.Request(
        base_url + "/api/users", data=body.encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        if resp.status not in (200, 201):
            raise RuntimeError(f"registration answered {resp.status}")


def password_hash(db: str, database_url: str, username: str) -> str:
    query = f"SELECT password_hash FROM users WHERE username = '{username}'"
    if db == "postgres":
        value = psql(database_url, "-c", query)
    else:
        with sqlite3.connect(database_url) as conn:
            value = conn.execute(query).fetchone()[0]
    if not value.startswith("$argon2id$"):
        raise RuntimeError(f"unexpected password hash {value[:20]!r}")
    return value


# --- seeding -----------------------------------------------------------------

def seed_postgres(database_url: str, size: Size, seed: int, pw_hash: str) -> None:
    # setseed() takes a float in [-1, 1].
    pg_seed = (seed % 1_000_000) / 1_000_000
    psql(
        database_url,
        "-v", f"users={size.users}", "-v", f"articles={size.articles}",
        "-v", f"seed={pg_seed}", "-v", f"hash={pw_hash}",
        "-f", str(SEED_SQL),
    )


def _ts(dt: datetime) -> str:
    """Diesel's SQLite text format for NaiveDateTime, at millisecond precision."""
    return dt.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def seed_sqlite(path: str, size: Size, seed: int, pw_hash: str) -> None:
    """The same shape as seed/postgres.sql, drawn from Python's random.Random(seed)."""
    rng = random.Random(seed)
    n_users, n_articles = size.users, size.articles
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 30000")
    with conn:
        for table in ("comments", "favorites", "article_tags", "tag_counts", "tags", "articles",
                      "follows", "users"):
            conn.execute(f"DELETE FROM {table}")
        conn.execute("DELETE FROM sqlite_sequence")
        conn.executemany(
            "INSERT INTO users (id, username, email, password_hash, bio, image, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, NULL, ?, ?)",
            (
                (i, f"user{i}", f"user{i}@bench.example", pw_hash,
                 f"I am seeded user number {i}.", ts, ts)
                for i in range(1, n_users + 1)
                for ts in [_ts(EPOCH + timedelta(seconds=i))]
            ),
        )
        conn.executemany("INSERT INTO tags (id, name) VALUES (?, ?)",
                         enumerate(TAGS, start=1))
        created: list[datetime] = []

        def article_rows():
            for i in range(1, n_articles + 1):
                ts = EPOCH + timedelta(seconds=30 * i, milliseconds=rng.randrange(29_000))
                created.append(ts)
                offset = rng.randrange(160)
                body = f"Article {i}. " + LOREM[offset:offset + 2000]
                author = 1 + rng.randrange(n_users)
                yield (i, f"seeded-article-{i}", f"Seeded article {i}",
                       f"Description of seeded article {i}", body, author, _ts(ts), _ts(ts))

        conn.executemany(
            "INSERT INTO articles (id, slug, title, description, body, author_id, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            article_rows(),
        )

        def article_tag_rows():
            for i in range(1, n_articles + 1):
                t0 = int(50 * rng.random() ** 2)
                for k in range(1 + rng.randrange(4)):
                    yield i, 1 + (t0 + 7 * k) % 50

        conn.executemany("INSERT INTO article_tags (article_id, tag_id) VALUES (?, ?)",
                         article_tag_rows())

        per_user = min(10, n_users - 1)

        def follow_rows():
            step = (n_users - 1) // max(per_user, 1)
            for u in range(1, n_users + 1):
                b = rng.randrange(max(n_users - 1, 1))
                ts = _ts(EPOCH + timedelta(seconds=u))
                for k in range(per_user):
                    yield u, 1 + (u + (b + k * step) % (n_users - 1)) % n_users, ts

        conn.executemany(
            "INSERT OR IGNORE INTO follows (follower_id, followee_id, created_at) VALUES (?, ?, ?)",
            follow_rows(),
        )

        def favorite_rows():
            step = n_users // 5
            for i, ts in enumerate(created, start=1):
                b = rng.randrange(n_users)
                for k in range(rng.randrange(5)):
                    yield 1 + (b + k * step) % n_users, i, _ts(ts + timedelta(days=1))

        conn.executemany(
            "INSERT OR IGNORE INTO favorites (user_id, article_id, created_at) VALUES (?, ?, ?)",
            favorite_rows(),
        )

        def comment_rows():
            for i, ts in enumerate(created, start=1):
                for k in range(1, 1 + rng.randrange(4)):
                    at = _ts(ts + timedelta(hours=k))
                    yield (f"Comment {k} on article {i}: thanks for sharing.", i,
                           1 + rng.randrange(n_users), at, at)

        conn.executemany(
            "INSERT INTO comments (body, article_id, author_id, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?)",
            comment_rows(),
        )
        recompute_counters_sqlite(conn)
    conn.execute("ANALYZE")
    conn.close()


def recompute_counters_sqlite(conn: sqlite3.Connection) -> None:
    conn.executescript("""
        UPDATE users SET
          articles_authored = (SELECT count(*) FROM articles WHERE author_id = users.id),
          articles_favorited = (SELECT count(*) FROM favorites WHERE user_id = users.id);
        INSERT INTO tag_counts (tag_id, shard, articles_count)
          SELECT t.id, 0, (SELECT count(*) FROM article_tags x WHERE x.tag_id = t.id)
          FROM tags t;
        UPDATE articles SET
          favorites_count = (SELECT count(*) FROM favorites WHERE article_id = articles.id);
        UPDATE counters SET value = 0 WHERE name LIKE 'articles/%';
        UPDATE counters SET value = (SELECT count(*) FROM articles) WHERE name = 'articles/0';
        UPDATE articles SET tag_list = (
          SELECT json_group_array(name) FROM (
            SELECT t.name FROM article_tags x JOIN tags t ON t.id = x.tag_id
            WHERE x.article_id = articles.id ORDER BY t.name));
    """)


# --- consistency check -------------------------------------------------------

COUNTER_CHECKS = {
    "users.articles_authored": "SELECT count(*) FROM users u WHERE articles_authored <>"
    " (SELECT count(*) FROM articles a WHERE a.author_id = u.id)",
    "users.articles_favorited": "SELECT count(*) FROM users u WHERE articles_favorited <>"
    " (SELECT count(*) FROM favorites f WHERE f.user_id = u.id)",
    "tag_counts": "SELECT count(*) FROM tags t WHERE"
    " (SELECT coalesce(sum(articles_count), 0) FROM tag_counts c WHERE c.tag_id = t.id) <>"
    " (SELECT count(*) FROM article_tags x WHERE x.tag_id = t.id)",
    "articles.favorites_count": "SELECT count(*) FROM articles a WHERE favorites_count <>"
    " (SELECT count(*) FROM favorites f WHERE f.article_id = a.id)",
    "counters.articles": "SELECT count(*) FROM (SELECT sum(value) AS total FROM counters"
    " WHERE name LIKE 'articles/%') s WHERE s.total <> (SELECT count(*) FROM articles)",
    "articles.tag_list": "SELECT count(*) FROM articles a WHERE tag_list = '[]'"
    " AND EXISTS (SELECT 1 FROM article_tags x WHERE x.article_id = a.id)",
}


def query_scalar(db: str, database_url: str, sql: str) -> int:
    if db == "postgres":
        return int(psql(database_url, "-c", sql))
    with sqlite3.connect(database_url) as conn:
        return int(conn.execute(sql).fetchone()[0])


def counter_mismatches(db: str, database_url: str) -> dict[str, int]:
    """Rows whose counter column disagrees with the rows it counts (all 0 when consistent)."""
    return {name: query_scalar(db, database_url, sql) for name, sql in COUNTER_CHECKS.items()}


def table_counts(db: str, database_url: str) -> dict[str, int]:
    tables = ("users", "follows", "articles", "tags", "article_tags", "favorites", "comments")
    return {t: query_scalar(db, database_url, f"SELECT count(*) FROM {t}") for t in tables}


# --- tokens and rotation lists -----------------------------------------------

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def password_fingerprint(password_hash: str) -> str:
    """The token's `pwd` claim: 64-bit FNV-1a of the stored password hash,
    as hex (src/auth/jwt.rs)."""
    h = 0xcbf29ce484222325
    for b in password_hash.encode():
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def mint_jwt(user_id: int, secret: str, password_hash: str, ttl_s: int = 24 * 3600) -> str:
    """HS256 token with the claims the server issues: sub, iat, exp, pwd."""
    now = int(time.time())
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = _b64(json.dumps({"sub": str(user_id), "iat": now, "exp": now + ttl_s,
                              "pwd": password_fingerprint(password_hash)},
                             separators=(",", ":")).encode())
    signing_input = f"{header}.{claims}".encode()
    sig = hmac.new(secret.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}.{claims}.{_b64(sig)}"


def write_rotation_lists(data_dir: Path, size: Size, seed: int, secret: str, password_hash: str,
                         limit: int = 1000) -> dict[str, list[str]]:
    """tokens/usernames/emails for up to `limit` seeded users (who all share
    `password_hash`), slugs for up to `limit` articles."""
    rng = random.Random(seed + 1)
    user_ids = rng.sample(range(1, size.users + 1), min(limit, size.users))
    article_ids = rng.sample(range(1, size.articles + 1), min(limit, size.articles))
    lists = {
        "tokens": [mint_jwt(u, secret, password_hash) for u in user_ids],
        "usernames": [f"user{u}" for u in user_ids],
        "emails": [f"user{u}@bench.example" for u in user_ids],
        "slugs": [f"seeded-article-{a}" for a in article_ids],
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    for name, values in lists.items():
        (data_dir / f"{name}.txt").write_text("\n".join(values) + "\n")
    return lists
