//! Headers every response carries: the body is JSON data, never a document
//! to render, sniff or frame.

use actix_web::middleware::DefaultHeaders;

pub fn headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("x-content-type-options", "nosniff"))
        .add((
            "content-security-policy",
            "default-src 'none'; frame-ancestors 'none'",
        ))
        .add(("x-frame-options", "DENY"))
        .add(("referrer-policy", "no-referrer"))
}
