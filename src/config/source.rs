//! Where configuration values come from (the environment, or a map in tests)
//! and the typed readers every group uses. Unset or blank means "default".

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[error("configuration error in {var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

impl ConfigError {
    pub(super) fn new(var: &'static str, message: impl Into<String>) -> Self {
        ConfigError {
            var,
            message: message.into(),
        }
    }
}

pub(super) struct Source<'a>(&'a dyn Fn(&str) -> Option<String>);

impl<'a> Source<'a> {
    pub(super) fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Source(lookup)
    }

    pub(super) fn var(&self, name: &'static str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub(super) fn parse<T: FromStr>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T::Err: fmt::Display,
    {
        match self.var(name) {
            None => Ok(default),
            Some(raw) => raw
                .parse()
                .map_err(|e| ConfigError::new(name, format!("cannot parse {raw:?}: {e}"))),
        }
    }

    /// A number that must be at least `min`.
    pub(super) fn at_least<T>(
        &self,
        name: &'static str,
        default: T,
        min: T,
    ) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + fmt::Display + Copy,
        T::Err: fmt::Display,
    {
        let value = self.parse(name, default)?;
        if value < min {
            return Err(ConfigError::new(name, format!("must be at least {min}")));
        }
        Ok(value)
    }

    pub(super) fn parse_bool(
        &self,
        name: &'static str,
        default: bool,
    ) -> Result<bool, ConfigError> {
        match self.var(name).map(|v| v.to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) => match v.as_str() {
                "1" | "true" | "yes" | "on" => Ok(true),
                "0" | "false" | "no" | "off" => Ok(false),
                _ => Err(ConfigError::new(
                    name,
                    format!("expected true/false or on/off, got {v:?}"),
                )),
            },
        }
    }

    pub(super) fn millis(
        &self,
        name: &'static str,
        default_ms: u64,
    ) -> Result<Duration, ConfigError> {
        self.parse(name, default_ms).map(Duration::from_millis)
    }

    pub(super) fn seconds(
        &self,
        name: &'static str,
        default_s: u64,
    ) -> Result<Duration, ConfigError> {
        self.parse(name, default_s).map(Duration::from_secs)
    }
}

/// The number of CPU cores, the base of several defaults.
pub(super) fn cpus() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}
