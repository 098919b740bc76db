//! Operations: health, metrics, request ids, compression, HTTP caching, CORS
//! and rate limiting.

use serde_json::json;

use crate::helpers::*;

#[actix_rt::test]
async fn health_reports_the_database_and_liveness_never_touches_it() {
    let app = spawn_app().await;
    let r = app.get("/health", None).await.expect(200);
    assert_eq!(r.body["status"], "ok");
    assert_eq!(r.body["checks"]["database"], "ok");
    let r = app.get("/health/live", None).await.expect(200);
    assert_eq!(r.body["status"], "ok");
}

#[actix_rt::test]
async fn health_is_503_when_the_database_is_unreachable() {
    // Nothing listens on port 1; the server still starts and reports it.
    let app = spawn_app_with(&[
        (
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=1",
        ),
        ("RUN_MIGRATIONS", "false"),
        ("DATABASE_POOL_MIN_IDLE", "0"),
        ("DATABASE_POOL_TIMEOUT_MS", "300"),
        ("HEALTH_DB_TIMEOUT_MS", "300"),
    ])
    .await;
    let r = app.get("/health", None).await.expect(503);
    assert_eq!(r.body["status"], "unavailable");
    assert_eq!(r.body["checks"]["database"], "unreachable");
    app.get("/health/live", None).await.expect(200);
    // API calls shed with a JSON 503 instead of hanging.
    let started = std::time::Instant::now();
    let r = app.get("/api/tags", None).await.expect(503);
    assert!(r.body["errors"].is_object());
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
}

fn metric_lines<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(name)).collect()
}

#[actix_rt::test]
async fn metrics_are_labelled_by_route_pattern() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    let slug = app.create_article_slug(&token, "Metric me", &[]).await;
    app.get(&format!("/api/articles/{slug}"), None)
        .await
        .expect(200);
    app.get("/api/no/such/route/abc123", None).await.expect(404);
    app.get("/health", None).await.expect(200);
    let text = app.metrics().await;
    let requests = metric_lines(&text, "conduit_http_requests_total");
    assert!(
        requests
            .iter()
            .any(|l| l.contains(r#"endpoint="/api/articles/{slug}""#)
                && l.contains(r#"method="GET""#)
                && l.contains(r#"status="200""#)),
        "{requests:#?}"
    );
    assert!(!text.contains(&slug), "raw paths never become labels");
    assert!(!text.contains("abc123"));
    assert!(requests
        .iter()
        .any(|l| l.contains(r#"endpoint="UNMATCHED""#)));
    assert!(!requests
        .iter()
        .any(|l| l.contains("/health") || l.contains("/metrics")));
    assert!(text.contains("conduit_http_requests_duration_seconds_bucket"));
    assert!(text.contains(r#"le="0.0001""#) && text.contains(r#"le="10""#));
    for name in [
        "conduit_db_pool_connections",
        "conduit_db_pool_idle_connections",
        "conduit_db_pool_max_connections 4",
        "conduit_db_pool_waiting",
        "conduit_db_pool_checkout_wait_seconds_bucket",
        "conduit_db_pool_timeouts_total",
        "conduit_db_query_duration_seconds_bucket",
        "conduit_db_statements_total",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
    ] {
        assert!(text.contains(name), "missing {name}");
    }
}

#[actix_rt::test]
async fn metrics_can_move_to_a_separate_listener() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let app = spawn_app_with(&[("METRICS_ADDR", &addr)]).await;
    app.get("/metrics", None).await.expect(404);
    let mut res = app
        .client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.body().await.unwrap();
    assert!(String::from_utf8_lossy(&body).contains("conduit_db_statements_total"));
}

#[actix_rt::test]
async fn request_ids_are_kept_when_sane_and_generated_otherwise() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/api/tags"))
        .insert_header(("x-request-id", "abc-123"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers().get("x-request-id").unwrap(), "abc-123");
    let res = app
        .client
        .get(app.url("/api/tags"))
        .insert_header(("x-request-id", "bad id with spaces"))
        .send()
        .await
        .unwrap();
    let id = res
        .headers()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(id, "bad id with spaces");
    assert_eq!(id.len(), 32);
    let a = app
        .get("/api/tags", None)
        .await
        .header("x-request-id")
        .unwrap();
    let b = app
        .get("/api/tags", None)
        .await
        .header("x-request-id")
        .unwrap();
    assert_ne!(a, b);
    // Errors carry it too.
    let r = app.get("/api/nope", None).await;
    assert!(r.header("x-request-id").is_some());
}

async fn list_with_encoding(app: &TestApp, encoding: &str) -> awc::http::header::HeaderMap {
    let res = app
        .client
        .get(app.url("/api/articles"))
        .insert_header(("accept-encoding", encoding))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.headers().clone()
}

#[actix_rt::test]
async fn large_json_is_compressed_as_negotiated_and_small_json_is_not() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    // Small: an empty list is below the threshold.
    let h = list_with_encoding(&app, "gzip").await;
    assert!(h.get("content-encoding").is_none());
    for i in 0..10 {
        app.create_article(
            &token,
            &format!("A fairly long title number {i}"),
            &["compression"],
        )
        .await;
    }
    let h = list_with_encoding(&app, "gzip").await;
    assert_eq!(h.get("content-encoding").unwrap(), "gzip");
    let vary = h.get("vary").unwrap().to_str().unwrap().to_lowercase();
    assert!(
        vary.contains("accept-encoding") && vary.contains("authorization"),
        "{vary}"
    );
    assert!(h.get("content-length").is_some(), "sent whole, not chunked");
    // The compressed body is the same document.
    let res = app
        .client
        .get(app.url("/api/articles"))
        .insert_header(("accept-encoding", "gzip"))
        .send()
        .await
        .unwrap();
    let gz = read(res).await.raw;
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut plain).unwrap();
    let identity = app.get("/api/articles", None).await.expect(200);
    assert_eq!(plain, identity.raw);
    let h = list_with_encoding(&app, "gzip, br").await;
    assert_eq!(h.get("content-encoding").unwrap(), "br");
    let h = list_with_encoding(&app, "identity").await;
    assert!(h.get("content-encoding").is_none());
    let h = list_with_encoding(&app, "zstd").await;
    assert!(
        h.get("content-encoding").is_none(),
        "unsupported codings fall back to identity"
    );
}

#[actix_rt::test]
async fn etags_answer_304_and_no_cache_may_reuse_a_response_without_asking() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    app.create_article(&token, "Cached", &[]).await;
    let r = app.get("/api/articles", None).await.expect(200);
    let etag = r.header("etag").expect("etag");
    // Browsers and proxies must revalidate: a reused copy would show a user
    // data older than their own write.
    assert_eq!(r.header("cache-control").unwrap(), "no-cache");
    assert!(r
        .header("vary")
        .unwrap()
        .to_lowercase()
        .contains("authorization"));
    let r304 = app
        .revalidate("/api/articles", None, &etag)
        .await
        .expect(304);
    assert!(r304.raw.is_empty());
    assert_eq!(r304.header("etag").unwrap(), etag);
    // A write makes the old validator stale: revalidation returns the new list.
    app.create_article(&token, "Another", &[]).await;
    let fresh = app
        .revalidate("/api/articles", None, &etag)
        .await
        .expect(200);
    assert_eq!(fresh.body["articlesCount"], 2);
    assert_ne!(fresh.header("etag").unwrap(), etag);
    // Signed in: private, still revalidated, and keyed on the credentials.
    let r = app.get("/api/articles", Some(&token)).await.expect(200);
    assert_eq!(r.header("cache-control").unwrap(), "private, no-cache");
    assert!(r
        .header("vary")
        .unwrap()
        .to_lowercase()
        .contains("authorization"));
    // The user's own record carries their token: never stored anywhere.
    let r = app.get("/api/user", Some(&token)).await.expect(200);
    assert_eq!(r.header("cache-control").unwrap(), "no-store");
}

#[actix_rt::test]
async fn a_shared_cache_lifetime_is_opt_in_and_never_applies_to_browsers() {
    let app = spawn_app_with(&[("CACHE_SHARED_MAX_AGE_SECONDS", "30")]).await;
    let token = app.register("jake").await;
    let r = app.get("/api/tags", None).await.expect(200);
    assert_eq!(
        r.header("cache-control").unwrap(),
        "public, max-age=0, must-revalidate, s-maxage=30"
    );
    let r = app.get("/api/tags", Some(&token)).await.expect(200);
    assert_eq!(r.header("cache-control").unwrap(), "private, no-cache");
}

#[actix_rt::test]
async fn one_users_view_never_validates_for_another() {
    let app = spawn_app().await;
    let fan = app.register("fan").await;
    let writer = app.register("writer").await;
    let slug = app.create_article_slug(&writer, "Popular", &[]).await;
    app.follow(&fan, "writer").await;
    app.favorite(&fan, &slug).await;
    let anon = app
        .get(&format!("/api/articles/{slug}"), None)
        .await
        .expect(200);
    let anon_etag = anon.header("etag").unwrap();
    let mine = app
        .revalidate(&format!("/api/articles/{slug}"), Some(&fan), &anon_etag)
        .await
        .expect(200);
    assert_eq!(mine.body["article"]["favorited"], true);
    assert_eq!(mine.body["article"]["author"]["following"], true);
    assert_ne!(mine.header("etag").unwrap(), anon_etag);
    assert_eq!(mine.header("cache-control").unwrap(), "private, no-cache");
}

#[actix_rt::test]
async fn cors_preflight_is_answered_before_authentication() {
    let app = spawn_app_with(&[("CORS_ALLOWED_ORIGINS", "https://app.example.com")]).await;
    let res = app
        .client
        .request(awc::http::Method::OPTIONS, app.url("/api/user"))
        .insert_header(("origin", "https://app.example.com"))
        .insert_header(("access-control-request-method", "PUT"))
        .insert_header((
            "access-control-request-headers",
            "authorization, content-type",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers().get("access-control-allow-origin").unwrap(),
        "https://app.example.com"
    );
    let res = app
        .client
        .request(awc::http::Method::OPTIONS, app.url("/api/user"))
        .insert_header(("origin", "https://evil.example.com"))
        .insert_header(("access-control-request-method", "PUT"))
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
    let r = read(res).await;
    assert!(r.status.is_client_error());
    assert!(r.body["errors"].is_object(), "refusals are JSON too");
}

#[actix_rt::test]
async fn login_and_registration_are_rate_limited_per_client() {
    let app = spawn_app_with(&[
        ("RATE_LIMIT", "on"),
        ("RATE_LIMIT_PER_MINUTE", "1"),
        ("RATE_LIMIT_BURST", "2"),
    ])
    .await;
    let login = json!({"user": {"email": "x@example.com", "password": "whatever1"}});
    app.post("/api/users/login", None, login.clone())
        .await
        .expect(401);
    app.post("/api/users/login", None, login.clone())
        .await
        .expect(401);
    let r = app
        .post("/api/users/login", None, login.clone())
        .await
        .expect(429);
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    assert!(r.body["errors"].is_object());
    app.post(
        "/api/users",
        None,
        json!({"user": {"username": "a", "email": "a@example.com", "password": PASSWORD}}),
    )
    .await
    .expect(429);
    // Other endpoints are not limited.
    app.get("/api/tags", None).await.expect(200);
}

#[actix_rt::test]
async fn anonymous_reads_are_cached_until_the_next_write() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    let slug = app.create_article_slug(&token, "Cached once", &[]).await;
    let first = app.get("/api/articles", None).await.expect(200);
    let before = app.pool.metrics().statements();
    let second = app.get("/api/articles", None).await.expect(200);
    assert_eq!(
        app.pool.metrics().statements(),
        before,
        "served without the database"
    );
    assert_eq!(first.raw, second.raw);
    // A signed-in request is not answered from the anonymous entry.
    app.get("/api/articles", Some(&token)).await.expect(200);
    assert!(app.pool.metrics().statements() > before);
    // A write empties the cache: the next anonymous read sees it at once.
    app.favorite(&token, &slug).await;
    let after = app.get("/api/articles", None).await.expect(200);
    assert_eq!(after.body["articles"][0]["favoritesCount"], 1);
}

#[actix_rt::test]
async fn a_zero_lifetime_turns_the_response_cache_off() {
    let app = spawn_app_with(&[("CACHE_MAX_AGE_SECONDS", "0")]).await;
    app.get("/api/tags", None).await.expect(200);
    let before = app.pool.metrics().statements();
    app.get("/api/tags", None).await.expect(200);
    assert!(app.pool.metrics().statements() > before);
}

#[actix_rt::test]
async fn signed_in_reads_are_cached_per_user_until_the_next_write() {
    let app = spawn_app().await;
    let author = app.register("jake").await;
    let reader = app.register("jane").await;
    let slug = app.create_article_slug(&author, "Seen by two", &[]).await;
    let path = format!("/api/articles/{slug}");
    app.favorite(&reader, &slug).await;

    let mine = app.get(&path, Some(&reader)).await.expect(200);
    assert_eq!(mine.body["article"]["favorited"], true);
    let before = app.pool.metrics().statements();
    let again = app.get(&path, Some(&reader)).await.expect(200);
    assert_eq!(
        app.pool.metrics().statements(),
        before,
        "the same user's repeat is served without the database"
    );
    assert_eq!(mine.raw, again.raw);

    // Another user's request never gets that entry.
    let theirs = app.get(&path, Some(&author)).await.expect(200);
    assert_eq!(theirs.body["article"]["favorited"], false);
    assert!(app.pool.metrics().statements() > before);

    // An invalid token bypasses the cache and is refused.
    app.get(&path, Some("not-a-token")).await.expect(401);

    // The user's own write is visible at once.
    app.delete(&format!("{path}/favorite"), Some(&reader))
        .await
        .expect(200);
    let after = app.get(&path, Some(&reader)).await.expect(200);
    assert_eq!(after.body["article"]["favorited"], false);
}

#[actix_rt::test]
async fn signed_in_cache_can_be_turned_off_on_its_own() {
    let app = spawn_app_with(&[("CACHE_SIGNED_IN_MS", "0")]).await;
    let token = app.register("jake").await;
    app.get("/api/profiles/jake", Some(&token))
        .await
        .expect(200);
    let before = app.pool.metrics().statements();
    app.get("/api/profiles/jake", Some(&token))
        .await
        .expect(200);
    assert!(app.pool.metrics().statements() > before);
    // Anonymous requests are still cached.
    app.get("/api/profiles/jake", None).await.expect(200);
    let before = app.pool.metrics().statements();
    app.get("/api/profiles/jake", None).await.expect(200);
    assert_eq!(app.pool.metrics().statements(), before);
}
