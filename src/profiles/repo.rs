//! Queries on profiles and `follows`.

use diesel::dsl::exists;
use diesel::prelude::*;

use super::dto::Profile;
use crate::db::functions::lower;
use crate::db::schema::{follows, users};
use crate::db::{dialect, on_backend, DbConnection};
use crate::domain::ids::viewer_key;
use crate::domain::{UserId, Username, Viewer};
use crate::timestamp;

/// The author columns every profile-bearing response selects.
#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = users)]
pub struct AuthorRow {
    #[diesel(deserialize_as = i64)]
    pub id: UserId,
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

/// A user by username (case-insensitive) and whether `viewer` follows them.
pub fn find_with_following(
    conn: &mut DbConnection,
    username: &Username,
    viewer: Viewer,
) -> QueryResult<Option<(AuthorRow, bool)>> {
    on_backend!(conn, |c| users::table
        .filter(lower(users::username).eq(username.key()))
        .select((
            AuthorRow::as_select(),
            exists(
                follows::table
                    .filter(follows::follower_id.eq(viewer_key(viewer)))
                    .filter(follows::followee_id.eq(users::id)),
            ),
        ))
        .first(c)
        .optional())
}

pub fn find_by_username(
    conn: &mut DbConnection,
    username: &Username,
) -> QueryResult<Option<AuthorRow>> {
    users::table
        .filter(lower(users::username).eq(username.key()))
        .select(AuthorRow::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_id(conn: &mut DbConnection, id: UserId) -> QueryResult<AuthorRow> {
    users::table
        .find(id.get())
        .select(AuthorRow::as_select())
        .first(conn)
}

/// Idempotent: following twice leaves one row.
pub fn follow(conn: &mut DbConnection, follower: UserId, followee: UserId) -> QueryResult<()> {
    let row = (
        follows::follower_id.eq(follower.get()),
        follows::followee_id.eq(followee.get()),
        follows::created_at.eq(timestamp::now()),
    );
    dialect::execute(
        conn,
        diesel::insert_into(follows::table)
            .values(row)
            .on_conflict_do_nothing(),
    )?;
    Ok(())
}

pub fn unfollow(conn: &mut DbConnection, follower: UserId, followee: UserId) -> QueryResult<()> {
    diesel::delete(follows::table.find((follower.get(), followee.get()))).execute(conn)?;
    Ok(())
}
