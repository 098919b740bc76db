//! `validator` rules shared by the request DTOs (`custom(function = ..)`),
//! and the limits they enforce. Rules that define a domain value delegate to
//! its `parse` (`crate::domain`), so each rule exists once.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};
use validator::ValidationError;

use crate::domain::{self, TagList, Username};

use crate::domain::user;

// `validator` compares lengths as u64.
pub const EMAIL_MAX: u64 = user::EMAIL_MAX as u64;
pub const PASSWORD_MIN: u64 = user::PASSWORD_MIN as u64;
pub const PASSWORD_MAX: u64 = user::PASSWORD_MAX as u64;

pub const BIO_MAX: u64 = 2_000;
pub const IMAGE_MAX: u64 = 2_048;
pub const TITLE_MAX: u64 = 200;
pub const DESCRIPTION_MAX: u64 = 1_000;
pub const ARTICLE_BODY_MAX: u64 = 50_000;
pub const COMMENT_MAX: u64 = 10_000;
/// Longest value of a list filter (`tag`, `author`, `favorited`).
pub const FILTER_MAX: usize = 200;

fn error(code: &'static str, message: &'static str) -> ValidationError {
    ValidationError::new(code).with_message(Cow::Borrowed(message))
}

/// No NUL character (PostgreSQL cannot store one in `text`).
pub fn storable(value: &str) -> Result<(), ValidationError> {
    if domain::is_storable(value) {
        Ok(())
    } else {
        Err(error("nul", "contains an invalid character (NUL)"))
    }
}

pub fn not_blank(value: &str) -> Result<(), ValidationError> {
    storable(value)?;
    if value.trim().is_empty() {
        return Err(error("blank", "can't be blank"));
    }
    Ok(())
}

pub fn username(value: &str) -> Result<(), ValidationError> {
    Username::parse(value)
        .map(drop)
        .map_err(|m| error("username", m))
}

pub fn email(value: &str) -> Result<(), ValidationError> {
    domain::Email::parse(value)
        .map(drop)
        .map_err(|m| error("email", m))
}

/// An http(s) URL, or empty to clear the image.
pub fn image_url(value: &str) -> Result<(), ValidationError> {
    storable(value)?;
    let v = value.trim();
    if v.is_empty() {
        return Ok(());
    }
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !v.chars().any(char::is_whitespace) => Ok(()),
        _ => Err(error("image_url", "must be an http(s) URL or empty")),
    }
}

pub fn tag_list(tags: &[String]) -> Result<(), ValidationError> {
    TagList::parse(tags)
        .map(drop)
        .map_err(|m| error("tag_list", m))
}

/// For PATCH-like fields where `null` differs from "absent":
/// absent -> `None`, `null` -> `Some(None)`, value -> `Some(Some(v))`.
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images() {
        assert!(image_url("").is_ok());
        assert!(image_url("https://example.com/a.png").is_ok());
        assert!(image_url("http://x").is_ok());
        assert!(image_url("ftp://x").is_err());
        assert!(image_url("javascript:alert(1)").is_err());
        assert!(image_url("https://").is_err());
        assert!(image_url("https://x/\0").is_err());
    }

    #[test]
    fn nul_is_refused_everywhere() {
        assert!(not_blank("a\0").is_err());
        assert!(storable("fine").is_ok());
        assert!(username("a\0").is_err());
        assert!(tag_list(&["a\0".into()]).is_err());
    }
}
