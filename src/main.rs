//! Entry point: configuration, logging, then serve (or `conduit migrate`).
// The one exception is `tune_allocator`, which must call into glibc.
#![deny(unsafe_code)]

use std::process::ExitCode;

use conduit::config::{Config, LogFormat};
use conduit::startup::{self, Application};
use conduit::telemetry::logging;

const USAGE: &str = "usage: conduit [serve|migrate]\n  serve    run the API server (default)\n  migrate  apply pending database migrations and exit";

/// glibc malloc settings that keep the resident set small and bounded:
/// - two arenas instead of eight per core: every thread that allocates may
///   otherwise get an arena of its own, each keeping freed memory;
/// - blocks of 1 MiB or more (argon2's 7 MiB working memory) always come from
///   `mmap` and go back to the system when freed. By default glibc raises
///   this threshold to the size of the largest block freed, after which such
///   blocks come from, and stay in, the heap.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn tune_allocator() {
    const MIB: libc::c_int = 1024 * 1024;
    for (param, value) in [
        (libc::M_ARENA_MAX, 2),
        (libc::M_MMAP_THRESHOLD, MIB),
        (libc::M_TRIM_THRESHOLD, 2 * MIB),
    ] {
        // SAFETY: mallopt only changes allocator parameters; it is called
        // before any other thread exists, and a rejected value (return 0)
        // leaves glibc's default in place.
        let _ = unsafe { libc::mallopt(param, value) };
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}

fn main() -> ExitCode {
    tune_allocator();
    serve()
}

#[actix_web::main]
async fn serve() -> ExitCode {
    let _ = dotenvy::dotenv();
    let log_format = match std::env::var("LOG_FORMAT").as_deref() {
        Ok("json") => LogFormat::Json,
        _ => LogFormat::Text,
    };
    logging::init(log_format);
    let command = std::env::args().nth(1).unwrap_or_else(|| "serve".into());
    if !matches!(command.as_str(), "serve" | "migrate") {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            log::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if command == "migrate" {
        return match startup::migrate(&config) {
            Ok(applied) => {
                log::info!("migrations applied: {applied:?}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                log::error!("{e}");
                ExitCode::FAILURE
            }
        };
    }
    let app = match Application::build(config) {
        Ok(app) => app,
        Err(e) => {
            log::error!("start-up failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("server error: {e}");
            ExitCode::FAILURE
        }
    }
}
