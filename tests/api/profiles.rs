//! Profiles and following.

use serde_json::json;

use crate::helpers::*;

#[actix_rt::test]
async fn profile_is_public_and_case_insensitive() {
    let app = spawn_app().await;
    app.register("celeb").await;
    let r = app.get("/api/profiles/celeb", None).await.expect(200);
    assert_eq!(
        r.body,
        json!({"profile": {"username": "celeb", "bio": null, "image": null, "following": false}})
    );
    app.get("/api/profiles/CELEB", None).await.expect(200);
    let r = app.get("/api/profiles/nobody", None).await.expect(404);
    assert!(r.body["errors"].is_object());
}

#[actix_rt::test]
async fn follow_and_unfollow_are_seen_from_the_viewer_side() {
    let app = spawn_app().await;
    let fan = app.register("fan").await;
    let other = app.register("other").await;
    app.register("celeb").await;
    let r = app
        .post("/api/profiles/celeb/follow", Some(&fan), json!({}))
        .await
        .expect(200);
    assert_eq!(r.body["profile"]["following"], true);
    // Idempotent.
    app.post("/api/profiles/celeb/follow", Some(&fan), json!({}))
        .await
        .expect(200);
    let r = app.get("/api/profiles/celeb", Some(&fan)).await.expect(200);
    assert_eq!(r.body["profile"]["following"], true);
    let r = app
        .get("/api/profiles/celeb", Some(&other))
        .await
        .expect(200);
    assert_eq!(r.body["profile"]["following"], false);
    let r = app.get("/api/profiles/celeb", None).await.expect(200);
    assert_eq!(r.body["profile"]["following"], false);
    let r = app
        .delete("/api/profiles/celeb/follow", Some(&fan))
        .await
        .expect(200);
    assert_eq!(r.body["profile"]["following"], false);
    let r = app.get("/api/profiles/celeb", Some(&fan)).await.expect(200);
    assert_eq!(r.body["profile"]["following"], false);
}

#[actix_rt::test]
async fn following_needs_auth_an_existing_user_and_someone_else() {
    let app = spawn_app().await;
    let me = app.register("me").await;
    app.register("celeb").await;
    app.post("/api/profiles/celeb/follow", None, json!({}))
        .await
        .expect(401);
    app.delete("/api/profiles/celeb/follow", None)
        .await
        .expect(401);
    app.post("/api/profiles/nobody/follow", Some(&me), json!({}))
        .await
        .expect(404);
    app.post("/api/profiles/me/follow", Some(&me), json!({}))
        .await
        .expect(422);
}
