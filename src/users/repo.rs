//! Queries on `users`. Functions take a connection and domain values and
//! return `QueryResult`; they never touch the pool.

use diesel::prelude::*;

use super::model::{NewUserRow, UserChanges, UserRow};
use crate::db::functions::lower;
use crate::db::schema::users;
use crate::db::{on_backend, DbConnection};
use crate::domain::{Email, UserId, Username};

pub fn find_by_id(conn: &mut DbConnection, id: UserId) -> QueryResult<Option<UserRow>> {
    on_backend!(conn, |c| users::table
        .find(id.get())
        .select(UserRow::as_select())
        .first(c)
        .optional())
}

pub fn find_by_email(conn: &mut DbConnection, email: &Email) -> QueryResult<Option<UserRow>> {
    on_backend!(conn, |c| users::table
        .filter(lower(users::email).eq(email.as_str()))
        .select(UserRow::as_select())
        .first(c)
        .optional())
}

/// Which of `username` / `email` another user (not `except`) already holds,
/// compared case-insensitively.
pub fn taken(
    conn: &mut DbConnection,
    username: Option<&Username>,
    email: Option<&Email>,
    except: Option<UserId>,
) -> QueryResult<(bool, bool)> {
    let username = username.map(Username::key);
    let email = email.map(|e| e.as_str().to_owned());
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
        query = query.filter(users::id.ne(id.get()));
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

pub fn update(conn: &mut DbConnection, id: UserId, changes: &UserChanges) -> QueryResult<UserRow> {
    diesel::update(users::table.find(id.get()))
        .set(changes)
        .returning(USER_COLUMNS)
        .get_result(conn)
}
