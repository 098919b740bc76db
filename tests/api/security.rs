//! Security: one test per relevant OWASP API Security Top 10 (2023) risk,
//! named after it, plus injection and the response headers.

use serde_json::json;

use crate::helpers::*;

#[actix_rt::test]
async fn api1_broken_object_level_authorization_others_articles_and_comments_are_untouchable() {
    let app = spawn_app().await;
    let owner = app.register("owner").await;
    let intruder = app.register("intruder").await;
    let slug = app.create_article_slug(&owner, "Mine", &[]).await;
    let path = format!("/api/articles/{slug}");
    app.put(
        &path,
        Some(&intruder),
        json!({"article": {"body": "pwned"}}),
    )
    .await
    .expect(403);
    app.delete(&path, Some(&intruder)).await.expect(403);
    let id = app
        .post(
            &format!("{path}/comments"),
            Some(&owner),
            json!({"comment": {"body": "mine"}}),
        )
        .await
        .expect(200)
        .body["comment"]["id"]
        .clone();
    app.delete(&format!("{path}/comments/{id}"), Some(&intruder))
        .await
        .expect(403);
    // A comment id of another article is not reachable through this one.
    let other = app.create_article_slug(&intruder, "Theirs", &[]).await;
    app.delete(
        &format!("/api/articles/{other}/comments/{id}"),
        Some(&intruder),
    )
    .await
    .expect(404);
    let r = app.get(&path, None).await.expect(200);
    assert_eq!(r.body["article"]["body"], "the body");
    let comments = app.get(&format!("{path}/comments"), None).await.expect(200);
    assert_eq!(comments.body["comments"].as_array().unwrap().len(), 1);
}

#[actix_rt::test]
async fn api2_broken_authentication_forged_expired_and_revoked_tokens_are_refused() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    let (header_and_claims, signature) = token.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let forged = format!("{header_and_claims}.{flipped}{}", &signature[1..]);
    // header {"alg":"none"}, payload {"sub":"1","exp":9999999999,"pwd":"0"}
    let unsigned =
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIiwiZXhwIjo5OTk5OTk5OTk5LCJwd2QiOiIwIn0.";
    for bad in [forged.as_str(), unsigned, "", "Token", "a.b.c"] {
        app.get("/api/user", Some(bad)).await.expect(401);
        // Also where a token is optional: one that is sent must be valid.
        app.get("/api/articles", Some(bad)).await.expect(401);
    }
    let new = app.change_password(&token, "a brand new password").await;
    app.get("/api/user", Some(&token)).await.expect(401);
    app.get("/api/articles", Some(&token)).await.expect(401);
    app.get("/api/user", Some(&new)).await.expect(200);
}

#[actix_rt::test]
async fn api3_broken_object_property_level_authorization_no_mass_assignment_or_data_exposure() {
    let app = spawn_app().await;
    let jake = app.register("jake").await;
    let other = app.register("other").await;
    let r = app
        .put(
            "/api/user",
            Some(&jake),
            json!({"user": {"bio": "hi", "id": 2, "password_hash": "x", "passwordHash": "x", "articles_authored": 99, "admin": true}}),
        )
        .await
        .expect(200);
    assert_eq!(r.body["user"]["username"], "jake");
    let slug = app
        .post(
            "/api/articles",
            Some(&jake),
            json!({"article": {"title": "Mass", "description": "d", "body": "b", "slug": "chosen", "favoritesCount": 1000, "author": {"username": "other"}, "createdAt": "2000-01-01T00:00:00.000Z"}}),
        )
        .await
        .expect(201)
        .body["article"]
        .clone();
    assert_eq!(slug["slug"], "mass");
    assert_eq!(slug["favoritesCount"], 0);
    assert_eq!(slug["author"]["username"], "jake");
    assert_ne!(slug["createdAt"], "2000-01-01T00:00:00.000Z");
    // Login still works with the old password: password_hash was ignored.
    app.post(
        "/api/users/login",
        None,
        json!({"user": {"email": "jake@example.com", "password": PASSWORD}}),
    )
    .await
    .expect(200);
    // Nothing about another user beyond their public profile.
    for path in ["/api/profiles/jake", "/api/articles", "/api/articles/mass"] {
        let r = app.get(path, Some(&other)).await.expect(200);
        let text = String::from_utf8_lossy(&r.raw).to_lowercase();
        for secret in ["email", "password", "hash", "token", "\"id\""] {
            assert!(!text.contains(secret), "{path} exposes {secret}: {text}");
        }
    }
}

#[actix_rt::test]
async fn api4_unrestricted_resource_consumption_pages_and_bodies_are_bounded() {
    let app = spawn_app_with(&[("BODY_LIMIT_BYTES", "4096")]).await;
    let token = app.register("jake").await;
    for i in 0..3 {
        app.create_article(&token, &format!("Post {i}"), &[]).await;
    }
    let r = app
        .get("/api/articles?limit=1000000", None)
        .await
        .expect(200);
    assert_eq!(r.body["articles"].as_array().unwrap().len(), 3);
    app.post(
        "/api/articles",
        Some(&token),
        json!({"article": {"title": "t", "description": "d", "body": "x".repeat(5000)}}),
    )
    .await
    .expect(413);
}

#[actix_rt::test]
async fn api5_broken_function_level_authorization_every_write_needs_a_token() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    let slug = app.create_article_slug(&token, "Guarded", &[]).await;
    let a = format!("/api/articles/{slug}");
    for (method, path) in [
        ("GET", "/api/user".to_owned()),
        ("PUT", "/api/user".to_owned()),
        ("GET", "/api/articles/feed".to_owned()),
        ("POST", "/api/articles".to_owned()),
        ("PUT", a.clone()),
        ("DELETE", a.clone()),
        ("POST", format!("{a}/favorite")),
        ("DELETE", format!("{a}/favorite")),
        ("POST", format!("{a}/comments")),
        ("DELETE", format!("{a}/comments/1")),
        ("POST", "/api/profiles/jake/follow".to_owned()),
        ("DELETE", "/api/profiles/jake/follow".to_owned()),
    ] {
        let r = app.call(method, &path, None, Some(json!({}))).await;
        assert_eq!(r.status.as_u16(), 401, "{method} {path}");
        assert_eq!(r.header("www-authenticate").as_deref(), Some("Token"));
    }
}

#[actix_rt::test]
async fn api6_unrestricted_access_to_sensitive_flows_login_and_signup_are_rate_limited() {
    let app = spawn_app_with(&[
        ("RATE_LIMIT", "on"),
        ("RATE_LIMIT_PER_MINUTE", "1"),
        ("RATE_LIMIT_BURST", "3"),
    ])
    .await;
    let guess =
        |n: u32| json!({"user": {"email": "victim@example.com", "password": format!("guess-{n}")}});
    let statuses: Vec<u16> = {
        let mut out = Vec::new();
        for n in 0..5 {
            out.push(
                app.post("/api/users/login", None, guess(n))
                    .await
                    .status
                    .as_u16(),
            );
        }
        out
    };
    assert_eq!(statuses, vec![401, 401, 401, 429, 429]);
}

#[actix_rt::test]
async fn api7_server_side_request_forgery_images_are_stored_never_fetched_and_only_http() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    for bad in [
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_FLUSHALL",
        "javascript:alert(1)",
    ] {
        app.put("/api/user", Some(&token), json!({"user": {"image": bad}}))
            .await
            .expect(422);
    }
    // An internal address is stored as text for the client; the server
    // never requests it (it has no HTTP client at all).
    let r = app
        .put(
            "/api/user",
            Some(&token),
            json!({"user": {"image": "http://169.254.169.254/latest"}}),
        )
        .await
        .expect(200);
    assert_eq!(r.body["user"]["image"], "http://169.254.169.254/latest");
}

#[actix_rt::test]
async fn api8_security_misconfiguration_headers_and_errors_reveal_nothing() {
    let app = spawn_app().await;
    for path in ["/api/tags", "/api/nope", "/health"] {
        let r = app.get(path, None).await;
        assert_eq!(
            r.header("x-content-type-options").as_deref(),
            Some("nosniff")
        );
        let csp = r.header("content-security-policy").unwrap();
        assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
        assert_eq!(r.header("x-frame-options").as_deref(), Some("DENY"));
        assert!(r.header("server").is_none(), "no server banner");
    }
}

#[actix_rt::test]
async fn api9_improper_inventory_management_unknown_routes_are_plain_404s() {
    let app = spawn_app().await;
    for path in [
        "/admin",
        "/api/debug",
        "/api/v2/articles",
        "/.env",
        "/metrics/../admin",
    ] {
        let r = app.get(path, None).await.expect(404);
        assert!(r.body["errors"].is_object(), "{path}");
    }
}

#[actix_rt::test]
async fn injection_sql_metacharacters_are_data_not_code() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    app.create_article(&token, "Real", &["real"]).await;
    for evil in [
        "' OR '1'='1",
        "x'; DROP TABLE articles; --",
        "\" OR 1=1 --",
        "%' --",
    ] {
        let q = urlencode(evil);
        for filter in ["tag", "author", "favorited"] {
            let r = app
                .get(&format!("/api/articles?{filter}={q}"), None)
                .await
                .expect(200);
            assert_eq!(r.body["articlesCount"], 0, "{filter}={evil}");
        }
        app.get(&format!("/api/profiles/{q}"), None)
            .await
            .expect(404);
        app.get(&format!("/api/articles/{q}"), None)
            .await
            .expect(404);
    }
    // Stored as given, and the table is still there.
    let r = app
        .post(
            "/api/articles",
            Some(&token),
            json!({"article": {"title": "x'; DROP TABLE articles; --", "description": "d", "body": "b", "tagList": ["' OR 1=1"]}}),
        )
        .await
        .expect(201);
    assert_eq!(r.body["article"]["title"], "x'; DROP TABLE articles; --");
    let list = app.get("/api/articles", None).await.expect(200);
    assert_eq!(list.body["articlesCount"], 2);
    let tagged = app
        .get(
            &format!("/api/articles?tag={}", urlencode("' OR 1=1")),
            None,
        )
        .await
        .expect(200);
    assert_eq!(tagged.body["articlesCount"], 1);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
