//! `GET /tags`.

use crate::helpers::*;

#[actix_rt::test]
async fn tags_lists_each_tag_in_use_once() {
    let app = spawn_app().await;
    let r = app.get("/api/tags", None).await.expect(200);
    assert_eq!(r.body, serde_json::json!({"tags": []}));
    let token = app.register("jake").await;
    app.create_article(&token, "One", &["rust", "web"]).await;
    let slug = app
        .create_article_slug(&token, "Two", &["rust", "db"])
        .await;
    let r = app.get("/api/tags", None).await.expect(200);
    let mut tags: Vec<String> = serde_json::from_value(r.body["tags"].clone()).unwrap();
    assert_eq!(tags[0], "rust", "most used first");
    tags.sort();
    assert_eq!(tags, vec!["db", "rust", "web"]);
    // A tag no article uses any more is not "in use".
    app.delete(&format!("/api/articles/{slug}"), Some(&token))
        .await
        .expect(204);
    let r = app.get("/api/tags", None).await.expect(200);
    let mut tags: Vec<String> = serde_json::from_value(r.body["tags"].clone()).unwrap();
    tags.sort();
    assert_eq!(tags, vec!["rust", "web"]);
}
