//! Conduit: the RealWorld API server (Actix Web + Diesel).
//! Request flow and conventions: see README.md and the module docs.
// One exception: `auth::password::idle_scheduling` (a libc call).
#![deny(unsafe_code)]

pub mod articles;
pub mod auth;
pub mod comments;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod health;
pub mod http;
pub mod profiles;
pub mod routes;
pub mod shared;
pub mod startup;
pub mod state;
pub mod tags;
pub mod telemetry;
pub mod timestamp;
pub mod users;
pub mod validation;
