//! SQL text that Diesel prepares once per connection. `diesel::sql_query`
//! has no static query id, so PostgreSQL parses and plans it on every call;
//! for a statement on a hot path that planning costs more than running it
//! (an article create went from 1,822 to 3,454 req/s once its statement was
//! prepared, bench/). Each statement is its own type, which is what Diesel's
//! statement cache is keyed by.
//!
//! After five executions PostgreSQL keeps a prepared statement's generic
//! plan only if it is estimated to cost less than the plans made for the
//! values (planning included). With a bound `LIMIT $n OFFSET $m` on a
//! statement that reads many rows, the generic plan assumes a tenth of them
//! are wanted, and such a statement can be planned again on every execution
//! (`pg_prepared_statements.custom_plans`; the unfiltered list page was).
//! The list's first pages therefore have theirs written in
//! (`dialect::list_page`). A lookup by a unique key is unaffected (one row
//! is expected either way), and so is the feed, whose inner limit is written.

use std::marker::PhantomData;

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::{QueryResult, RunQueryDsl};

/// A statement without parameters: its SQL and the types of its columns.
pub trait FixedSql: 'static {
    const SQL: &'static str;
    type SqlType;
}

/// Runs `M::SQL` as a prepared statement, on either backend.
pub struct Fixed<M>(PhantomData<M>);

impl<M> Fixed<M> {
    pub fn new() -> Self {
        Fixed(PhantomData)
    }
}

impl<M> Default for Fixed<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: FixedSql> QueryId for Fixed<M> {
    type QueryId = M;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<M: FixedSql> Query for Fixed<M> {
    type SqlType = M::SqlType;
}

impl<M: FixedSql, DB: Backend> QueryFragment<DB> for Fixed<M> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql(M::SQL);
        Ok(())
    }
}

impl<M, C> RunQueryDsl<C> for Fixed<M> {}
