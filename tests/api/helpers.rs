//! Test harness: a fresh database per test, the server on port 0, and typed
//! request helpers (`register`, `create_article`, ...).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use awc::http::StatusCode;
use conduit::config::Config;
use conduit::db::Pool;
use conduit::startup::Application;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use serde_json::{json, Value};

pub const PASSWORD: &str = "correct horse battery";

/// A database that exists for one test and is removed afterwards.
pub enum TestDb {
    /// A private directory holding the database file: removing the whole
    /// directory also stops a lingering pool thread from re-creating the file.
    Sqlite { dir: std::path::PathBuf },
    Postgres {
        admin_url: String,
        name: String,
        url: String,
    },
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique_name() -> String {
    format!(
        "conduit_test_{}_{}_{:08x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        fastrand::u32(..)
    )
}

/// Replaces the database name in a PostgreSQL URL, keeping the query string.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let prefix = match base.rfind('/') {
        Some(i) if base[..i].contains("://") && i > base.find("://").unwrap() + 2 => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{prefix}/{name}?{q}"),
        None => format!("{prefix}/{name}"),
    }
}

impl TestDb {
    pub fn new() -> Self {
        match std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            Some(admin_url) => {
                let name = unique_name();
                let mut admin = PgConnection::establish(&admin_url)
                    .unwrap_or_else(|e| panic!("TEST_DATABASE_URL is not reachable: {e}"));
                admin
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .expect("create test database");
                let url = with_database(&admin_url, &name);
                TestDb::Postgres {
                    admin_url,
                    name,
                    url,
                }
            }
            None => {
                let dir = std::env::temp_dir().join(unique_name());
                std::fs::create_dir_all(&dir).expect("create test directory");
                TestDb::Sqlite { dir }
            }
        }
    }

    pub fn url(&self) -> String {
        match self {
            TestDb::Sqlite { dir } => dir.join("conduit.db").display().to_string(),
            TestDb::Postgres { url, .. } => url.clone(),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match self {
            TestDb::Sqlite { dir } => {
                let _ = std::fs::remove_dir_all(dir);
            }
            TestDb::Postgres {
                admin_url, name, ..
            } => {
                if let Ok(mut admin) = PgConnection::establish(admin_url) {
                    let _ = admin
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                }
            }
        }
    }
}

/// Settings every test server gets; a test can override any of them.
pub fn base_settings(db_url: &str) -> HashMap<&'static str, String> {
    HashMap::from([
        ("DATABASE_URL", db_url.to_owned()),
        ("PORT", "0".into()),
        ("WORKERS", "1".into()),
        ("DATABASE_POOL_MAX_SIZE", "4".into()),
        ("DATABASE_POOL_MIN_IDLE", "1".into()),
        ("JWT_SECRET", "test-secret-test-secret-test-secret!".into()),
        ("RATE_LIMIT", "off".into()),
        ("SHUTDOWN_TIMEOUT_SECONDS", "1".into()),
    ])
}

pub struct TestApp {
    pub base: String,
    pub client: awc::Client,
    pub pool: Pool,
    /// Shared by the replicas of a test; dropped after the last server stops
    /// (fields drop in declaration order).
    db: Arc<TestDb>,
    handle: actix_web::dev::ServerHandle,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Starts a server with `overrides` on top of `base_settings`.
pub async fn spawn_app_with(overrides: &[(&'static str, &str)]) -> TestApp {
    start_server(Arc::new(TestDb::new()), overrides)
}

/// Another instance on the same database as `app` (as behind a balancer).
pub fn spawn_replica(app: &TestApp, overrides: &[(&'static str, &str)]) -> TestApp {
    start_server(app.db.clone(), overrides)
}

/// A server whose database connections go through `127.0.0.1:port` (a
/// fault proxy in front of PostgreSQL); `None` on SQLite.
pub fn spawn_app_via(port: u16, overrides: &[(&'static str, &str)]) -> Option<TestApp> {
    let db = Arc::new(TestDb::new());
    let TestDb::Postgres { url, .. } = &*db else {
        return None;
    };
    let (scheme_user, rest) = url.split_once('@')?;
    let (_, path) = rest.split_once('/')?;
    let rerouted = format!("{scheme_user}@127.0.0.1:{port}/{path}");
    Some(start_server_at(db, &rerouted, overrides))
}

/// The PostgreSQL server of `TEST_DATABASE_URL`, if set.
pub fn postgres_address() -> Option<std::net::SocketAddr> {
    let url = std::env::var("TEST_DATABASE_URL").ok()?;
    let rest = url.split_once('@')?.1;
    let host_port = rest.split(['/', '?']).next()?;
    let host_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    };
    std::net::ToSocketAddrs::to_socket_addrs(&host_port)
        .ok()?
        .next()
}

fn start_server(db: Arc<TestDb>, overrides: &[(&'static str, &str)]) -> TestApp {
    let url = db.url();
    start_server_at(db, &url, overrides)
}

fn start_server_at(db: Arc<TestDb>, url: &str, overrides: &[(&'static str, &str)]) -> TestApp {
    let mut settings = base_settings(url);
    for (k, v) in overrides {
        settings.insert(k, (*v).to_owned());
    }
    let config = Config::from_lookup(|name| settings.get(name).cloned()).expect("test config");
    let app = Application::build(config).expect("server starts");
    let base = format!("http://127.0.0.1:{}", app.port());
    let pool = app.pool().clone();
    let handle = app.handle();
    actix_rt::spawn(app.run_until_stopped());
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(20))
        .disable_redirects()
        .finish();
    TestApp {
        base,
        client,
        pool,
        db,
        handle,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop the server before its database is dropped.
        let stop = self.handle.stop(false);
        drop(stop);
    }
}

/// A response read completely: status, headers and JSON body (Null if none).
pub struct Reply {
    pub status: StatusCode,
    pub headers: awc::http::header::HeaderMap,
    pub body: Value,
    pub raw: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// Asserts the status, printing the body on failure.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        self
    }

    /// The error messages for `field` in an `{"errors": {...}}` body.
    pub fn errors_for(&self, field: &str) -> Vec<String> {
        self.body["errors"][field]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub async fn read(
    mut res: awc::ClientResponse<
        impl futures_core::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>>
            + Unpin,
    >,
) -> Reply {
    let status = res.status();
    let headers = res.headers().clone();
    let raw = res
        .body()
        .limit(10 * 1024 * 1024)
        .await
        .expect("read body")
        .to_vec();
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        raw,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends `method path` with an optional token and JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.insert_header(("Authorization", format!("Token {t}")));
        }
        let res = match body {
            Some(b) => req.send_json(&b).await,
            None => req.send().await,
        }
        .expect("request sent");
        read(res).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call("GET", path, token, None).await
    }

    /// A conditional GET: `If-None-Match: etag`, with an optional token.
    pub async fn revalidate(&self, path: &str, token: Option<&str>, etag: &str) -> Reply {
        let mut req = self
            .client
            .get(self.url(path))
            .insert_header(("if-none-match", etag));
        if let Some(t) = token {
            req = req.insert_header(("Authorization", format!("Token {t}")));
        }
        read(req.send().await.expect("request sent")).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call("POST", path, token, Some(body)).await
    }

    pub async fn put(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call("PUT", path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.call("DELETE", path, token, None).await
    }

    /// Registers `name` (email `name@example.com`) and returns the token.
    pub async fn register(&self, name: &str) -> String {
        let reply = self
            .post(
                "/api/users",
                None,
                json!({"user": {"username": name, "email": format!("{name}@example.com"), "password": PASSWORD}}),
            )
            .await
            .expect(201);
        reply.body["user"]["token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    /// Creates an article and returns its JSON (`article` object).
    pub async fn create_article(&self, token: &str, title: &str, tags: &[&str]) -> Value {
        let reply = self
            .post(
                "/api/articles",
                Some(token),
                json!({"article": {"title": title, "description": "about it", "body": "the body", "tagList": tags}}),
            )
            .await
            .expect(201);
        reply.body["article"].clone()
    }

    pub async fn create_article_slug(&self, token: &str, title: &str, tags: &[&str]) -> String {
        self.create_article(token, title, tags).await["slug"]
            .as_str()
            .expect("slug")
            .to_owned()
    }

    pub async fn follow(&self, token: &str, username: &str) {
        self.post(
            &format!("/api/profiles/{username}/follow"),
            Some(token),
            json!({}),
        )
        .await
        .expect(200);
    }

    pub async fn favorite(&self, token: &str, slug: &str) -> Value {
        self.post(
            &format!("/api/articles/{slug}/favorite"),
            Some(token),
            json!({}),
        )
        .await
        .expect(200)
        .body["article"]
            .clone()
    }

    /// GETs `path` twice and asserts that the second answer came from the
    /// response cache (no SQL statement); returns it.
    pub async fn get_cached(&self, path: &str, token: Option<&str>) -> Reply {
        self.get(path, token).await.expect(200);
        let before = self.pool.metrics().statements();
        let reply = self.get(path, token).await.expect(200);
        assert_eq!(
            self.pool.metrics().statements(),
            before,
            "{path} was not served from the cache"
        );
        reply
    }

    /// Changes the user's password; returns the new token the answer carries.
    pub async fn change_password(&self, token: &str, password: &str) -> String {
        self.put(
            "/api/user",
            Some(token),
            json!({"user": {"password": password}}),
        )
        .await
        .expect(200)
        .body["user"]["token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    /// `/metrics` as text.
    pub async fn metrics(&self) -> String {
        let reply = self.get("/metrics", None).await.expect(200);
        String::from_utf8(reply.raw).expect("utf-8 metrics")
    }

    /// The value of one sample of `/metrics`, named with its labels as
    /// exported (`conduit_db_batch_size_sum{kind="tags"}`).
    pub async fn metric(&self, sample: &str) -> f64 {
        let metrics = self.metrics().await;
        let prefix = format!("{sample} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("no {sample} in /metrics:\n{metrics}"))
            .trim()
            .parse()
            .expect("a number")
    }
}

/// Slugs of an article list response, in order.
/// Every maintained counter and stored tag list agrees with the rows it
/// summarises (`counters::verify`).
pub async fn assert_consistent(app: &TestApp, after: &str) {
    let wrong = app
        .pool
        .read(|conn| Ok(conduit::db::counters::verify(conn)?))
        .await
        .expect("verify runs");
    assert!(wrong.is_empty(), "after {after}: {wrong:?}");
}

pub fn slugs(list: &Value) -> Vec<String> {
    list["articles"]
        .as_array()
        .expect("articles array")
        .iter()
        .map(|a| a["slug"].as_str().expect("slug").to_owned())
        .collect()
}

#[test]
fn database_name_is_replaced_in_urls() {
    assert_eq!(
        with_database("postgres://u@h:5432/postgres?sslmode=disable", "x"),
        "postgres://u@h:5432/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://u@h/db", "x"), "postgres://u@h/x");
}
