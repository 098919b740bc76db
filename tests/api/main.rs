//! HTTP integration tests: each test starts the server on port 0 against a
//! fresh database — a temporary SQLite file by default, or a new PostgreSQL
//! database when `TEST_DATABASE_URL` is set — and talks to it over HTTP.

mod articles;
mod comments;
mod errors;
mod fault_proxy;
mod faults;
mod helpers;
mod hostile;
mod invariants;
mod operations;
mod process;
mod profiles;
mod redis_server;
mod replicas;
mod security;
mod tags;
mod users;
