//! App-wide extractor configuration: malformed JSON, wrong content types,
//! oversized bodies and bad query or path parameters all answer with the
//! same JSON error body as the handlers do.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::header::{HeaderValue, ALLOW};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError, Route};

use crate::error::AppError;

pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(|err, _req| json_error(err).into())
}

fn json_error(err: JsonPayloadError) -> AppError {
    match err {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            AppError::PayloadTooLarge
        }
        JsonPayloadError::ContentType => AppError::body("Content-Type must be application/json"),
        JsonPayloadError::Deserialize(e) => AppError::body(format!("invalid JSON body: {e}")),
        JsonPayloadError::Serialize(e) => AppError::internal("serialising JSON", e),
        other => AppError::body(format!("could not read the request body: {other}")),
    }
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| query_error(err).into())
}

fn query_error(err: QueryPayloadError) -> AppError {
    // serde_urlencoded names the field in its message, e.g.
    // "limit: invalid digit found in string".
    match err {
        QueryPayloadError::Deserialize(e) => {
            AppError::body(format!("invalid query parameters: {e}"))
        }
        other => AppError::body(format!("invalid query parameters: {other}")),
    }
}

pub fn path_config() -> web::PathConfig {
    // A path segment of the wrong type (e.g. a non-numeric comment id) names
    // nothing that exists.
    web::PathConfig::default()
        .error_handler(|_err: PathError, _req| AppError::NotFound("resource").into())
}

/// Routes nothing else matched.
pub async fn not_found(_req: HttpRequest) -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound("route"))
}

/// A resource's answer to any method it does not serve: a JSON 405 with the
/// `Allow` header listing the ones it does (`allow`, e.g. `"GET, POST"`).
pub fn only(allow: &'static str) -> Route {
    web::to(move || async move {
        let mut res = AppError::field("method", "not allowed for this route").error_response();
        *res.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        res.headers_mut()
            .insert(ALLOW, HeaderValue::from_static(allow));
        res
    })
}
