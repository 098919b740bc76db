//! Entry point: configuration, logging, then serve (or `conduit migrate`).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use conduit::config::{Config, LogFormat};
use conduit::startup::{self, Application};
use conduit::telemetry::logging;

const USAGE: &str = "usage: conduit [serve|migrate]\n  serve    run the API server (default)\n  migrate  apply pending database migrations and exit";

#[actix_web::main]
async fn main() -> ExitCode {
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
