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
