//! Queries on `users`. Functions take a connection and return `QueryResult`;
//! they never touch the pool.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use super::model::{NewUserRow, UserChanges, UserRow};
use crate::db::functions::lower;
use crate::db::schema::users;
use crate::db::DbConnection;

pub fn find_by_id(conn: &mut DbConnection, id: i64) -> QueryResult<Option<UserRow>> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

/// `email` must already be lowercased.
pub fn find_by_email(conn: &mut DbConnection, email: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(lower(users::email).eq(email))
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

/// Which of `username` / `email` another user (not `except`) already holds,
/// compared case-insensitively.
pub fn taken(
    conn: &mut DbConnection,
    username: Option<&str>,
    email: Option<&str>,
    except: Option<i64>,
) -> QueryResult<(bool, bool)> {
    let username = username.map(str::to_lowercase);
    let email = email.map(str::to_lowercase);
    if username.is_none() && email.is_none() {
        return Ok((false, false));
    }
    let mut query = users::table
        .select((lower(users::username), lower(users::email)))
        .filter(
            lower(users::username)
                .eq(username.clone().unwrap_or_default())
                .or(lower(users::email).eq(email.clone().unwrap_or_default())),
        )
        .limit(2)
        .into_boxed();
    if let Some(id) = except {
        query = query.filter(users::id.ne(id));
    }
    let rows: Vec<(String, String)> = query.load(conn)?;
    let name_taken = rows.iter().any(|(u, _)| Some(u) == username.as_ref());
    let email_taken = rows.iter().any(|(_, e)| Some(e) == email.as_ref());
    Ok((name_taken, email_taken))
}

/// The columns of `UserRow`, for `RETURNING` (which the two-backend
/// connection supports with column tuples, not with `as_returning`).
const USER_COLUMNS: (
    users::id,
    users::username,
    users::email,
    users::password_hash,
    users::bio,
    users::image,
) = (
    users::id,
    users::username,
    users::email,
    users::password_hash,
    users::bio,
    users::image,
);

pub fn insert(conn: &mut DbConnection, new: &NewUserRow<'_>) -> QueryResult<UserRow> {
    diesel::insert_into(users::table)
        .values(new)
        .returning(USER_COLUMNS)
        .get_result(conn)
}

pub fn update(conn: &mut DbConnection, id: i64, changes: &UserChanges) -> QueryResult<UserRow> {
    diesel::update(users::table.find(id))
        .set(changes)
        .returning(USER_COLUMNS)
        .get_result(conn)
}

/// The field a unique violation is about, if it is one of ours.
pub fn violated_unique_field(err: &DieselError) -> Option<&'static str> {
    let DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) = err else {
        return None;
    };
    // PostgreSQL names the index; SQLite only puts it in the message.
    let what = info.constraint_name().unwrap_or(info.message());
    if what.contains("username") {
        Some("username")
    } else if what.contains("email") {
        Some("email")
    } else {
        None
    }
}
