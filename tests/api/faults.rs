//! Database faults, injected by a TCP proxy between the server and
//! PostgreSQL: requests get a JSON 503 within the configured timeouts and
//! never hang, `/health` says so, and once the database is back no request
//! fails — not even on pooled connections that died in the outage. These run
//! on PostgreSQL (there is no network between the server and SQLite).

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::json;

use crate::fault_proxy::FaultProxy;
use crate::helpers::*;

/// Every read reaches the database; four connections kept open.
const SETTINGS: &[(&str, &str)] = &[
    ("CACHE_MAX_AGE_SECONDS", "0"),
    ("CACHE_SIGNED_IN_MS", "0"),
    ("DATABASE_POOL_MAX_SIZE", "4"),
    ("DATABASE_POOL_MIN_IDLE", "4"),
    ("DATABASE_POOL_TIMEOUT_MS", "500"),
    ("DATABASE_STATEMENT_TIMEOUT_MS", "1000"),
    ("HEALTH_DB_TIMEOUT_MS", "300"),
    ("WORKERS", "2"),
];

/// An app behind a fresh proxy, with a user and an article; `None` on SQLite.
async fn app_behind_proxy() -> Option<(FaultProxy, TestApp, String, String)> {
    let Some(upstream) = postgres_address() else {
        eprintln!("skipped: needs TEST_DATABASE_URL (PostgreSQL)");
        return None;
    };
    let proxy = FaultProxy::start(upstream);
    let app = spawn_app_via(proxy.port(), SETTINGS)?;
    let token = app.register("jake").await;
    let slug = app.create_article_slug(&token, "Resilient", &["t"]).await;
    // Open every pooled connection.
    assert_all_ok(&app, &token, &slug, 16).await;
    Some((proxy, app, token, slug))
}

/// `n` concurrent reads, logins and writes: every one must succeed.
async fn assert_all_ok(app: &TestApp, token: &str, slug: &str, n: usize) {
    let login = json!({"user": {"email": "jake@example.com", "password": PASSWORD}});
    let reads = (0..n).map(|i| async move {
        match i % 4 {
            0 => app.get("/api/articles", None).await,
            1 => app.get(&format!("/api/articles/{slug}"), Some(token)).await,
            2 => app.get("/api/tags", None).await,
            _ => app.get("/api/profiles/jake", Some(token)).await,
        }
    });
    let logins = (0..n / 4).map(|_| app.post("/api/users/login", None, login.clone()));
    let writes = (0..n / 8).map(|i| async move {
        app.post(
            &format!("/api/articles/{slug}/comments"),
            Some(token),
            json!({"comment": {"body": format!("c{i}")}}),
        )
        .await
    });
    let mut statuses: Vec<u16> = join_all(reads)
        .await
        .iter()
        .map(|r| r.status.as_u16())
        .collect();
    statuses.extend(join_all(logins).await.iter().map(|r| r.status.as_u16()));
    statuses.extend(join_all(writes).await.iter().map(|r| r.status.as_u16()));
    assert!(
        statuses.iter().all(|s| *s == 200),
        "failed after recovery: {statuses:?}"
    );
}

#[actix_rt::test]
async fn a_cut_database_gives_fast_json_503s_and_after_it_no_request_fails() {
    let Some((proxy, app, token, slug)) = app_behind_proxy().await else {
        return;
    };
    proxy.cut();
    let started = Instant::now();
    let r = app.get("/api/articles", None).await.expect(503);
    assert!(r.body["errors"].is_object());
    let r = app
        .post(
            "/api/articles",
            Some(&token),
            json!({"article": {"title": "During", "description": "d", "body": "b"}}),
        )
        .await
        .expect(503);
    assert!(r.body["errors"].is_object());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let health = app.get("/health", None).await.expect(503);
    assert_eq!(health.body["checks"]["database"], "unreachable");
    app.get("/health/live", None).await.expect(200);

    proxy.restore();
    assert_all_ok(&app, &token, &slug, 64).await;
    app.get("/health", None).await.expect(200);
}

#[actix_rt::test]
async fn connections_that_died_while_idle_fail_no_request() {
    let Some((proxy, app, token, slug)) = app_behind_proxy().await else {
        return;
    };
    // Every pooled connection dies, and nothing notices before the next
    // requests arrive.
    proxy.cut();
    proxy.restore();
    assert_all_ok(&app, &token, &slug, 32).await;
    let evicted = app
        .metrics()
        .await
        .lines()
        .find(|l| l.starts_with("conduit_db_pool_evicted_total"))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .unwrap();
    assert!(
        evicted >= 1.0,
        "dead idle connections were replaced: {evicted}"
    );
}

#[actix_rt::test]
async fn a_black_holed_database_gives_503s_within_the_timeouts_then_recovers() {
    let Some((proxy, app, token, slug)) = app_behind_proxy().await else {
        return;
    };
    proxy.black_hole();
    // Acquire (0.5 s) + statement (1 s) + 1 s: the longest a request waits.
    let started = Instant::now();
    let outcomes = join_all((0..6).map(|_| app.get("/api/articles", None))).await;
    for r in &outcomes {
        assert_eq!(r.status.as_u16(), 503, "{}", r.body);
        assert!(r.body["errors"].is_object());
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let started = Instant::now();
    app.get("/health", None).await.expect(503);
    assert!(started.elapsed() < Duration::from_secs(2));

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(15);
    while app.get("/api/tags", None).await.status != 200 {
        assert!(Instant::now() < deadline, "did not recover");
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_all_ok(&app, &token, &slug, 32).await;
}

#[actix_rt::test]
async fn added_latency_slows_requests_but_fails_none() {
    let Some((proxy, app, token, slug)) = app_behind_proxy().await else {
        return;
    };
    proxy.latency(Duration::from_millis(20));
    assert_all_ok(&app, &token, &slug, 16).await;
    proxy.restore();
}
