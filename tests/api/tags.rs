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

/// Tag lists asked for at once share one query (`db::Batcher`), and that
/// query starts after every request it answers arrived: while a reader keeps
/// a query in flight most of the time, a list requested after a create was
/// acknowledged still always has the new tag (joining the query in flight
/// would sometimes miss it). The response cache is off, so each request
/// reaches the database path; each is counted in exactly one batch.
#[actix_rt::test]
async fn shared_tag_queries_answer_each_request_and_never_miss_an_acknowledged_write() {
    let app = spawn_app_with(&[("CACHE_MAX_AGE_SECONDS", "0"), ("CACHE_SIGNED_IN_MS", "0")]).await;
    let token = app.register("jake").await;
    let stop = std::cell::Cell::new(false);
    let background = async {
        let mut requests = 0u32;
        while !stop.get() {
            app.get("/api/tags", None).await.expect(200);
            requests += 1;
        }
        requests
    };
    let checks = async {
        let mut requests = 0u32;
        for i in 0..8 {
            let tag = format!("tag{i}");
            app.create_article(&token, &format!("Article {i}"), &[tag.as_str()])
                .await;
            let reads = (0..12).map(|_| app.get("/api/tags", None));
            for r in futures_util::future::join_all(reads).await {
                let r = r.expect(200);
                let tags = r.body["tags"].as_array().unwrap();
                assert_eq!(tags.len(), i + 1, "{tags:?}");
                assert!(tags.iter().any(|t| t == tag.as_str()), "{tags:?}");
                requests += 1;
            }
        }
        stop.set(true);
        requests
    };
    let (background, checked) = futures_util::future::join(background, checks).await;
    let served = app
        .metric(r#"conduit_db_batch_size_sum{kind="tags"}"#)
        .await;
    assert_eq!(served, f64::from(background + checked));
}
