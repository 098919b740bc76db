//! Response compression (brotli, gzip) negotiated by `Accept-Encoding`, for
//! JSON bodies of at least `COMPRESSION_MIN_BYTES`: below that the framing
//! costs more than it saves. Unlike actix's `Compress`, an unsatisfiable
//! `Accept-Encoding` falls back to identity instead of a plain-text 406.

use actix_http::encoding::Encoder;
use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, ContentEncoding, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, Error};

/// Settings read by the middleware from app data.
#[derive(Clone, Copy, Debug)]
pub struct CompressionSettings {
    pub min_bytes: usize,
}

/// Picks br over gzip when both are acceptable (q > 0).
fn negotiate(accept: Option<&HeaderValue>) -> ContentEncoding {
    let Some(accept) = accept.and_then(|v| v.to_str().ok()) else {
        return ContentEncoding::Identity;
    };
    let acceptable = |name: &str| {
        accept.split(',').any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            coding.eq_ignore_ascii_case(name) && q > 0.0
        })
    };
    if acceptable("br") {
        ContentEncoding::Brotli
    } else if acceptable("gzip") {
        ContentEncoding::Gzip
    } else {
        ContentEncoding::Identity
    }
}

pub async fn compress(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let min_bytes = req
        .app_data::<web::Data<CompressionSettings>>()
        .map_or(1024, |s| s.min_bytes);
    let wanted = negotiate(req.headers().get(header::ACCEPT_ENCODING));
    let res = next.call(req).await?;
    Ok(res.map_body(move |head, body| {
        let is_json = head
            .headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|ct| ct.as_bytes().starts_with(b"application/json"));
        if is_json {
            head.headers
                .append(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
        let big_enough = match body.size() {
            BodySize::Sized(n) => n as usize >= min_bytes,
            _ => false,
        };
        let encoding = if is_json && big_enough {
            wanted
        } else {
            ContentEncoding::Identity
        };
        Encoder::response(encoding, head, body)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn neg(s: &str) -> ContentEncoding {
        negotiate(Some(&HeaderValue::from_str(s).unwrap()))
    }

    #[test]
    fn prefers_brotli_then_gzip() {
        assert_eq!(neg("gzip, deflate, br"), ContentEncoding::Brotli);
        assert_eq!(neg("gzip"), ContentEncoding::Gzip);
        assert_eq!(neg("br;q=0, gzip"), ContentEncoding::Gzip);
        assert_eq!(neg("zstd"), ContentEncoding::Identity);
        assert_eq!(negotiate(None), ContentEncoding::Identity);
    }
}
