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

#[actix_rt::test]
async fn sharded_tag_counts_stay_exact_through_creates_and_deletes() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    let mut evens = Vec::new();
    // Twenty creates land in random counter shards; every read sums them.
    for i in 0..20 {
        let parity = if i % 2 == 0 { "even" } else { "odd" };
        let slug = app
            .create_article_slug(&token, &format!("Post {i}"), &["hot", parity])
            .await;
        if i % 2 == 0 {
            evens.push(slug);
        }
    }
    let count = |tag: &'static str| {
        let app = &app;
        async move {
            app.get(&format!("/api/articles?tag={tag}&limit=1"), None)
                .await
                .expect(200)
                .body["articlesCount"]
                .clone()
        }
    };
    assert_eq!(count("hot").await, 20);
    assert_eq!(count("even").await, 10);
    assert_eq!(count("odd").await, 10);
    let tags = app.get("/api/tags", None).await.expect(200).body["tags"].clone();
    assert_eq!(
        tags,
        serde_json::json!(["hot", "even", "odd"]),
        "ties by name"
    );

    for slug in evens.drain(..6) {
        app.delete(&format!("/api/articles/{slug}"), Some(&token))
            .await
            .expect(204);
    }
    assert_eq!(count("hot").await, 14);
    assert_eq!(count("even").await, 4);
    let tags = app.get("/api/tags", None).await.expect(200).body["tags"].clone();
    assert_eq!(tags, serde_json::json!(["hot", "odd", "even"]));

    for slug in evens {
        app.delete(&format!("/api/articles/{slug}"), Some(&token))
            .await
            .expect(204);
    }
    assert_eq!(count("even").await, 0);
    let tags = app.get("/api/tags", None).await.expect(200).body["tags"].clone();
    assert_eq!(
        tags,
        serde_json::json!(["hot", "odd"]),
        "unused tags are not listed"
    );
}
