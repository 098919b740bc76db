//! SQL functions used by the queries; available on both backends.

use diesel::sql_types::Text;

diesel::define_sql_function! {
    /// `lower(text)`: matches the case-insensitive unique indexes on users.
    fn lower(x: Text) -> Text;
}
