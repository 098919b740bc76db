//! Requests that fail before any handler runs still get the JSON error shape.

use crate::helpers::*;

#[actix_rt::test]
async fn unknown_routes_are_json_404s() {
    let app = spawn_app().await;
    for path in ["/api/nope", "/nope", "/api/articles/x/y/z"] {
        let r = app.get(path, None).await.expect(404);
        assert!(
            r.body["errors"].is_object(),
            "{path}: {:?}",
            String::from_utf8_lossy(&r.raw)
        );
    }
}

#[actix_rt::test]
async fn wrong_method_is_a_json_405_naming_the_allowed_ones() {
    let app = spawn_app().await;
    for (method, path, allow) in [
        ("PATCH", "/api/user", "GET, PUT"),
        ("DELETE", "/api/tags", "GET"),
        ("PUT", "/api/articles", "GET, POST"),
        ("GET", "/api/users/login", "POST"),
        ("POST", "/api/articles/x/comments/1", "DELETE"),
        ("POST", "/health", "GET"),
    ] {
        let r = app.call(method, path, None, None).await.expect(405);
        assert!(r.body["errors"].is_object());
        assert_eq!(r.header("allow").as_deref(), Some(allow), "{method} {path}");
    }
}

#[actix_rt::test]
async fn malformed_json_and_wrong_content_type_are_json_422s() {
    let app = spawn_app().await;
    let r = app
        .client
        .post(app.url("/api/users"))
        .insert_header(("content-type", "application/json"))
        .send_body("{not json")
        .await
        .unwrap();
    let r = read(r).await.expect(422);
    assert!(!r.errors_for("body").is_empty());
    let r = app
        .client
        .post(app.url("/api/users"))
        .insert_header(("content-type", "text/plain"))
        .send_body("hello")
        .await
        .unwrap();
    let r = read(r).await.expect(422);
    assert!(!r.errors_for("body").is_empty());
    // Wrong JSON types.
    let r = app
        .post(
            "/api/users",
            None,
            serde_json::json!({"user": {"username": 5, "email": [], "password": true}}),
        )
        .await
        .expect(422);
    assert!(r.body["errors"].is_object());
    let r = app
        .post("/api/users", None, serde_json::json!([1, 2]))
        .await
        .expect(422);
    assert!(r.body["errors"].is_object());
}

#[actix_rt::test]
async fn too_large_bodies_are_json_413s() {
    let app = spawn_app_with(&[("BODY_LIMIT_BYTES", "1024")]).await;
    let token = app.register("jake").await;
    let big = "x".repeat(2048);
    let r = app
        .post(
            "/api/articles",
            Some(&token),
            serde_json::json!({"article": {"title": "t", "description": "d", "body": big}}),
        )
        .await
        .expect(413);
    assert!(!r.errors_for("body").is_empty());
}
