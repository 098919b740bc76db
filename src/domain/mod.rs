//! Domain values built at the edge: ids that cannot be swapped, and text
//! whose normal form (trimmed, lowercased, sorted, free of NUL) is a property
//! of its type rather than a comment. Handlers parse requests into these;
//! everything below them (repos, dialect SQL) takes nothing else.

pub mod article;
pub mod ids;
pub mod user;

pub use article::{Slug, TagList, TagName};
pub use ids::{ArticleId, CommentId, UserId, Viewer};
pub use user::{Email, Password, Username};

/// Text a client may send us: PostgreSQL cannot store NUL in `text`, so it
/// is refused everywhere (and SQLite gives the same answer).
pub fn is_storable(s: &str) -> bool {
    !s.contains('\0')
}
