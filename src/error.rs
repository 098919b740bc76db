//! The one error type of the service and its mapping to HTTP responses.
//! Every error body has the spec's shape: `{"errors": {"<field>": ["message"]}}`.
//! Server-side failures keep their cause chain (`source()`), which is logged
//! once, at the response boundary; the client only ever sees a generic body.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// Field name (as the client spelt it) -> messages, in a stable order.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// Any error that may be kept as a cause.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("validation failed: {0:?}")]
    Validation(FieldErrors),
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("too many requests")]
    TooManyRequests { retry_after: Duration },
    /// A dependency is down or overloaded: 503, the client may retry.
    #[error("service unavailable: {context}")]
    Unavailable {
        context: &'static str,
        #[source]
        source: Option<BoxError>,
    },
    /// A bug or an unforeseen failure: 500.
    #[error("internal error: {context}")]
    Internal {
        context: &'static str,
        #[source]
        source: Option<BoxError>,
    },
}

impl AppError {
    /// A 422 with one message for one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::new();
        errors.insert(field.to_owned(), vec![message.into()]);
        AppError::Validation(errors)
    }

    /// A 422 about the request as a whole (`errors.body`).
    pub fn body(message: impl Into<String>) -> Self {
        Self::field("body", message)
    }

    /// A 500 caused by `source`.
    pub fn internal(context: &'static str, source: impl Into<BoxError>) -> Self {
        AppError::Internal {
            context,
            source: Some(source.into()),
        }
    }

    /// A 500 without an underlying error (an invariant that did not hold).
    pub fn bug(context: &'static str) -> Self {
        AppError::Internal {
            context,
            source: None,
        }
    }

    /// The same error for another request that shared the failed work (a
    /// batch): the same status and body, the cause kept as text.
    pub fn for_another(&self) -> AppError {
        let text = |source: &Option<BoxError>| -> Option<BoxError> {
            source.as_deref().map(|s| Chain(s).to_string().into())
        };
        match self {
            AppError::Unauthorized(m) => AppError::Unauthorized(m),
            AppError::Forbidden(m) => AppError::Forbidden(m),
            AppError::NotFound(m) => AppError::NotFound(m),
            AppError::Validation(errors) => AppError::Validation(errors.clone()),
            AppError::PayloadTooLarge => AppError::PayloadTooLarge,
            AppError::TooManyRequests { retry_after } => AppError::TooManyRequests {
                retry_after: *retry_after,
            },
            AppError::Unavailable { context, source } => AppError::Unavailable {
                context,
                source: text(source),
            },
            AppError::Internal { context, source } => AppError::Internal {
                context,
                source: text(source),
            },
        }
    }

    /// A 503 caused by `source`.
    pub fn unavailable(context: &'static str, source: impl Into<BoxError>) -> Self {
        AppError::Unavailable {
            context,
            source: Some(source.into()),
        }
    }

    fn field_errors(&self) -> FieldErrors {
        let (field, message): (&str, String) = match self {
            AppError::Validation(errors) => return errors.clone(),
            AppError::Unauthorized(why) => ("credentials", (*why).to_owned()),
            AppError::Forbidden(why) => ("authorization", (*why).to_owned()),
            AppError::NotFound(what) => (what, "not found".to_owned()),
            AppError::PayloadTooLarge => ("body", "request body is too large".to_owned()),
            AppError::TooManyRequests { .. } => {
                ("body", "too many requests, retry later".to_owned())
            }
            AppError::Unavailable { .. } => ("body", "service temporarily unavailable".to_owned()),
            AppError::Internal { .. } => ("body", "internal server error".to_owned()),
        };
        let mut errors = FieldErrors::new();
        errors.insert(field.to_owned(), vec![message]);
        errors
    }
}

/// Displays an error and every cause below it: `a: b: c`.
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(e) = cause {
            write!(f, ": {e}")?;
            cause = e.source();
        }
        Ok(())
    }
}

#[derive(serde::Serialize)]
struct ErrorBody {
    errors: FieldErrors,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        // The response boundary: the one place a server-side cause is logged,
        // with its whole chain. The request id reaches this line through the
        // logger's task-local.
        match self {
            AppError::Internal { .. } => log::error!("request failed: {}", Chain(self)),
            AppError::Unavailable { .. } => log::warn!("request shed: {}", Chain(self)),
            _ => {}
        }
        let mut response = HttpResponse::build(status);
        if let AppError::TooManyRequests { retry_after } = self {
            let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            response.insert_header((header::RETRY_AFTER, secs.max(1).to_string()));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Token"));
        }
        if status.is_server_error() {
            response.insert_header((header::CACHE_CONTROL, "no-store"));
        }
        response.json(ErrorBody {
            errors: self.field_errors(),
        })
    }
}

/// Whether a database error means the database (or the way to it) is
/// unavailable rather than the request being wrong: a lost connection, a
/// statement or lock timeout, SQLite's busy timeout.
pub fn is_unavailability(err: &DieselError) -> bool {
    match err {
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection
            | DatabaseErrorKind::UnableToSendCommand
            | DatabaseErrorKind::SerializationFailure,
            _,
        ) => true,
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, info) => {
            let m = info.message();
            // PostgreSQL (lc_messages=C, the server default) and SQLite texts.
            m.starts_with("canceling statement due to")
                || m.starts_with("terminating connection")
                || m.contains("database is locked")
                || m.contains("database is busy")
        }
        _ => false,
    }
}

impl From<DieselError> for AppError {
    fn from(err: DieselError) -> Self {
        match err {
            DieselError::NotFound => AppError::NotFound("resource"),
            e if is_unavailability(&e) => AppError::unavailable("database", e),
            // Constraints a handler expects are mapped to field errors by
            // name (`db::constraints`) before they get here; one that arrives
            // is a bug, and its text must not reach the client.
            e => AppError::internal("database", e),
        }
    }
}

impl From<validator::ValidationErrors> for AppError {
    fn from(errors: validator::ValidationErrors) -> Self {
        let mut fields = FieldErrors::new();
        collect_validation_errors(&errors, &mut fields);
        AppError::Validation(fields)
    }
}

/// The JSON name of a request field: the DTOs are `rename_all = "camelCase"`
/// (or single words), while `validator` reports the Rust name.
pub fn wire_name(rust_name: &str) -> String {
    let mut out = String::with_capacity(rust_name.len());
    let mut upper = false;
    for c in rust_name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Flattens nested validator errors (`{"user": {"email": ..}}`) to leaf
/// field names as the client sent them.
fn collect_validation_errors(errors: &validator::ValidationErrors, out: &mut FieldErrors) {
    use validator::ValidationErrorsKind;
    for (field, kind) in errors.errors() {
        match kind {
            ValidationErrorsKind::Field(list) => {
                let messages = out.entry(wire_name(field)).or_default();
                for e in list {
                    messages.push(
                        e.message
                            .as_ref()
                            .map(|m| m.to_string())
                            .unwrap_or_else(|| e.code.to_string()),
                    );
                }
            }
            ValidationErrorsKind::Struct(inner) => collect_validation_errors(inner, out),
            ValidationErrorsKind::List(items) => {
                for inner in items.values() {
                    collect_validation_errors(inner, out);
                }
            }
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_are_camel_case() {
        assert_eq!(wire_name("tag_list"), "tagList");
        assert_eq!(wire_name("email"), "email");
    }

    #[test]
    fn the_chain_shows_every_cause_and_the_body_none() {
        let io = std::io::Error::other("connection reset");
        let err = AppError::internal("reading rows", io);
        assert_eq!(
            Chain(&err).to_string(),
            "internal error: reading rows: connection reset"
        );
        let body = err.field_errors();
        assert_eq!(body["body"], vec!["internal server error".to_owned()]);
    }

    #[test]
    fn unforeseen_constraint_violations_are_500s_without_database_text() {
        let err: AppError = DieselError::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            Box::new("duplicate key value violates unique constraint \"x\"".to_owned()),
        )
        .into();
        assert_eq!(err.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!format!("{:?}", err.field_errors()).contains("duplicate"));
    }

    #[test]
    fn a_copy_for_another_request_keeps_status_body_and_cause() {
        let io = std::io::Error::other("connection reset");
        let errors = [
            AppError::unavailable("database", AppError::internal("reading rows", io)),
            AppError::NotFound("article"),
            AppError::field("title", "is taken"),
        ];
        for err in errors {
            let copy = err.for_another();
            assert_eq!(copy.status_code(), err.status_code());
            assert_eq!(copy.field_errors(), err.field_errors());
            assert_eq!(Chain(&copy).to_string(), Chain(&err).to_string());
        }
    }

    #[test]
    fn lost_connections_and_timeouts_are_503s() {
        for (kind, message) in [
            (
                DatabaseErrorKind::ClosedConnection,
                "server closed the connection",
            ),
            (
                DatabaseErrorKind::Unknown,
                "canceling statement due to statement timeout",
            ),
            (DatabaseErrorKind::Unknown, "database is locked"),
        ] {
            let err: AppError =
                DieselError::DatabaseError(kind, Box::new(message.to_owned())).into();
            assert_eq!(
                err.status_code(),
                StatusCode::SERVICE_UNAVAILABLE,
                "{message}"
            );
        }
    }
}
