//! Validation rules shared by the request DTOs (used through `validator`'s
//! `custom(function = ..)`), and the limits they enforce.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};
use validator::ValidationError;

pub const USERNAME_MAX: u64 = 40;
pub const EMAIL_MAX: u64 = 254;
pub const PASSWORD_MIN: u64 = 8;
pub const PASSWORD_MAX: u64 = 128;
pub const BIO_MAX: u64 = 2_000;
pub const IMAGE_MAX: u64 = 2_048;
pub const TITLE_MAX: u64 = 200;
pub const DESCRIPTION_MAX: u64 = 1_000;
pub const ARTICLE_BODY_MAX: u64 = 50_000;
pub const TAG_MAX_LEN: usize = 40;
pub const TAGS_MAX: usize = 10;
pub const COMMENT_MAX: u64 = 10_000;
pub const FILTER_MAX: usize = 200;

fn error(code: &'static str, message: &'static str) -> ValidationError {
    ValidationError::new(code).with_message(Cow::Borrowed(message))
}

pub fn not_blank(value: &str) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        return Err(error("blank", "can't be blank"));
    }
    Ok(())
}

/// Letters, digits, `_`, `-` and `.`; no spaces or slashes (it is a URL segment).
pub fn username(value: &str) -> Result<(), ValidationError> {
    not_blank(value)?;
    if !value
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(error(
            "username_chars",
            "may only contain letters, digits, '_', '-' and '.'",
        ));
    }
    Ok(())
}

/// An http(s) URL, or empty to clear the image.
pub fn image_url(value: &str) -> Result<(), ValidationError> {
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
    if tags.len() > TAGS_MAX {
        return Err(error("tags_count", "has too many tags (at most 10)"));
    }
    for tag in tags {
        let t = tag.trim();
        if t.is_empty() {
            return Err(error("tag_blank", "contains a blank tag"));
        }
        if t.chars().count() > TAG_MAX_LEN {
            return Err(error(
                "tag_length",
                "contains a tag longer than 40 characters",
            ));
        }
    }
    Ok(())
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
    fn usernames() {
        assert!(username("jake.doe_1-x").is_ok());
        assert!(username("Zoë").is_ok());
        assert!(username("a b").is_err());
        assert!(username("a/b").is_err());
        assert!(username("  ").is_err());
    }

    #[test]
    fn images() {
        assert!(image_url("").is_ok());
        assert!(image_url("https://example.com/a.png").is_ok());
        assert!(image_url("http://x").is_ok());
        assert!(image_url("ftp://x").is_err());
        assert!(image_url("javascript:alert(1)").is_err());
        assert!(image_url("https://").is_err());
    }

    #[test]
    fn tags() {
        assert!(tag_list(&["a".into(), "b".into()]).is_ok());
        assert!(tag_list(&[" ".into()]).is_err());
        assert!(tag_list(&vec!["t".to_string(); 11]).is_err());
        assert!(tag_list(&["x".repeat(41)]).is_err());
    }
}
