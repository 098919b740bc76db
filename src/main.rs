//! Entry point: configuration, logging, then serve (or `conduit migrate`).
// The one exception is `allocator`, which must call into glibc.
#![deny(unsafe_code)]

use std::process::ExitCode;

use conduit::config::{Config, DatabaseConfig, HttpConfig, TelemetryConfig};
use conduit::error::Chain;
use conduit::startup::{self, Application};
use conduit::telemetry::logging;

const USAGE: &str = "usage: conduit [serve|migrate|healthcheck]
  serve        run the API server (default)
  migrate      apply pending database migrations and exit (needs only DATABASE_URL)
  healthcheck  exit 0 if the server on HOST:PORT answers /health/live (for containers)";

/// glibc malloc: settings that keep the resident set small, and a thread
/// that gives free heap memory back after a burst of connections.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
mod allocator {
    use std::time::Duration;

    /// - two arenas instead of eight per core: every thread that allocates
    ///   may otherwise get an arena of its own, each keeping freed memory;
    /// - blocks of 1 MiB or more (argon2's 7 MiB working memory) always come
    ///   from `mmap` and go back to the system when freed. By default glibc
    ///   raises this threshold to the size of the largest block freed, after
    ///   which such blocks come from, and stay in, the heap.
    pub fn tune() {
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

    /// How often the heap's free memory is looked at.
    const TRIM_EVERY: Duration = Duration::from_secs(5);
    /// Growth of the free memory inside the heaps worth handing back (the
    /// free top of a heap is not counted: `M_TRIM_THRESHOLD` bounds it).
    const TRIM_ABOVE: usize = 4 * 1024 * 1024;

    /// Each open connection holds actix-http's 16 KiB of read and write
    /// buffers. When a burst of connections closes, their chunks are free but
    /// lie below chunks still in use, and glibc only ever shrinks a heap from
    /// its top: the resident set would stay at the burst's peak for the life
    /// of the process. Every `TRIM_EVERY`, if the free memory inside the
    /// heaps grew by more than `TRIM_ABOVE` since the last trim,
    /// `malloc_trim(0)` returns the pages of the free chunks to the system
    /// (the chunks stay usable; a page is faulted in again on use).
    ///
    /// Free chunks count as free whether or not their pages are resident, so
    /// the mark only rises with a trim, and falls whenever free memory is
    /// reused: a steady heap is left alone, a second burst is trimmed again.
    pub fn spawn_trimmer() {
        let spawned = std::thread::Builder::new()
            .name("heap-trim".into())
            .spawn(|| {
                let mut mark = free_inside_heaps();
                loop {
                    std::thread::sleep(TRIM_EVERY);
                    let free = free_inside_heaps();
                    if free > mark.saturating_add(TRIM_ABOVE) {
                        // SAFETY: malloc_trim gives back pages of free chunks
                        // only, under the arenas' own locks.
                        let _ = unsafe { libc::malloc_trim(0) };
                        log::debug!("returned the free pages of {} KiB of heap", free / 1024);
                        mark = free;
                    } else {
                        mark = mark.min(free);
                    }
                }
            });
        if let Err(e) = spawned {
            log::warn!("no heap-trimming thread: {e}");
        }
    }

    /// Bytes in free chunks of every arena, less the free tops.
    fn free_inside_heaps() -> usize {
        // SAFETY: mallinfo2 only reads the allocator's statistics, under the
        // arenas' own locks.
        let info = unsafe { libc::mallinfo2() };
        info.fordblks.saturating_sub(info.keepcost)
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod allocator {
    pub fn tune() {}
    pub fn spawn_trimmer() {}
}

fn main() -> ExitCode {
    allocator::tune();
    let _ = dotenvy::dotenv();
    let command = std::env::args().nth(1).unwrap_or_else(|| "serve".into());
    match command.as_str() {
        "serve" | "migrate" => {}
        // Before logging: a probe's output is its exit status.
        "healthcheck" => return healthcheck(),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    }
    let log_format = match TelemetryConfig::from_env() {
        Ok(t) => t.log_format,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    logging::init(log_format);
    if command == "migrate" {
        return migrate();
    }
    serve()
}

/// `conduit migrate`: needs only the database settings (`DATABASE_URL`).
fn migrate() -> ExitCode {
    let result = DatabaseConfig::from_env()
        .map_err(|e| e.to_string())
        .and_then(|db| startup::migrate(&db).map_err(|e| Chain(&e).to_string()));
    match result {
        Ok(applied) => {
            log::info!("migrations applied: {applied:?}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            log::error!("migration failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `conduit healthcheck`: exit 0 if `/health/live` on `HOST`:`PORT` answers
/// 200 within two seconds (for a container's HEALTHCHECK, which has no curl).
fn healthcheck() -> ExitCode {
    use std::io::{Read, Write};
    use std::net::{TcpStream, ToSocketAddrs};
    use std::time::Duration;
    let http = match HttpConfig::from_env() {
        Ok(h) => h,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let address = http.local_address();
    let probe = || -> std::io::Result<bool> {
        let timeout = Duration::from_secs(2);
        let target = address
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| std::io::Error::other("no address"))?;
        let mut stream = TcpStream::connect_timeout(&target, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        write!(
            stream,
            "GET /health/live HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
        )?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head)?;
        Ok(head.starts_with(b"HTTP/1.1 200"))
    };
    match probe() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("{address}: /health/live did not answer 200");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{address}: {e}");
            ExitCode::FAILURE
        }
    }
}

#[actix_web::main]
async fn serve() -> ExitCode {
    allocator::spawn_trimmer();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            log::error!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let app = match Application::build(config) {
        Ok(app) => app,
        Err(e) => {
            log::error!("start-up failed: {}", Chain(&e));
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
