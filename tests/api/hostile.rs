//! Hostile and malformed input: the same answer on both databases, a 4xx with
//! the JSON error shape, never a 5xx.

use serde_json::{json, Value};

use crate::helpers::*;

#[actix_rt::test]
async fn nul_characters_in_bodies_are_422s_naming_the_field() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    let slug = app.create_article_slug(&token, "Target", &[]).await;
    let nul = "bad\u{0}value";
    let cases: Vec<(&str, String, Value, &str)> = vec![
        (
            "POST",
            "/api/users".into(),
            json!({"user": {"username": nul, "email": "n@example.com", "password": PASSWORD}}),
            "username",
        ),
        (
            "POST",
            "/api/users".into(),
            json!({"user": {"username": "nul", "email": "n\u{0}@example.com", "password": PASSWORD}}),
            "email",
        ),
        (
            "POST",
            "/api/users/login".into(),
            json!({"user": {"email": "jake\u{0}@example.com", "password": PASSWORD}}),
            "email",
        ),
        (
            "PUT",
            "/api/user".into(),
            json!({"user": {"bio": nul}}),
            "bio",
        ),
        (
            "PUT",
            "/api/user".into(),
            json!({"user": {"image": "https://x.example/\u{0}"}}),
            "image",
        ),
        (
            "POST",
            "/api/articles".into(),
            json!({"article": {"title": nul, "description": "d", "body": "b"}}),
            "title",
        ),
        (
            "POST",
            "/api/articles".into(),
            json!({"article": {"title": "t", "description": nul, "body": "b"}}),
            "description",
        ),
        (
            "POST",
            "/api/articles".into(),
            json!({"article": {"title": "t", "description": "d", "body": nul}}),
            "body",
        ),
        (
            "POST",
            "/api/articles".into(),
            json!({"article": {"title": "t", "description": "d", "body": "b", "tagList": [nul]}}),
            "tagList",
        ),
        (
            "PUT",
            format!("/api/articles/{slug}"),
            json!({"article": {"body": nul}}),
            "body",
        ),
        (
            "POST",
            format!("/api/articles/{slug}/comments"),
            json!({"comment": {"body": nul}}),
            "body",
        ),
    ];
    for (method, path, body, field) in cases {
        let r = app
            .call(method, &path, Some(&token), Some(body))
            .await
            .expect(422);
        assert!(
            !r.errors_for(field).is_empty(),
            "{method} {path}: {}",
            r.body
        );
    }
}

#[actix_rt::test]
async fn nul_characters_in_paths_and_filters_find_nothing() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    app.create_article(&token, "Listed", &["t"]).await;
    for path in [
        "/api/articles/a%00b",
        "/api/articles/a%00b/comments",
        "/api/profiles/ja%00ke",
    ] {
        let r = app.get(path, Some(&token)).await.expect(404);
        assert!(r.body["errors"].is_object(), "{path}");
    }
    for filter in ["tag", "author", "favorited"] {
        let r = app
            .get(&format!("/api/articles?{filter}=x%00y"), None)
            .await
            .expect(200);
        assert_eq!(r.body["articlesCount"], 0, "{filter}");
        assert_eq!(r.body["articles"], json!([]));
    }
    app.post("/api/profiles/ja%00ke/follow", Some(&token), json!({}))
        .await
        .expect(404);
    app.post("/api/articles/a%00b/favorite", Some(&token), json!({}))
        .await
        .expect(404);
}

#[actix_rt::test]
async fn validation_errors_use_the_names_the_client_sent() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    let r = app
        .post(
            "/api/articles",
            Some(&token),
            json!({"article": {"title": "t", "description": "d", "body": "b", "tagList": [" "]}}),
        )
        .await
        .expect(422);
    assert!(!r.errors_for("tagList").is_empty(), "{}", r.body);
    assert!(r.body["errors"].get("tag_list").is_none());
    for (query, field) in [
        ("limit=abc", "limit"),
        ("offset=-1", "offset"),
        ("limit=0", "limit"),
        ("offset=1.5", "offset"),
    ] {
        let r = app
            .get(&format!("/api/articles?{query}"), None)
            .await
            .expect(422);
        assert!(!r.errors_for(field).is_empty(), "{query}: {}", r.body);
    }
    let r = app
        .get("/api/articles/feed?limit=x", Some(&token))
        .await
        .expect(422);
    assert!(!r.errors_for("limit").is_empty());
}

#[actix_rt::test]
async fn deep_huge_and_malformed_bodies_are_4xx_json() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let too_many_tags: Vec<String> = (0..2_000).map(|i| format!("t{i}")).collect();
    let bodies: Vec<Vec<u8>> = vec![
        deep.into_bytes(),
        serde_json::to_vec(&json!({"article": {"title": "t", "description": "d", "body": "b", "tagList": too_many_tags}}))
            .unwrap(),
        b"{\"article\": {\"title\": \"\xff\xfe\", \"description\": \"d\", \"body\": \"b\"}}".to_vec(),
        b"{\"article\": 1e999999}".to_vec(),
        b"\xef\xbb\xbf{\"article\": {}}".to_vec(),
    ];
    for body in bodies {
        let res = app
            .client
            .post(app.url("/api/articles"))
            .insert_header(("content-type", "application/json"))
            .insert_header(("authorization", format!("Token {token}")))
            .send_body(body)
            .await
            .unwrap();
        let r = read(res).await;
        assert!(r.status.is_client_error(), "{}: {}", r.status, r.body);
        assert!(r.body["errors"].is_object(), "{}", r.body);
    }
    // Far beyond the body limit, announced or not.
    let big = "x".repeat(2 * 1024 * 1024);
    let r = app
        .post(
            "/api/articles",
            Some(&token),
            json!({"article": {"title": "t", "description": "d", "body": big}}),
        )
        .await
        .expect(413);
    assert!(r.body["errors"].is_object());
}

#[actix_rt::test]
async fn unusual_methods_and_paths_are_json_4xx() {
    let app = spawn_app().await;
    for (method, path) in [
        ("PATCH", "/api/articles"),
        ("TRACE", "/api/tags"),
        ("PROPFIND", "/api/user"),
        ("DELETE", "/api/tags"),
        ("GET", "/api/profiles/%FF%FE"),
        ("GET", "/api/articles/x/comments/not-a-number"),
        ("GET", "/../../etc/passwd"),
    ] {
        let r = app.call(method, path, None, None).await;
        assert!(r.status.is_client_error(), "{method} {path}: {}", r.status);
        assert!(r.body["errors"].is_object(), "{method} {path}");
    }
}

#[actix_rt::test]
async fn oversized_headers_are_refused_without_affecting_others() {
    let app = spawn_app().await;
    // Beyond 128 KiB of head, or 96 headers, the HTTP layer refuses the
    // request (431) before the application sees it.
    let big = app
        .client
        .get(app.url("/api/tags"))
        .insert_header(("x-padding", "p".repeat(200 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 431);
    let mut many = app.client.get(app.url("/api/tags"));
    for i in 0..120 {
        many = many.insert_header((format!("x-h{i}"), "v"));
    }
    assert_eq!(many.send().await.unwrap().status(), 431);
    app.get("/api/tags", None).await.expect(200);
}
