//! Comments on articles.

use serde_json::json;

use crate::helpers::*;

#[actix_rt::test]
async fn add_list_and_delete_comments() {
    let app = spawn_app().await;
    let jake = app.register("jake").await;
    let anna = app.register("anna").await;
    let slug = app.create_article_slug(&jake, "Talk", &[]).await;
    let path = format!("/api/articles/{slug}/comments");
    let r = app
        .post(&path, Some(&anna), json!({"comment": {"body": "First!"}}))
        .await
        .expect(200);
    let c = &r.body["comment"];
    assert_eq!(c["body"], "First!");
    assert_eq!(c["author"]["username"], "anna");
    assert!(c["id"].is_i64() && c["createdAt"].is_string() && c["updatedAt"].is_string());
    let first_id = c["id"].as_i64().unwrap();
    app.post(&path, Some(&jake), json!({"comment": {"body": "Second"}}))
        .await
        .expect(200);
    app.follow(&jake, "anna").await;
    let r = app.get(&path, Some(&jake)).await.expect(200);
    let list = r.body["comments"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["body"], "First!");
    assert_eq!(list[0]["author"]["following"], true, "seen from the viewer");
    let r = app.get(&path, None).await.expect(200);
    assert_eq!(r.body["comments"][0]["author"]["following"], false);

    app.delete(&format!("{path}/{first_id}"), Some(&jake))
        .await
        .expect(403);
    app.delete(&format!("{path}/{first_id}"), None)
        .await
        .expect(401);
    app.delete(&format!("{path}/{first_id}"), Some(&anna))
        .await
        .expect(204);
    app.delete(&format!("{path}/{first_id}"), Some(&anna))
        .await
        .expect(404);
    let r = app.get(&path, None).await.expect(200);
    assert_eq!(r.body["comments"].as_array().unwrap().len(), 1);
}

#[actix_rt::test]
async fn comment_errors() {
    let app = spawn_app().await;
    let jake = app.register("jake").await;
    let slug = app.create_article_slug(&jake, "Talk", &[]).await;
    let path = format!("/api/articles/{slug}/comments");
    app.post(&path, None, json!({"comment": {"body": "x"}}))
        .await
        .expect(401);
    let r = app
        .post(&path, Some(&jake), json!({"comment": {"body": "  "}}))
        .await
        .expect(422);
    assert!(!r.errors_for("body").is_empty());
    app.post(&path, Some(&jake), json!({"comment": {}}))
        .await
        .expect(422);
    app.post(
        "/api/articles/nope/comments",
        Some(&jake),
        json!({"comment": {"body": "x"}}),
    )
    .await
    .expect(404);
    app.get("/api/articles/nope/comments", None)
        .await
        .expect(404);
    app.delete(&format!("{path}/999999"), Some(&jake))
        .await
        .expect(404);
    let r = app
        .delete(&format!("{path}/not-a-number"), Some(&jake))
        .await
        .expect(404);
    assert!(r.body["errors"].is_object());
    // A comment id from another article is not found under this one.
    let other = app.create_article_slug(&jake, "Other", &[]).await;
    let r = app
        .post(
            &format!("/api/articles/{other}/comments"),
            Some(&jake),
            json!({"comment": {"body": "x"}}),
        )
        .await
        .expect(200);
    let id = r.body["comment"]["id"].as_i64().unwrap();
    app.delete(&format!("{path}/{id}"), Some(&jake))
        .await
        .expect(404);
}
