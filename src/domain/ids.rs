//! Row ids as distinct types, so a user id can never be passed where an
//! article id belongs. `get` is for the SQL boundary only.

use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(i64);

        impl $name {
            pub const fn new(raw: i64) -> Self {
                $name(raw)
            }

            /// The raw value, for binding in a query.
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        /// Rows deserialise into ids (`#[diesel(deserialize_as = i64)]`).
        impl From<i64> for $name {
            fn from(raw: i64) -> Self {
                $name(raw)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// `users.id`.
    UserId
);
id_type!(
    /// `articles.id`.
    ArticleId
);
id_type!(
    /// `comments.id`.
    CommentId
);

/// Who is asking: a signed-in user, or `None` for an anonymous request.
pub type Viewer = Option<UserId>;

/// The raw id to bind for "does this viewer follow / favorite": ids start at
/// 1, so 0 matches nothing and one query shape serves anonymous viewers too.
pub fn viewer_key(viewer: Viewer) -> i64 {
    viewer.map_or(0, UserId::get)
}
