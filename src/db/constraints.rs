//! The unique constraints a request can run into, by their exact names, so
//! a violation becomes a field error the client understands. PostgreSQL
//! reports the constraint's name; SQLite reports an expression index by name
//! and a column constraint as `table.column`, so each entry lists both.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unique {
    Username,
    Email,
    Slug,
}

impl Unique {
    /// The request field the constraint is about (its JSON name).
    pub fn field(self) -> &'static str {
        match self {
            Unique::Username => "username",
            Unique::Email => "email",
            Unique::Slug => "slug",
        }
    }
}

/// (constraint name on PostgreSQL, what SQLite's message names, constraint).
/// The names come from the migrations (`users_*_lower_key` are indexes of
/// the same name on both; `articles_slug_key` is PostgreSQL's name for the
/// column's UNIQUE).
const UNIQUE: &[(&str, &str, Unique)] = &[
    (
        "users_username_lower_key",
        "index 'users_username_lower_key'",
        Unique::Username,
    ),
    (
        "users_email_lower_key",
        "index 'users_email_lower_key'",
        Unique::Email,
    ),
    ("articles_slug_key", "articles.slug", Unique::Slug),
];

/// Which of our unique constraints `err` violated; `None` for any other error
/// (an unforeseen violation stays an internal error).
pub fn unique_violation(err: &DieselError) -> Option<Unique> {
    let DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) = err else {
        return None;
    };
    if let Some(name) = info.constraint_name() {
        return UNIQUE
            .iter()
            .find(|(pg, _, _)| *pg == name)
            .map(|(_, _, u)| *u);
    }
    // SQLite: "UNIQUE constraint failed: index 'users_email_lower_key'" or
    // "UNIQUE constraint failed: articles.slug".
    let target = info.message().strip_prefix("UNIQUE constraint failed: ")?;
    UNIQUE
        .iter()
        .find(|(_, sqlite, _)| *sqlite == target)
        .map(|(_, _, u)| *u)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation(message: &str) -> DieselError {
        DieselError::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            Box::new(message.to_owned()),
        )
    }

    #[test]
    fn sqlite_messages_map_by_exact_name() {
        assert_eq!(
            unique_violation(&violation(
                "UNIQUE constraint failed: index 'users_email_lower_key'"
            )),
            Some(Unique::Email)
        );
        assert_eq!(
            unique_violation(&violation("UNIQUE constraint failed: articles.slug")),
            Some(Unique::Slug)
        );
        assert_eq!(
            unique_violation(&violation(
                "UNIQUE constraint failed: index 'users_email_lower_key_2'"
            )),
            None,
            "a similar name is not the same constraint"
        );
        assert_eq!(unique_violation(&DieselError::NotFound), None);
    }
}
