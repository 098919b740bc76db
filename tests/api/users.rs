//! Registration, login, current user and profile updates.

use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::*;

fn new_user(username: &str, email: &str, password: &str) -> serde_json::Value {
    json!({"user": {"username": username, "email": email, "password": password}})
}

#[actix_rt::test]
async fn register_returns_201_with_a_token_and_null_bio_and_image() {
    let app = spawn_app().await;
    let reply = app
        .post(
            "/api/users",
            None,
            new_user("jake", "Jake@Example.com", PASSWORD),
        )
        .await
        .expect(201);
    let user = &reply.body["user"];
    assert_eq!(user["username"], "jake");
    assert_eq!(
        user["email"], "jake@example.com",
        "emails are stored lowercased"
    );
    assert!(user["bio"].is_null() && user["image"].is_null());
    assert!(user["token"].as_str().unwrap().split('.').count() == 3);
    assert!(user.get("password").is_none() && user.get("password_hash").is_none());
}

#[actix_rt::test]
async fn register_rejects_invalid_input_naming_each_field() {
    let app = spawn_app().await;
    let r = app
        .post("/api/users", None, json!({"user": {}}))
        .await
        .expect(422);
    for field in ["username", "email", "password"] {
        assert_eq!(r.errors_for(field), vec!["can't be blank"], "{field}");
    }
    let r = app
        .post("/api/users", None, new_user("ok", "not-an-email", PASSWORD))
        .await
        .expect(422);
    assert_eq!(r.errors_for("email"), vec!["is invalid"]);
    let r = app
        .post(
            "/api/users",
            None,
            new_user("ok", "ok@example.com", "short"),
        )
        .await
        .expect(422);
    assert!(!r.errors_for("password").is_empty());
    let r = app
        .post(
            "/api/users",
            None,
            new_user("bad name!", "ok@example.com", PASSWORD),
        )
        .await
        .expect(422);
    assert!(!r.errors_for("username").is_empty());
    let r = app
        .post(
            "/api/users",
            None,
            new_user(&"x".repeat(41), "ok@example.com", PASSWORD),
        )
        .await
        .expect(422);
    assert!(!r.errors_for("username").is_empty());
    // Nothing was written by the failed attempts.
    app.post(
        "/api/users",
        None,
        new_user("ok", "ok@example.com", PASSWORD),
    )
    .await
    .expect(201);
}

#[actix_rt::test]
async fn usernames_may_contain_dots_dashes_and_underscores() {
    let app = spawn_app().await;
    app.post(
        "/api/users",
        None,
        new_user("j.doe-x_1", "jd@example.com", PASSWORD),
    )
    .await
    .expect(201);
    app.get("/api/profiles/j.doe-x_1", None).await.expect(200);
}

#[actix_rt::test]
async fn duplicate_username_or_email_is_422_case_insensitively() {
    let app = spawn_app().await;
    app.register("jake").await;
    let r = app
        .post(
            "/api/users",
            None,
            new_user("JAKE", "other@example.com", PASSWORD),
        )
        .await
        .expect(422);
    assert_eq!(r.errors_for("username"), vec!["has already been taken"]);
    let r = app
        .post(
            "/api/users",
            None,
            new_user("other", "JAKE@example.COM", PASSWORD),
        )
        .await
        .expect(422);
    assert_eq!(r.errors_for("email"), vec!["has already been taken"]);
}

#[actix_rt::test]
async fn concurrent_duplicate_registrations_create_exactly_one_user() {
    let app = spawn_app_with(&[("PASSWORD_HASH_CONCURRENCY", "4")]).await;
    let attempts = (0..5).map(|i| {
        app.post(
            "/api/users",
            None,
            new_user("twin", &format!("twin{i}@example.com"), PASSWORD),
        )
    });
    let replies = join_all(attempts).await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    let rejected = replies.iter().filter(|r| r.status == 422).count();
    assert_eq!(
        (created, rejected),
        (1, 4),
        "statuses: {:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for r in replies.iter().filter(|r| r.status == 422) {
        assert_eq!(r.errors_for("username"), vec!["has already been taken"]);
    }
}

#[actix_rt::test]
async fn login_returns_the_user_with_a_fresh_token() {
    let app = spawn_app().await;
    app.register("jake").await;
    let r = app
        .post(
            "/api/users/login",
            None,
            json!({"user": {"email": "JAKE@example.com", "password": PASSWORD}}),
        )
        .await
        .expect(200);
    assert_eq!(r.body["user"]["username"], "jake");
    let token = r.body["user"]["token"].as_str().unwrap().to_owned();
    app.get("/api/user", Some(&token)).await.expect(200);
}

#[actix_rt::test]
async fn login_failure_does_not_reveal_whether_the_email_exists() {
    let app = spawn_app().await;
    app.register("jake").await;
    let wrong_password = app
        .post(
            "/api/users/login",
            None,
            json!({"user": {"email": "jake@example.com", "password": "wrong password"}}),
        )
        .await
        .expect(401);
    let unknown_email = app
        .post(
            "/api/users/login",
            None,
            json!({"user": {"email": "nobody@example.com", "password": "wrong password"}}),
        )
        .await
        .expect(401);
    assert_eq!(wrong_password.body, unknown_email.body);
    app.post("/api/users/login", None, json!({"user": {"email": ""}}))
        .await
        .expect(422);
}

#[actix_rt::test]
async fn current_user_requires_a_valid_token() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    let r = app.get("/api/user", Some(&token)).await.expect(200);
    assert_eq!(r.body["user"]["token"], token.as_str());
    assert_eq!(r.body["user"]["email"], "jake@example.com");
    let r = app.get("/api/user", None).await.expect(401);
    assert!(r.body["errors"].is_object());
    app.get("/api/user", Some("not.a.token")).await.expect(401);
    let tampered = format!("{}x", token);
    app.get("/api/user", Some(&tampered)).await.expect(401);
    let bearer = app
        .client
        .get(app.url("/api/user"))
        .insert_header(("Authorization", "Basic abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 401);
}

#[actix_rt::test]
async fn update_changes_profile_fields_and_password() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    let r = app
        .put(
            "/api/user",
            Some(&token),
            json!({"user": {"bio": "I like to skateboard", "image": "https://i.example.com/j.png", "username": "jacob", "email": "jacob@example.com", "password": "a new password"}}),
        )
        .await
        .expect(200);
    let user = &r.body["user"];
    assert_eq!(user["bio"], "I like to skateboard");
    assert_eq!(user["image"], "https://i.example.com/j.png");
    assert_eq!(user["username"], "jacob");
    assert_eq!(user["email"], "jacob@example.com");
    // The new password revoked the old token; the response carries a new one.
    let new_token = user["token"].as_str().unwrap().to_owned();
    assert_ne!(new_token, token);
    app.get("/api/user", Some(&token)).await.expect(401);
    app.get("/api/user", Some(&new_token)).await.expect(200);
    app.post(
        "/api/users/login",
        None,
        json!({"user": {"email": "jacob@example.com", "password": PASSWORD}}),
    )
    .await
    .expect(401);
    app.post(
        "/api/users/login",
        None,
        json!({"user": {"email": "jacob@example.com", "password": "a new password"}}),
    )
    .await
    .expect(200);
    // null and "" clear nullable fields.
    let r = app
        .put(
            "/api/user",
            Some(&new_token),
            json!({"user": {"bio": null, "image": ""}}),
        )
        .await
        .expect(200);
    assert!(r.body["user"]["bio"].is_null() && r.body["user"]["image"].is_null());
}

#[actix_rt::test]
async fn update_validates_fields_and_uniqueness() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    app.register("taken").await;
    let r = app
        .put(
            "/api/user",
            Some(&token),
            json!({"user": {"email": "Taken@example.com"}}),
        )
        .await
        .expect(422);
    assert_eq!(r.errors_for("email"), vec!["has already been taken"]);
    let r = app
        .put(
            "/api/user",
            Some(&token),
            json!({"user": {"image": "javascript:alert(1)"}}),
        )
        .await
        .expect(422);
    assert!(!r.errors_for("image").is_empty());
    app.put(
        "/api/user",
        Some(&token),
        json!({"user": {"password": "short"}}),
    )
    .await
    .expect(422);
    app.put("/api/user", Some(&token), json!({"user": {}}))
        .await
        .expect(422);
    app.put("/api/user", None, json!({"user": {"bio": "x"}}))
        .await
        .expect(401);
    // Keeping one's own username (any case) is not a conflict.
    app.put(
        "/api/user",
        Some(&token),
        json!({"user": {"username": "JAKE"}}),
    )
    .await
    .expect(200);
}
