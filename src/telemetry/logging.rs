//! env_logger set-up. `LOG_FORMAT=json` writes one JSON object per line with
//! the record's key-values as keys; text is a readable single line. Every line
//! written while serving a request carries that request's id.

use std::io::Write;

use log::kv::{Key, Value, VisitSource};

use crate::config::LogFormat;
use crate::telemetry::request::current_request_id;

struct Collect<'a>(&'a mut Vec<(String, String)>);

impl<'kvs> VisitSource<'kvs> for Collect<'_> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
        self.0.push((key.to_string(), value.to_string()));
        Ok(())
    }
}

fn fields(record: &log::Record<'_>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let _ = record.key_values().visit(&mut Collect(&mut out));
    out
}

/// Numbers stay numbers in JSON so log pipelines can aggregate them.
fn json_value(v: &str) -> serde_json::Value {
    match v.parse::<i64>() {
        Ok(n) => n.into(),
        Err(_) => match v.parse::<f64>() {
            Ok(f) if f.is_finite() => f.into(),
            _ => v.into(),
        },
    }
}

pub fn init(format: LogFormat) {
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    match format {
        LogFormat::Json => builder.format(|buf, record| {
            let mut obj = serde_json::Map::new();
            obj.insert(
                "timestamp".into(),
                chrono::Utc::now()
                    .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                    .to_string()
                    .into(),
            );
            obj.insert("level".into(), record.level().as_str().into());
            obj.insert("target".into(), record.target().into());
            obj.insert("message".into(), record.args().to_string().into());
            if let Some(id) = current_request_id() {
                obj.insert("request_id".into(), id.as_ref().into());
            }
            for (k, v) in fields(record) {
                obj.insert(k, json_value(&v));
            }
            writeln!(buf, "{}", serde_json::Value::Object(obj))
        }),
        LogFormat::Text => builder.format(|buf, record| {
            write!(
                buf,
                "{} {:<5} {}: {}",
                chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                record.level(),
                record.target(),
                record.args()
            )?;
            let mut pairs = fields(record);
            if let Some(id) = current_request_id() {
                if !pairs.iter().any(|(k, _)| k == "request_id") {
                    pairs.push(("request_id".into(), id.to_string()));
                }
            }
            for (k, v) in pairs {
                write!(buf, " {k}={v}")?;
            }
            writeln!(buf)
        }),
    };
    let logger = ClientFaultsAtDebug(builder.build());
    let max_level = logger.0.filter();
    // A second init (tests start many servers in one process) is harmless.
    if log::set_boxed_logger(Box::new(logger)).is_ok() {
        log::set_max_level(max_level);
    }
}

/// A line at WARN or ERROR should mean an operator may need to act. The HTTP
/// layer reports a client's malformed request or dropped connection at ERROR
/// (`actix_http::h1`: "stream error: request parse error ..."); those are the
/// client's mistakes, so they are written at DEBUG.
struct ClientFaultsAtDebug(env_logger::Logger);

fn is_client_fault(metadata: &log::Metadata<'_>) -> bool {
    metadata.level() <= log::Level::Warn && metadata.target().starts_with("actix_http::h1")
}

impl log::Log for ClientFaultsAtDebug {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        if is_client_fault(metadata) {
            let demoted = log::Metadata::builder()
                .level(log::Level::Debug)
                .target(metadata.target())
                .build();
            return self.0.enabled(&demoted);
        }
        self.0.enabled(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        if !is_client_fault(record.metadata()) {
            return self.0.log(record);
        }
        let demoted = log::Record::builder()
            .level(log::Level::Debug)
            .target(record.target())
            .args(*record.args())
            .module_path(record.module_path())
            .file(record.file())
            .line(record.line())
            .build();
        if self.0.enabled(demoted.metadata()) {
            self.0.log(&demoted);
        }
    }

    fn flush(&self) {
        self.0.flush();
    }
}
