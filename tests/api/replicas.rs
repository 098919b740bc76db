//! Several instances on one database and one Redis, as behind a balancer: a
//! write acknowledged by any instance is seen by every later read through
//! any other, for every response the instances cache; the login limit is one
//! budget; and a Redis outage degrades (database reads, per-instance limits)
//! without failing requests, then recovers.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::*;
use crate::redis_server::RedisServer;

fn article(slug: &str) -> String {
    format!("/api/articles/{slug}")
}

/// Two instances sharing `redis` (with `settings` besides `REDIS_URL`) and
/// jake's article `title`, already in A's cache.
struct CachedPair {
    a: TestApp,
    b: TestApp,
    token: String,
    path: String,
}

async fn cached_pair(
    redis: &RedisServer,
    settings: &[(&'static str, &str)],
    title: &str,
) -> CachedPair {
    let url = redis.url();
    let mut all = vec![("REDIS_URL", url.as_str())];
    all.extend_from_slice(settings);
    let a = spawn_app_with(&all).await;
    let b = spawn_replica(&a, &all);
    let token = a.register("jake").await;
    let slug = a.create_article_slug(&token, title, &[]).await;
    let path = article(&slug);
    a.get_cached(&path, None).await;
    CachedPair { a, b, token, path }
}

#[actix_rt::test]
async fn a_write_through_one_instance_is_read_through_every_other() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let url = redis.url();
    let shared = [("REDIS_URL", url.as_str())];
    let a = spawn_app_with(&shared).await;
    let b = spawn_replica(&a, &shared);
    let c = spawn_replica(&a, &shared);
    let author = a.register("author").await;
    let reader = a.register("reader").await;
    let slug = a.create_article_slug(&author, "Shared", &["one"]).await;
    let path = article(&slug);
    let comments = format!("{path}/comments");

    // The article (anonymous and signed in) after an update.
    for app in [&b, &c] {
        app.get_cached(&path, None).await;
        app.get_cached(&path, Some(&reader)).await;
    }
    a.put(&path, Some(&author), json!({"article": {"body": "edited"}}))
        .await
        .expect(200);
    for app in [&b, &c] {
        assert_eq!(app.get(&path, None).await.body["article"]["body"], "edited");
        let mine = app.get(&path, Some(&reader)).await;
        assert_eq!(mine.body["article"]["body"], "edited");
    }

    // Favorite flag and count, in the article and in lists.
    for app in [&b, &c] {
        app.get_cached(&path, Some(&reader)).await;
        app.get_cached("/api/articles", None).await;
    }
    a.favorite(&reader, &slug).await;
    for app in [&b, &c] {
        let mine = app.get(&path, Some(&reader)).await.body;
        assert_eq!(mine["article"]["favorited"], true);
        assert_eq!(mine["article"]["favoritesCount"], 1);
        let list = app.get("/api/articles", None).await.body;
        assert_eq!(list["articles"][0]["favoritesCount"], 1);
    }

    // Comments after an add and a delete.
    for app in [&a, &c] {
        app.get_cached(&comments, None).await;
    }
    let id = b
        .post(&comments, Some(&reader), json!({"comment": {"body": "hi"}}))
        .await
        .expect(200)
        .body["comment"]["id"]
        .clone();
    for app in [&a, &c] {
        let list = app.get(&comments, None).await.body;
        assert_eq!(list["comments"].as_array().unwrap().len(), 1);
        app.get_cached(&comments, None).await;
    }
    c.delete(&format!("{comments}/{id}"), Some(&reader))
        .await
        .expect(204);
    for app in [&a, &b] {
        let list = app.get(&comments, None).await.body;
        assert!(list["comments"].as_array().unwrap().is_empty());
    }

    // The feed after a follow.
    for app in [&a, &b] {
        let feed = app.get_cached("/api/articles/feed", Some(&reader)).await;
        assert_eq!(feed.body["articlesCount"], 0);
    }
    c.follow(&reader, "author").await;
    for app in [&a, &b] {
        let feed = app.get("/api/articles/feed", Some(&reader)).await.body;
        assert_eq!(slugs(&feed), vec![slug.clone()]);
    }

    // A profile after an update of the user.
    for app in [&a, &c] {
        app.get_cached("/api/profiles/author", None).await;
        app.get_cached("/api/profiles/author", Some(&reader)).await;
    }
    b.put(
        "/api/user",
        Some(&author),
        json!({"user": {"bio": "new bio"}}),
    )
    .await
    .expect(200);
    for app in [&a, &c] {
        for token in [None, Some(reader.as_str())] {
            let profile = app.get("/api/profiles/author", token).await.body;
            assert_eq!(profile["profile"]["bio"], "new bio");
        }
    }

    // Tags after a create.
    for app in [&a, &b] {
        app.get_cached("/api/tags", None).await;
    }
    let second = c.create_article_slug(&author, "Second", &["two"]).await;
    for app in [&a, &b] {
        let tags = app.get("/api/tags", None).await.body;
        assert!(tags["tags"].as_array().unwrap().contains(&json!("two")));
    }

    // Lists and the article itself after a delete.
    for app in [&b, &c] {
        app.get_cached("/api/articles", None).await;
        app.get_cached(&article(&second), None).await;
    }
    a.delete(&article(&second), Some(&author)).await.expect(204);
    for app in [&b, &c] {
        let list = app.get("/api/articles", None).await.body;
        assert_eq!(slugs(&list), vec![slug.clone()]);
        app.get(&article(&second), None).await.expect(404);
    }
}

#[actix_rt::test]
async fn a_password_changed_through_one_instance_revokes_tokens_on_all() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let url = redis.url();
    let shared = [("REDIS_URL", url.as_str())];
    let a = spawn_app_with(&shared).await;
    let b = spawn_replica(&a, &shared);
    let token = a.register("jake").await;
    // B has seen the token (and remembers it is valid).
    b.get_cached("/api/articles/feed", Some(&token)).await;
    let new = a.change_password(&token, "another password").await;
    b.get("/api/articles/feed", Some(&token)).await.expect(401);
    b.get("/api/articles/feed", Some(&new)).await.expect(200);
}

#[actix_rt::test]
async fn the_login_limit_is_one_budget_across_instances() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let url = redis.url();
    let limited = [
        ("REDIS_URL", url.as_str()),
        ("RATE_LIMIT", "on"),
        ("RATE_LIMIT_PER_MINUTE", "1"),
        ("RATE_LIMIT_BURST", "2"),
    ];
    let a = spawn_app_with(&limited).await;
    let b = spawn_replica(&a, &limited);
    let login = json!({"user": {"email": "x@example.com", "password": "whatever1"}});
    a.post("/api/users/login", None, login.clone())
        .await
        .expect(401);
    b.post("/api/users/login", None, login.clone())
        .await
        .expect(401);
    // The burst of two is spent, whichever instance is asked next.
    for app in [&a, &b] {
        let r = app
            .post("/api/users/login", None, login.clone())
            .await
            .expect(429);
        let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
    }
}

/// Polls until `path` on `app` is served from the cache again.
async fn wait_until_cached(app: &TestApp, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        app.get(path, None).await.expect(200);
        let before = app.pool.metrics().statements();
        app.get(path, None).await.expect(200);
        if app.pool.metrics().statements() == before {
            return;
        }
        assert!(Instant::now() < deadline, "the cache did not come back");
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
}

fn metric(text: &str, line_start: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no metric {line_start}"))
}

#[actix_rt::test]
async fn a_redis_outage_degrades_to_the_database_and_recovers() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let settings = [
        ("REDIS_TIMEOUT_MS", "200"),
        ("REDIS_RETRY_MS", "300"),
        ("RATE_LIMIT", "on"),
        ("RATE_LIMIT_PER_MINUTE", "1"),
        ("RATE_LIMIT_BURST", "1"),
    ];
    let CachedPair { a, b, token, path } = cached_pair(&redis, &settings, "Outage").await;
    let health = a.get("/health", None).await.expect(200);
    assert_eq!(health.body["checks"]["redis"], "ok");

    redis.stop();
    // Reads are answered, from the database.
    let started = Instant::now();
    let r = a.get(&path, None).await.expect(200);
    assert_eq!(r.body["article"]["body"], "the body");
    assert!(started.elapsed() < Duration::from_secs(2));
    let before = a.pool.metrics().statements();
    a.get(&path, None).await.expect(200);
    assert!(a.pool.metrics().statements() > before, "cache bypassed");
    // Writes succeed, and every instance reads them.
    b.put(&path, Some(&token), json!({"article": {"body": "during"}}))
        .await
        .expect(200);
    assert_eq!(a.get(&path, None).await.body["article"]["body"], "during");
    // Health stays 200 and says so.
    let health = a.get("/health", None).await.expect(200);
    assert_eq!(health.body["status"], "degraded");
    assert_eq!(health.body["checks"]["redis"], "degraded");
    assert_eq!(health.body["checks"]["database"], "ok");
    // Limits fall back to each instance's own budget.
    let login = json!({"user": {"email": "x@example.com", "password": "whatever1"}});
    a.post("/api/users/login", None, login.clone())
        .await
        .expect(401);
    a.post("/api/users/login", None, login.clone())
        .await
        .expect(429);
    b.post("/api/users/login", None, login.clone())
        .await
        .expect(401);
    let text = a.metrics().await;
    assert!(metric(&text, "conduit_cache_requests_total{result=\"bypass\"}") >= 1.0);
    assert!(text.contains("conduit_redis_errors_total{operation="));
    assert_eq!(metric(&text, "conduit_redis_up"), 0.0);

    redis.start_again();
    wait_until_cached(&a, &path).await;
    assert_eq!(metric(&a.metrics().await, "conduit_redis_up"), 1.0);
    let health = a.get("/health", None).await.expect(200);
    assert_eq!(health.body["status"], "ok");
    // Coherent again: a write through B is read through A's cache.
    b.put(&path, Some(&token), json!({"article": {"body": "after"}}))
        .await
        .expect(200);
    assert_eq!(a.get(&path, None).await.body["article"]["body"], "after");
}

#[actix_rt::test]
async fn a_restarted_redis_never_revives_an_old_cached_copy() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let settings = [("REDIS_TIMEOUT_MS", "200"), ("REDIS_RETRY_MS", "100")];
    let CachedPair { a, b, token, path } = cached_pair(&redis, &settings, "Restart").await;
    // Redis restarts empty while A is idle; then B writes.
    redis.stop();
    redis.start_again();
    b.put(&path, Some(&token), json!({"article": {"body": "new"}}))
        .await
        .expect(200);
    assert_eq!(a.get(&path, None).await.body["article"]["body"], "new");
}

#[actix_rt::test]
async fn an_unreachable_redis_at_start_up_leaves_the_instance_serving() {
    // Nothing listens on port 1.
    let a = spawn_app_with(&[
        ("REDIS_URL", "redis://127.0.0.1:1"),
        ("REDIS_TIMEOUT_MS", "200"),
    ])
    .await;
    let token = a.register("jake").await;
    let slug = a.create_article_slug(&token, "No Redis", &[]).await;
    a.get(&article(&slug), None).await.expect(200);
    a.get(&article(&slug), Some(&token)).await.expect(200);
    let health = a.get("/health", None).await.expect(200);
    assert_eq!(health.body["checks"]["redis"], "degraded");
}

/// Two instances each batching creates by the same authors at once (their
/// batches overlap on the authors' rows and the tag shards): every create
/// lands once and every total stays exact.
#[actix_rt::test]
async fn creates_batched_on_two_instances_at_once_all_land_and_count() {
    let a = spawn_app().await;
    let b = spawn_replica(&a, &[]);
    let tokens = [a.register("jake").await, a.register("jane").await];
    let creates = (0..32).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        app.post(
            "/api/articles",
            Some(&tokens[i / 2 % 2]),
            json!({"article": {"title": format!("Both {i}"), "description": "d", "body": "b", "tagList": ["x", "y"]}}),
        )
    });
    for r in futures_util::future::join_all(creates).await {
        r.expect(201);
    }
    for (query, count) in [("", 32), ("?author=jake", 16), ("?tag=y", 32)] {
        let r = b
            .get(&format!("/api/articles{query}"), None)
            .await
            .expect(200);
        assert_eq!(r.body["articlesCount"], count, "{query}");
    }
    assert_consistent(&a, "creates on two instances").await;
}
