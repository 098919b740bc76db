//! Response compression (brotli, gzip) negotiated by `Accept-Encoding`, for
//! JSON bodies of at least `COMPRESSION_MIN_BYTES`: below that the framing
//! costs more than it saves.
//!
//! Written here rather than using actix's `Compress` because measurements
//! showed it capping a cached article list at ~2,000 req/s: it compresses any
//! body over 1 KiB on the blocking thread pool (which the database work
//! needs) at default levels. Here compression runs in place at fast levels
//! (gzip 1, brotli 4), and results are remembered by `ETag` (a hash of the
//! uncompressed body), so a popular response is compressed once. An
//! unsatisfiable `Accept-Encoding` falls back to identity, never a plain 406.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::Error;

const MEMO_MAX_ENTRIES: usize = 512;
const MEMO_MAX_BYTES: usize = 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Coding {
    Brotli,
    Gzip,
    Identity,
}

impl Coding {
    fn header(self) -> &'static str {
        match self {
            Coding::Brotli => "br",
            Coding::Gzip => "gzip",
            Coding::Identity => "identity",
        }
    }

    fn encode(self, data: &[u8]) -> std::io::Result<Vec<u8>> {
        match self {
            Coding::Gzip => {
                let mut enc = flate2::write::GzEncoder::new(
                    Vec::with_capacity(data.len() / 3),
                    flate2::Compression::fast(),
                );
                enc.write_all(data)?;
                enc.finish()
            }
            Coding::Brotli => {
                let params = brotli::enc::BrotliEncoderParams {
                    quality: 4,
                    // A 256 KiB window: larger than our bodies, far smaller state than the default 4 MiB.
                    lgwin: 18,
                    ..Default::default()
                };
                let mut out = Vec::with_capacity(data.len() / 3);
                brotli::BrotliCompress(&mut &data[..], &mut out, &params)?;
                Ok(out)
            }
            Coding::Identity => Ok(data.to_vec()),
        }
    }
}

/// Settings and the memo of recent compressed bodies, shared by all workers.
pub struct Compression {
    min_bytes: usize,
    memo: Mutex<Memo>,
}

#[derive(Default)]
struct Memo {
    entries: HashMap<(Bytes, Coding), Bytes>,
    bytes: usize,
}

impl Compression {
    pub fn new(min_bytes: usize) -> Self {
        Compression {
            min_bytes,
            memo: Mutex::new(Memo::default()),
        }
    }

    fn compressed(&self, etag: Option<&HeaderValue>, coding: Coding, body: &[u8]) -> Option<Bytes> {
        let key = etag.map(|e| (Bytes::copy_from_slice(e.as_bytes()), coding));
        if let Some(key) = &key {
            if let Some(hit) = self.memo.lock().ok()?.entries.get(key) {
                return Some(hit.clone());
            }
        }
        let out = match coding.encode(body) {
            Ok(out) => Bytes::from(out),
            Err(e) => {
                log::warn!("compression failed, sending identity: {e}");
                return None;
            }
        };
        if let (Some(key), Ok(mut memo)) = (key, self.memo.lock()) {
            if memo.entries.len() >= MEMO_MAX_ENTRIES || memo.bytes + out.len() > MEMO_MAX_BYTES {
                memo.entries.clear();
                memo.bytes = 0;
            }
            memo.bytes += out.len();
            memo.entries.insert(key, out.clone());
        }
        Some(out)
    }
}

/// Picks br over gzip when both are acceptable (q > 0).
fn negotiate(accept: Option<&HeaderValue>) -> Coding {
    let Some(accept) = accept.and_then(|v| v.to_str().ok()) else {
        return Coding::Identity;
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
        Coding::Brotli
    } else if acceptable("gzip") {
        Coding::Gzip
    } else {
        Coding::Identity
    }
}

/// The `Vary` of a JSON response: its body depends on the credentials
/// (`following`, `favorited`, the caller's own record) and, once compressed,
/// on the accepted codings. One value: CORS rewrites `Vary` from its first
/// value, so a second header line would be lost.
pub const JSON_VARY: HeaderValue = HeaderValue::from_static("authorization, accept-encoding");

/// Makes the response's `Vary` name what a JSON body varies by. Nearly
/// always the header is absent or already `JSON_VARY`, a static value set
/// without formatting or validating a string; a `Vary` a handler set is
/// merged.
pub fn vary_for_json(headers: &mut header::HeaderMap) {
    match headers.get(header::VARY) {
        None => {
            headers.insert(header::VARY, JSON_VARY);
        }
        Some(existing) if existing == JSON_VARY => {}
        Some(_) => {
            add_vary(headers, "authorization");
            add_vary(headers, "accept-encoding");
        }
    }
}

/// Adds `token` to the response's single `Vary` value.
fn add_vary(headers: &mut header::HeaderMap, token: &str) {
    let merged = match headers.get(header::VARY).and_then(|v| v.to_str().ok()) {
        Some(existing)
            if existing
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case(token)) =>
        {
            return
        }
        Some(existing) => format!("{existing}, {token}"),
        None => token.to_owned(),
    };
    if let Ok(v) = HeaderValue::from_str(&merged) {
        headers.insert(header::VARY, v);
    }
}

pub async fn compress(
    settings: Arc<Compression>,
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let wanted = negotiate(req.headers().get(header::ACCEPT_ENCODING));
    let mut res = next.call(req).await?;
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(b"application/json"));
    if !is_json {
        return Ok(res);
    }
    vary_for_json(res.headers_mut());
    let skip = matches!(
        res.status(),
        StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED
    ) || res.headers().contains_key(header::CONTENT_ENCODING);
    if wanted == Coding::Identity || skip {
        return Ok(res);
    }
    let (req, res) = res.into_parts();
    let (mut head, body) = res.into_parts();
    let bytes = match body.try_into_bytes() {
        Ok(bytes) if bytes.len() >= settings.min_bytes => bytes,
        Ok(bytes) => {
            return Ok(ServiceResponse::new(
                req,
                head.set_body(BoxBody::new(bytes)),
            ))
        }
        Err(body) => return Ok(ServiceResponse::new(req, head.set_body(body))),
    };
    let etag = head.headers().get(header::ETAG).cloned();
    match settings.compressed(etag.as_ref(), wanted, &bytes) {
        Some(out) => {
            head.headers_mut().insert(
                header::CONTENT_ENCODING,
                HeaderValue::from_static(wanted.header()),
            );
            Ok(ServiceResponse::new(req, head.set_body(BoxBody::new(out))))
        }
        None => Ok(ServiceResponse::new(
            req,
            head.set_body(BoxBody::new(bytes)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn neg(s: &str) -> Coding {
        negotiate(Some(&HeaderValue::from_str(s).unwrap()))
    }

    #[test]
    fn json_vary_names_credentials_and_codings_once_and_keeps_a_handlers_own() {
        let mut headers = header::HeaderMap::new();
        vary_for_json(&mut headers);
        vary_for_json(&mut headers);
        assert_eq!(headers.get(header::VARY), Some(&JSON_VARY));
        let mut headers = header::HeaderMap::new();
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Language"));
        vary_for_json(&mut headers);
        assert_eq!(
            headers.get(header::VARY).unwrap(),
            "Accept-Language, authorization, accept-encoding"
        );
        let mut headers = header::HeaderMap::new();
        headers.insert(header::VARY, HeaderValue::from_static("Authorization"));
        vary_for_json(&mut headers);
        assert_eq!(
            headers.get(header::VARY).unwrap(),
            "Authorization, accept-encoding"
        );
    }

    #[test]
    fn prefers_brotli_then_gzip() {
        assert_eq!(neg("gzip, deflate, br"), Coding::Brotli);
        assert_eq!(neg("gzip"), Coding::Gzip);
        assert_eq!(neg("br;q=0, gzip"), Coding::Gzip);
        assert_eq!(neg("zstd"), Coding::Identity);
        assert_eq!(negotiate(None), Coding::Identity);
    }

    #[test]
    fn encodings_round_trip_and_are_memoised_by_etag() {
        let body = br#"{"articles":[{"title":"a title that repeats"}]}"#.repeat(50);
        let c = Compression::new(10);
        let etag = HeaderValue::from_static("W/\"abc\"");
        let gz = c.compressed(Some(&etag), Coding::Gzip, &body).unwrap();
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, body);
        let br = c.compressed(Some(&etag), Coding::Brotli, &body).unwrap();
        let mut plain = Vec::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, body);
        assert!(br.len() < body.len() / 5);
        // Same ETag and coding: the memoised bytes.
        assert_eq!(
            c.compressed(Some(&etag), Coding::Gzip, b"ignored"),
            Some(gz)
        );
    }
}
