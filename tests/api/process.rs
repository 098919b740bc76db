//! Tests of the real binary: configuration refusal, JSON log lines, and
//! graceful shutdown on SIGTERM finishing an in-flight request.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{base_settings, TestDb};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn server(db: &TestDb, port: u16, extra: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_conduit"));
    cmd.env_clear();
    for (k, v) in base_settings(&db.url()) {
        cmd.env(k, v);
    }
    cmd.env("PORT", port.to_string());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    cmd
}

fn wait_until_listening(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("server exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("server did not start listening");
}

fn http_get(port: u16, path: &str, headers: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{headers}\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn production_mode_refuses_to_start_without_a_strong_secret() {
    let db = TestDb::new();
    for secret in [
        None,
        Some("short"),
        Some(conduit::config::EXAMPLE_JWT_SECRET),
    ] {
        let mut cmd = server(&db, free_port(), &[("APP_ENV", "production")]);
        cmd.env_remove("JWT_SECRET");
        if let Some(s) = secret {
            cmd.env("JWT_SECRET", s);
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success(), "started with secret {secret:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("JWT_SECRET"), "{stderr}");
    }
}

#[test]
fn json_logs_carry_request_fields_and_no_secrets() {
    let db = TestDb::new();
    let port = free_port();
    let mut child = server(&db, port, &[("LOG_FORMAT", "json"), ("RUST_LOG", "info")])
        .spawn()
        .unwrap();
    wait_until_listening(port, &mut child);
    let response = http_get(
        port,
        "/api/articles/missing",
        "Authorization: Token not-a-real-token\r\nX-Request-Id: trace-42\r\n",
    );
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    sigterm(&child);
    let status = child.wait().unwrap();
    assert!(status.success());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let access = lines
        .iter()
        .find(|l| l["request_id"] == "trace-42" && l["target"] == "conduit::access")
        .unwrap_or_else(|| panic!("no access line in {stderr}"));
    assert_eq!(access["method"], "GET");
    assert_eq!(access["route"], "/api/articles/{slug}");
    assert_eq!(access["status"], 401);
    assert!(access["latency_ms"].is_number());
    assert!(access["bytes"].is_number());
    for key in ["timestamp", "level", "message"] {
        assert!(access.get(key).is_some(), "missing {key}");
    }
    assert!(
        !stderr.contains("not-a-real-token"),
        "tokens never reach the logs"
    );
    assert!(
        !stderr.contains("test-secret-test-secret"),
        "secrets never reach the logs"
    );
}

#[test]
fn sigterm_drains_finishes_in_flight_requests_and_exits_zero() {
    let db = TestDb::new();
    let port = free_port();
    let mut child = server(
        &db,
        port,
        &[
            ("SHUTDOWN_DRAIN_SECONDS", "1"),
            ("SHUTDOWN_TIMEOUT_SECONDS", "10"),
        ],
    )
    .spawn()
    .unwrap();
    wait_until_listening(port, &mut child);
    // A registration whose body has not fully arrived: in flight.
    let body =
        r#"{"user":{"username":"late","email":"late@example.com","password":"a long password"}}"#;
    let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        slow,
        "POST /api/users HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        &body[..10]
    )
    .unwrap();
    slow.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    sigterm(&child);
    std::thread::sleep(Duration::from_millis(300));
    // Draining: readiness turns 503 while the listener still answers.
    let health = http_get(port, "/health", "");
    assert!(health.starts_with("HTTP/1.1 503"), "{health}");
    assert!(health.contains("draining"));
    slow.write_all(&body.as_bytes()[10..]).unwrap();
    let mut reader = BufReader::new(slow);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    assert!(status_line.starts_with("HTTP/1.1 201"), "{status_line}");
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "server did not exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
}

/// One HTTP/1.1 exchange on a fresh connection: `None` if the server is gone.
fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let auth = token.map_or(String::new(), |t| format!("Authorization: Token {t}\r\n"));
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let out = String::from_utf8_lossy(&raw).into_owned();
    let status = out.get(9..12)?.parse().ok()?;
    let body = out.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

#[test]
fn every_acknowledged_write_survives_sigkill() {
    let db = TestDb::new();
    let port = free_port();
    // Nobody reads the logs here: a full pipe would stall the server.
    let quiet = [("RUST_LOG", "warn")];
    let mut child = server(&db, port, &quiet).spawn().unwrap();
    wait_until_listening(port, &mut child);
    let (status, body) = http(
        port,
        "POST",
        "/api/users",
        None,
        r#"{"user":{"username":"writer","email":"w@example.com","password":"a long password"}}"#,
    )
    .unwrap();
    assert_eq!(status, 201, "{body}");
    let token: String = serde_json::from_str::<serde_json::Value>(&body).unwrap()["user"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let writers: Vec<_> = (0..6)
        .map(|w| {
            let token = token.clone();
            std::thread::spawn(move || {
                let mut acknowledged = Vec::new();
                for i in 0.. {
                    let body = format!(
                        r#"{{"article":{{"title":"w{w} n{i}","description":"d","body":"b","tagList":["t{}"]}}}}"#,
                        i % 3
                    );
                    match http(port, "POST", "/api/articles", Some(&token), &body) {
                        Some((201, body)) => {
                            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                            acknowledged.push(v["article"]["slug"].as_str().unwrap_or_else(|| panic!("{body}")).to_owned());
                        }
                        Some((status, body)) => panic!("unexpected {status}: {body}"),
                        None => return acknowledged,
                    }
                }
                acknowledged
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let killed = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let _ = child.wait();
    let acknowledged: Vec<String> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    assert!(
        acknowledged.len() >= 10,
        "too few writes to mean anything: {}",
        acknowledged.len()
    );

    let port = free_port();
    let mut child = server(&db, port, &quiet).spawn().unwrap();
    wait_until_listening(port, &mut child);
    for slug in &acknowledged {
        let (status, _) = http(port, "GET", &format!("/api/articles/{slug}"), None, "")
            .unwrap_or_else(|| panic!("no answer for {slug}"));
        assert_eq!(status, 200, "acknowledged write {slug} was lost");
    }
    // The counters agree with what survived (no half-applied create).
    let (_, body) = http(port, "GET", "/api/articles?limit=1", None, "").unwrap();
    let total = serde_json::from_str::<serde_json::Value>(&body).unwrap()["articlesCount"]
        .as_u64()
        .unwrap();
    assert!(total as usize >= acknowledged.len());
    sigterm(&child);
    assert!(child.wait().unwrap().success());
}

#[test]
fn migrate_needs_only_the_database_and_healthcheck_honours_the_port() {
    let db = TestDb::new();
    let mut migrate = server(&db, free_port(), &[("APP_ENV", "production")]);
    migrate.env_remove("JWT_SECRET").arg("migrate");
    let out = migrate.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let port = free_port();
    let mut child = server(
        &db,
        port,
        &[("RUN_MIGRATIONS", "false"), ("RUST_LOG", "warn")],
    )
    .spawn()
    .unwrap();
    wait_until_listening(port, &mut child);
    let probe = |port: u16| {
        Command::new(env!("CARGO_BIN_EXE_conduit"))
            .arg("healthcheck")
            .env_clear()
            .env("HOST", "0.0.0.0")
            .env("PORT", port.to_string())
            .output()
            .unwrap()
    };
    assert!(probe(port).status.success());
    let nobody = probe(free_port());
    assert!(!nobody.status.success());
    assert!(!nobody.stderr.is_empty(), "says why");
    sigterm(&child);
    assert!(child.wait().unwrap().success());
}

/// `RssAnon` of process `pid`, in KiB: the heap, stacks and other memory
/// of its own (not the mapped code).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn anonymous_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no RssAnon in {status}"))
}

/// Each connection holds actix-http's read and write buffers; when a burst
/// of connections closes they are free chunks below chunks still in use,
/// which glibc never gives back by itself. The server's heap trimmer does.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn memory_a_burst_of_connections_took_is_returned_after_they_close() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    // Descriptors for the client's end and (the server inherits the limit)
    // the server's, with room for everything else.
    let limit = getrlimit(Resource::Nofile);
    let wanted = limit.maximum.unwrap_or(u64::MAX).min(8192);
    let _ = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(wanted),
            maximum: limit.maximum,
        },
    );
    let connections = (getrlimit(Resource::Nofile)
        .current
        .unwrap_or(1024)
        .saturating_sub(200) as usize)
        .min(3000);
    let db = TestDb::new();
    let port = free_port();
    let mut child = server(&db, port, &[]).spawn().unwrap();
    wait_until_listening(port, &mut child);
    let before = anonymous_kib(child.id());

    let mut open = Vec::with_capacity(connections);
    for _ in 0..connections {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"GET /health/live HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        open.push(s);
    }
    for s in &mut open {
        let mut head = [0u8; 12];
        s.read_exact(&mut head).unwrap();
        assert_eq!(&head, b"HTTP/1.1 200");
    }
    let during = anonymous_kib(child.id());
    let grown = during.saturating_sub(before);
    // Without a real burst this test would prove nothing.
    assert!(
        grown >= 4 * 1024,
        "{connections} connections grew the heap by {grown} KiB only"
    );
    drop(open);

    // The trimmer looks every 5 s.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut after = anonymous_kib(child.id());
    while after > before + grown / 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        after = anonymous_kib(child.id());
    }
    sigterm(&child);
    assert!(child.wait().unwrap().success());
    assert!(
        after <= before + grown / 2,
        "anonymous memory {before} KiB, {during} KiB with {connections} connections, \
         still {after} KiB 20 s after they closed"
    );
}
