//! Users' identifying values. Each `parse` is the one definition of its rule:
//! the request DTOs' `validator` rules call them, and handlers build the
//! values with them.

use std::fmt;

use validator::ValidateEmail;

use super::is_storable;

pub const USERNAME_MAX: usize = 40;
pub const EMAIL_MAX: usize = 254;
pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 128;

/// An email address, trimmed and lowercased: the form stored, compared by
/// the unique index and looked up by login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let v = raw.trim();
        if v.is_empty() {
            return Err("can't be blank");
        }
        if v.chars().count() > EMAIL_MAX {
            return Err("is too long");
        }
        if !is_storable(v) || !v.validate_email() {
            return Err("is invalid");
        }
        Ok(Email(v.to_lowercase()))
    }

    /// What a login form sent, in the stored form; not checked for format
    /// (an address that cannot exist simply matches no account).
    pub fn for_login(raw: &str) -> Result<Self, &'static str> {
        let v = raw.trim();
        if v.is_empty() {
            return Err("can't be blank");
        }
        if v.chars().count() > EMAIL_MAX || !is_storable(v) {
            return Err("is invalid");
        }
        Ok(Email(v.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A username as registered (case kept for display). Letters, digits, `_`,
/// `-` and `.`: it is a URL path segment. Unique case-insensitively.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if raw.trim().is_empty() {
            return Err("can't be blank");
        }
        if raw.chars().count() > USERNAME_MAX {
            return Err("is too long (at most 40 characters)");
        }
        if !raw
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
        {
            return Err("may only contain letters, digits, '_', '-' and '.'");
        }
        Ok(Username(raw.to_owned()))
    }

    /// A username named in a path or filter; `None` if it cannot belong to
    /// any account (so the answer is "not found" without a query).
    pub fn lookup(raw: &str) -> Option<Self> {
        Self::parse(raw).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-insensitive form that `lower(username)` is compared with.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A password in clear text, only on its way to the hasher; never printed.
pub struct Password(String);

impl Password {
    /// A new password: 8 to 128 characters.
    pub fn new(raw: String) -> Result<Self, &'static str> {
        let n = raw.chars().count();
        if !(PASSWORD_MIN..=PASSWORD_MAX).contains(&n) {
            return Err("must be 8 to 128 characters");
        }
        Ok(Password(raw))
    }

    /// A password typed at login: anything non-empty up to the maximum.
    pub fn attempt(raw: String) -> Result<Self, &'static str> {
        let n = raw.chars().count();
        if n == 0 || n > PASSWORD_MAX {
            return Err("can't be blank");
        }
        Ok(Password(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_lowercased_and_checked() {
        assert_eq!(
            Email::parse(" Jake@Example.COM ").unwrap().as_str(),
            "jake@example.com"
        );
        assert!(Email::parse("not-an-email").is_err());
        assert!(Email::parse("a\0@example.com").is_err());
        assert!(Email::for_login("whatever").is_ok());
        assert!(Email::for_login("a\0b").is_err());
    }

    #[test]
    fn usernames() {
        assert!(Username::parse("jake.doe_1-x").is_ok());
        assert!(Username::parse("Zoë").is_ok());
        for bad in ["a b", "a/b", "  ", "nul\0", &"x".repeat(41)] {
            assert!(Username::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(Username::parse("Jake").unwrap().key(), "jake");
    }

    #[test]
    fn passwords_are_bounded_and_never_printed() {
        assert!(Password::new("short".into()).is_err());
        let p = Password::new("long enough".into()).unwrap();
        assert_eq!(format!("{p:?}"), "Password(***)");
        assert!(Password::attempt(String::new()).is_err());
    }
}
