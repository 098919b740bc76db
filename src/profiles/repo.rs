//! Queries on profiles and `follows`.

use diesel::dsl::exists;
use diesel::prelude::*;

use super::dto::Profile;
use crate::db::functions::lower;
use crate::db::schema::{follows, users};
use crate::db::{on_backend, DbConnection};
use crate::timestamp;

/// The author columns every profile-bearing response selects.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = users)]
pub struct AuthorRow {
    pub id: i64,
    pub username: String,
    pub bio: Option<String>,
    pub image: Option<String>,
}

impl AuthorRow {
    pub fn into_profile(self, following: bool) -> Profile {
        Profile {
            username: self.username,
            bio: self.bio,
            image: self.image,
            following,
        }
    }
}

/// Ids start at 1, so an anonymous viewer is id 0: "follows" and "favorited"
/// probes then match nothing and one query shape serves both cases.
pub const ANONYMOUS: i64 = 0;

/// A user by username (case-insensitive) and whether `viewer` follows them.
pub fn find_with_following(
    conn: &mut DbConnection,
    username: &str,
    viewer: i64,
) -> QueryResult<Option<(AuthorRow, bool)>> {
    users::table
        .filter(lower(users::username).eq(username.to_lowercase()))
        .select((
            AuthorRow::as_select(),
            exists(
                follows::table
                    .filter(follows::follower_id.eq(viewer))
                    .filter(follows::followee_id.eq(users::id)),
            ),
        ))
        .first(conn)
        .optional()
}

pub fn find_by_username(conn: &mut DbConnection, username: &str) -> QueryResult<Option<AuthorRow>> {
    users::table
        .filter(lower(users::username).eq(username.to_lowercase()))
        .select(AuthorRow::as_select())
        .first(conn)
        .optional()
}

/// Idempotent: following twice leaves one row.
pub fn follow(conn: &mut DbConnection, follower: i64, followee: i64) -> QueryResult<()> {
    let row = (
        follows::follower_id.eq(follower),
        follows::followee_id.eq(followee),
        follows::created_at.eq(timestamp::now()),
    );
    on_backend!(conn, |c| diesel::insert_into(follows::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

pub fn unfollow(conn: &mut DbConnection, follower: i64, followee: i64) -> QueryResult<()> {
    diesel::delete(follows::table.find((follower, followee))).execute(conn)?;
    Ok(())
}
