//! The one error type of the service and its mapping to HTTP responses.
//! Every error body has the spec's shape: `{"errors": {"<field>": ["message"]}}`.

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// Field name -> messages, serialised in a stable (sorted) order.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

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
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
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

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        AppError::Internal(cause.to_string())
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
            AppError::Unavailable(_) => ("body", "service temporarily unavailable".to_owned()),
            AppError::Internal(_) => ("body", "internal server error".to_owned()),
        };
        let mut errors = FieldErrors::new();
        errors.insert(field.to_owned(), vec![message]);
        errors
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
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        // The response boundary: the one place a server-side cause is logged.
        // The request id reaches this line through the logger's task-local.
        match self {
            AppError::Internal(cause) => log::error!("request failed: {cause}"),
            AppError::Unavailable(cause) => log::warn!("request shed: {cause}"),
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
        response.json(ErrorBody {
            errors: self.field_errors(),
        })
    }
}

impl From<DieselError> for AppError {
    fn from(err: DieselError) -> Self {
        match err {
            DieselError::NotFound => AppError::NotFound("resource"),
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                // Callers map the uniqueness they expect to a field error; one
                // that reaches here is a conflict the handler did not foresee.
                AppError::body(format!("conflict: {}", info.message()))
            }
            DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => AppError::Unavailable(format!("database connection lost: {}", info.message())),
            other => AppError::Internal(format!("database error: {other}")),
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

/// Flattens nested validator errors (`{"user": {"email": ..}}`) to leaf field names.
fn collect_validation_errors(errors: &validator::ValidationErrors, out: &mut FieldErrors) {
    use validator::ValidationErrorsKind;
    for (field, kind) in errors.errors() {
        match kind {
            ValidationErrorsKind::Field(list) => {
                let messages = out.entry(field.to_string()).or_default();
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
