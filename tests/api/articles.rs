//! Articles: create, read, list with filters and pagination, feed, update,
//! delete, favorites, slugs, and the constant query count of a page.

use conduit::articles::repo::{self, NewArticle, NewArticleBy};
use conduit::db::schema::users;
use conduit::domain::{TagList, UserId};
use diesel::prelude::*;
use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::*;

fn is_rfc3339_millis_utc(s: &str) -> bool {
    // 2026-11-25T09:44:51.123Z
    s.len() == 24
        && s.ends_with('Z')
        && s.as_bytes()[10] == b'T'
        && s.as_bytes()[19] == b'.'
        && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

#[actix_rt::test]
async fn create_returns_201_with_the_full_article() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    let r = app
        .post(
            "/api/articles",
            Some(&token),
            json!({"article": {"title": "How to train your dragon", "description": "Ever wonder how?", "body": "You have to believe", "tagList": ["training", "dragons", " dragons "]}}),
        )
        .await
        .expect(201);
    let a = &r.body["article"];
    assert_eq!(a["slug"], "how-to-train-your-dragon");
    assert_eq!(a["title"], "How to train your dragon");
    assert_eq!(a["description"], "Ever wonder how?");
    assert_eq!(a["body"], "You have to believe");
    assert_eq!(
        a["tagList"],
        json!(["dragons", "training"]),
        "sorted and de-duplicated"
    );
    assert_eq!(a["favorited"], false);
    assert_eq!(a["favoritesCount"], 0);
    assert_eq!(
        a["author"],
        json!({"username": "jake", "bio": null, "image": null, "following": false})
    );
    assert!(
        is_rfc3339_millis_utc(a["createdAt"].as_str().unwrap()),
        "{}",
        a["createdAt"]
    );
    assert!(is_rfc3339_millis_utc(a["updatedAt"].as_str().unwrap()));
    let got = app
        .get("/api/articles/how-to-train-your-dragon", None)
        .await
        .expect(200);
    assert_eq!(&got.body["article"], a);
}

#[actix_rt::test]
async fn create_validates_and_requires_auth() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    let article = json!({"article": {"title": "t", "description": "d", "body": "b"}});
    app.post("/api/articles", None, article.clone())
        .await
        .expect(401);
    let r = app
        .post(
            "/api/articles",
            Some(&token),
            json!({"article": {"description": "d"}}),
        )
        .await
        .expect(422);
    assert_eq!(r.errors_for("title"), vec!["can't be blank"]);
    assert_eq!(r.errors_for("body"), vec!["can't be blank"]);
    app.post(
        "/api/articles",
        Some(&token),
        json!({"article": {"title": "   ", "description": "d", "body": "b"}}),
    )
    .await
    .expect(422);
    let many: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
    let r = app
        .post(
            "/api/articles",
            Some(&token),
            json!({"article": {"title": "t", "description": "d", "body": "b", "tagList": many}}),
        )
        .await
        .expect(422);
    assert!(
        !r.errors_for("tag_list").is_empty() || !r.errors_for("tagList").is_empty(),
        "{}",
        r.body
    );
    app.post("/api/articles", Some(&token), json!({"article": {"title": "t", "description": "d", "body": "b", "tagList": ["x".repeat(41)]}}))
        .await
        .expect(422);
    app.post(
        "/api/articles",
        Some(&token),
        json!({"article": {"title": "x".repeat(201), "description": "d", "body": "b"}}),
    )
    .await
    .expect(422);
    // Nothing was written.
    let r = app.get("/api/articles", None).await.expect(200);
    assert_eq!(r.body["articlesCount"], 0);
}

#[actix_rt::test]
async fn identical_titles_get_distinct_slugs_even_concurrently() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    let first = app.create_article_slug(&token, "Same title", &[]).await;
    assert_eq!(first, "same-title");
    let creates = (0..6).map(|_| {
        app.post(
            "/api/articles",
            Some(&token),
            json!({"article": {"title": "Same title", "description": "d", "body": "b", "tagList": ["x"]}}),
        )
    });
    let mut slugs: Vec<String> = join_all(creates)
        .await
        .into_iter()
        .map(|r| {
            r.expect(201).body["article"]["slug"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    slugs.push(first);
    slugs.sort();
    slugs.dedup();
    assert_eq!(slugs.len(), 7);
    assert!(slugs.iter().all(|s| s.starts_with("same-title")));
    let r = app.get("/api/articles?tag=x", None).await.expect(200);
    assert_eq!(r.body["articlesCount"], 6);
}

#[actix_rt::test]
async fn titles_without_sluggable_characters_still_work() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    let slug = app.create_article_slug(&token, "!!!", &[]).await;
    assert!(!slug.is_empty());
    let r = app
        .get(&format!("/api/articles/{slug}"), None)
        .await
        .expect(200);
    assert_eq!(r.body["article"]["title"], "!!!");
}

#[actix_rt::test]
async fn unknown_article_is_404() {
    let app = spawn_app().await;
    let r = app.get("/api/articles/nope", None).await.expect(404);
    assert!(r.body["errors"].is_object());
}

#[actix_rt::test]
async fn list_is_newest_first_omits_body_and_counts_all_matches() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    for i in 0..5 {
        app.create_article(&token, &format!("Article {i}"), &[])
            .await;
    }
    let r = app.get("/api/articles?limit=2", None).await.expect(200);
    assert_eq!(r.body["articlesCount"], 5, "the total, not the page size");
    assert_eq!(slugs(&r.body), vec!["article-4", "article-3"]);
    assert!(
        r.body["articles"][0].get("body").is_none(),
        "lists omit body"
    );
    let r = app
        .get("/api/articles?limit=2&offset=2", None)
        .await
        .expect(200);
    assert_eq!(slugs(&r.body), vec!["article-2", "article-1"]);
    let r = app.get("/api/articles?offset=4", None).await.expect(200);
    assert_eq!(slugs(&r.body), vec!["article-0"]);
    let r = app.get("/api/articles?offset=10", None).await.expect(200);
    assert_eq!(r.body["articles"], json!([]));
    assert_eq!(r.body["articlesCount"], 5);
}

#[actix_rt::test]
async fn pagination_parameters_are_bounded() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    app.create_article(&token, "One", &[]).await;
    app.get("/api/articles?limit=0", None).await.expect(422);
    let r = app.get("/api/articles?offset=-1", None).await.expect(422);
    assert!(!r.errors_for("offset").is_empty());
    app.get("/api/articles?limit=abc", None).await.expect(422);
    app.get("/api/articles?limit=99999999999999999999", None)
        .await
        .expect(422);
    // Above the cap (100) is served at the cap, not refused.
    let r = app.get("/api/articles?limit=1000", None).await.expect(200);
    assert_eq!(r.body["articles"].as_array().unwrap().len(), 1);
    app.get("/api/articles/feed?limit=0", Some(&token))
        .await
        .expect(422);
}

#[actix_rt::test]
async fn list_filters_by_tag_author_and_favorited() {
    let app = spawn_app().await;
    let jake = app.register("jake").await;
    let anna = app.register("anna").await;
    let a1 = app.create_article_slug(&jake, "Jake rust", &["rust"]).await;
    let a2 = app.create_article_slug(&jake, "Jake go", &["go"]).await;
    let a3 = app
        .create_article_slug(&anna, "Anna rust", &["rust", "db"])
        .await;
    app.favorite(&anna, &a1).await;
    app.favorite(&anna, &a2).await;

    let r = app.get("/api/articles?tag=rust", None).await.expect(200);
    assert_eq!(slugs(&r.body), vec![a3.clone(), a1.clone()]);
    assert_eq!(r.body["articlesCount"], 2);
    let r = app.get("/api/articles?author=jake", None).await.expect(200);
    assert_eq!(slugs(&r.body), vec![a2.clone(), a1.clone()]);
    assert_eq!(r.body["articlesCount"], 2);
    let r = app.get("/api/articles?author=JAKE", None).await.expect(200);
    assert_eq!(r.body["articlesCount"], 2);
    let r = app
        .get("/api/articles?favorited=anna", None)
        .await
        .expect(200);
    assert_eq!(slugs(&r.body), vec![a2.clone(), a1.clone()]);
    assert_eq!(r.body["articlesCount"], 2);
    let r = app
        .get("/api/articles?favorited=anna&tag=rust", None)
        .await
        .expect(200);
    assert_eq!(slugs(&r.body), vec![a1.clone()]);
    assert_eq!(r.body["articlesCount"], 1, "combined filters count exactly");
    let r = app
        .get("/api/articles?author=anna&tag=go", None)
        .await
        .expect(200);
    assert_eq!(r.body["articlesCount"], 0);
    for q in ["tag=nope", "author=nobody", "favorited=nobody"] {
        let r = app
            .get(&format!("/api/articles?{q}"), None)
            .await
            .expect(200);
        assert_eq!(r.body, json!({"articles": [], "articlesCount": 0}), "{q}");
    }
    // Signed-in lists carry the viewer's flags.
    let r = app
        .get("/api/articles?author=jake", Some(&anna))
        .await
        .expect(200);
    assert_eq!(r.body["articles"][0]["favorited"], true);
    assert_eq!(r.body["articles"][0]["favoritesCount"], 1);
}

#[actix_rt::test]
async fn feed_lists_only_followed_authors_and_needs_auth() {
    let app = spawn_app().await;
    let reader = app.register("reader").await;
    let jake = app.register("jake").await;
    let anna = app.register("anna").await;
    let j1 = app.create_article_slug(&jake, "J1", &[]).await;
    app.create_article_slug(&anna, "A1", &[]).await;
    let j2 = app.create_article_slug(&jake, "J2", &[]).await;
    let r = app
        .get("/api/articles/feed", Some(&reader))
        .await
        .expect(200);
    assert_eq!(r.body, json!({"articles": [], "articlesCount": 0}));
    app.follow(&reader, "jake").await;
    let r = app
        .get("/api/articles/feed", Some(&reader))
        .await
        .expect(200);
    assert_eq!(slugs(&r.body), vec![j2.clone(), j1.clone()]);
    assert_eq!(r.body["articlesCount"], 2);
    assert_eq!(r.body["articles"][0]["author"]["following"], true);
    assert!(r.body["articles"][0].get("body").is_none());
    let r = app
        .get("/api/articles/feed?limit=1&offset=1", Some(&reader))
        .await
        .expect(200);
    assert_eq!(slugs(&r.body), vec![j1]);
    app.get("/api/articles/feed", None).await.expect(401);
}

#[actix_rt::test]
async fn feed_pages_interleave_every_followed_author_newest_first() {
    let app = spawn_app().await;
    let reader = app.register("reader").await;
    let jake = app.register("jake").await;
    let anna = app.register("anna").await;
    let bob = app.register("bob").await;
    app.follow(&reader, "jake").await;
    app.follow(&reader, "anna").await;
    // Newest first: anna's 3 come after jake's 1..3 and before jake's 4..5,
    // so a page may hold any number of either author's; bob is not followed.
    app.put(
        "/api/user",
        Some(&anna),
        json!({"user": {"bio": "Anna writes", "image": "https://example.com/anna.png"}}),
    )
    .await
    .expect(200);
    let mut expected = Vec::new();
    let mut author_of = std::collections::HashMap::new();
    for (token, author, title) in [
        (&jake, "jake", "J1"),
        (&jake, "jake", "J2"),
        (&bob, "bob", "B1"),
        (&jake, "jake", "J3"),
        (&anna, "anna", "A1"),
        (&anna, "anna", "A2"),
        (&anna, "anna", "A3"),
        (&jake, "jake", "J4"),
        (&jake, "jake", "J5"),
    ] {
        let slug = app.create_article_slug(token, title, &[]).await;
        author_of.insert(slug.clone(), author);
        if author != "bob" {
            expected.insert(0, slug);
        }
    }
    app.favorite(&reader, &expected[3]).await;
    for limit in 1..=4 {
        for offset in 0..=expected.len() {
            let r = app
                .get(
                    &format!("/api/articles/feed?limit={limit}&offset={offset}"),
                    Some(&reader),
                )
                .await
                .expect(200);
            let end = (offset + limit).min(expected.len());
            assert_eq!(
                slugs(&r.body),
                expected[offset..end],
                "limit {limit} offset {offset}"
            );
            assert_eq!(r.body["articlesCount"], expected.len());
            for a in r.body["articles"].as_array().unwrap() {
                assert_eq!(a["author"]["following"], true);
                assert_eq!(a["favorited"], a["slug"] == expected[3].as_str());
                // Each row carries its own author's profile.
                let author = author_of[a["slug"].as_str().unwrap()];
                assert_eq!(a["author"]["username"], author);
                let (bio, image) = match author {
                    "anna" => (json!("Anna writes"), json!("https://example.com/anna.png")),
                    _ => (json!(null), json!(null)),
                };
                assert_eq!((&a["author"]["bio"], &a["author"]["image"]), (&bio, &image));
            }
        }
    }
}

#[actix_rt::test]
async fn only_the_author_may_update_and_a_new_title_moves_the_slug() {
    let app = spawn_app().await;
    let jake = app.register("jake").await;
    let anna = app.register("anna").await;
    let slug = app.create_article_slug(&jake, "Old title", &["t"]).await;
    let change = json!({"article": {"title": "New title"}});
    app.put(
        &format!("/api/articles/{slug}"),
        Some(&anna),
        change.clone(),
    )
    .await
    .expect(403);
    app.put(&format!("/api/articles/{slug}"), None, change.clone())
        .await
        .expect(401);
    app.put("/api/articles/nope", Some(&jake), change.clone())
        .await
        .expect(404);
    let r = app
        .put(
            &format!("/api/articles/{slug}"),
            Some(&jake),
            json!({"article": {"title": "New title", "body": "new body"}}),
        )
        .await
        .expect(200);
    let a = &r.body["article"];
    assert_eq!(a["slug"], "new-title");
    assert_eq!(a["body"], "new body");
    assert_eq!(a["description"], "about it", "untouched fields stay");
    assert_eq!(a["tagList"], json!(["t"]));
    assert!(a["updatedAt"].as_str().unwrap() >= a["createdAt"].as_str().unwrap());
    app.get("/api/articles/new-title", None).await.expect(200);
    app.get(&format!("/api/articles/{slug}"), None)
        .await
        .expect(404);
    let r = app
        .put(
            "/api/articles/new-title",
            Some(&jake),
            json!({"article": {"description": "only this"}}),
        )
        .await
        .expect(200);
    assert_eq!(r.body["article"]["slug"], "new-title");
    app.put(
        "/api/articles/new-title",
        Some(&jake),
        json!({"article": {}}),
    )
    .await
    .expect(422);
}

#[actix_rt::test]
async fn delete_is_owner_only_and_cascades() {
    let app = spawn_app().await;
    let jake = app.register("jake").await;
    let anna = app.register("anna").await;
    let slug = app.create_article_slug(&jake, "Doomed", &["gone"]).await;
    app.favorite(&anna, &slug).await;
    app.post(
        &format!("/api/articles/{slug}/comments"),
        Some(&anna),
        json!({"comment": {"body": "hi"}}),
    )
    .await
    .expect(200);
    app.delete(&format!("/api/articles/{slug}"), Some(&anna))
        .await
        .expect(403);
    app.delete(&format!("/api/articles/{slug}"), None)
        .await
        .expect(401);
    let r = app
        .delete(&format!("/api/articles/{slug}"), Some(&jake))
        .await
        .expect(204);
    assert!(r.raw.is_empty());
    app.get(&format!("/api/articles/{slug}"), None)
        .await
        .expect(404);
    app.get(&format!("/api/articles/{slug}/comments"), None)
        .await
        .expect(404);
    app.delete(&format!("/api/articles/{slug}"), Some(&jake))
        .await
        .expect(404);
    // Every total that counted it moved.
    for q in ["", "?tag=gone", "?author=jake", "?favorited=anna"] {
        let r = app
            .get(&format!("/api/articles{q}"), None)
            .await
            .expect(200);
        assert_eq!(r.body["articlesCount"], 0, "{q}");
    }
}

#[actix_rt::test]
async fn favorites_count_each_user_once() {
    let app = spawn_app().await;
    let jake = app.register("jake").await;
    let anna = app.register("anna").await;
    let bob = app.register("bob").await;
    let slug = app.create_article_slug(&jake, "Liked", &[]).await;
    let a = app.favorite(&anna, &slug).await;
    assert_eq!(
        (a["favorited"].clone(), a["favoritesCount"].clone()),
        (json!(true), json!(1))
    );
    let a = app.favorite(&anna, &slug).await;
    assert_eq!(a["favoritesCount"], 1, "favoriting twice counts once");
    let a = app.favorite(&bob, &slug).await;
    assert_eq!(a["favoritesCount"], 2);
    let r = app
        .get(&format!("/api/articles/{slug}"), Some(&jake))
        .await
        .expect(200);
    assert_eq!(r.body["article"]["favorited"], false);
    assert_eq!(r.body["article"]["favoritesCount"], 2);
    let r = app
        .delete(&format!("/api/articles/{slug}/favorite"), Some(&anna))
        .await
        .expect(200);
    assert_eq!(r.body["article"]["favorited"], false);
    assert_eq!(r.body["article"]["favoritesCount"], 1);
    let r = app
        .delete(&format!("/api/articles/{slug}/favorite"), Some(&anna))
        .await
        .expect(200);
    assert_eq!(
        r.body["article"]["favoritesCount"], 1,
        "unfavoriting twice counts once"
    );
    app.post("/api/articles/nope/favorite", Some(&anna), json!({}))
        .await
        .expect(404);
    app.post(&format!("/api/articles/{slug}/favorite"), None, json!({}))
        .await
        .expect(401);
}

#[actix_rt::test]
async fn a_create_costs_the_same_number_of_statements_whatever_its_tags() {
    let app = spawn_app().await;
    let token = app.register("writer").await;
    app.create_article(&token, "Makes the tags", &["a", "b", "c", "d"])
        .await;
    let mut costs = Vec::new();
    for (title, tags) in [
        ("One tag", &["a"][..]),
        ("Four tags", &["a", "b", "c", "d"][..]),
    ] {
        let before = app.pool.metrics().statements();
        app.create_article(&token, title, tags).await;
        costs.push(app.pool.metrics().statements() - before);
    }
    assert_eq!(costs[0], costs[1], "{costs:?}");
    // PostgreSQL: the tag lookup and one statement, no transaction (2);
    // SQLite: a transaction of one statement per step.
    let most = if std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty()) {
        2
    } else {
        10
    };
    assert!(costs[0] <= most, "{costs:?}");
}

#[actix_rt::test]
async fn a_page_costs_the_same_number_of_queries_whatever_its_size() {
    let app = spawn_app().await;
    let reader = app.register("reader").await;
    let writer = app.register("writer").await;
    app.follow(&reader, "writer").await;
    for i in 0..12 {
        let slug = app
            .create_article_slug(&writer, &format!("Post {i}"), &["a", "b"])
            .await;
        if i % 2 == 0 {
            app.favorite(&reader, &slug).await;
        }
    }
    let mut costs = Vec::new();
    for path in [
        "/api/articles?limit=1",
        "/api/articles?limit=12",
        "/api/articles?tag=a&limit=1",
        "/api/articles?tag=a&limit=12",
        "/api/articles/feed?limit=1",
        "/api/articles/feed?limit=12",
    ] {
        let before = app.pool.metrics().statements();
        app.get(path, Some(&reader)).await.expect(200);
        costs.push((path, app.pool.metrics().statements() - before));
    }
    for pair in costs.chunks(2) {
        assert_eq!(pair[0].1, pair[1].1, "{pair:?}");
        assert!(pair[0].1 <= 4, "{pair:?}");
    }
}

/// On PostgreSQL a feed page that has rows carries its total, so it is one
/// statement; a page past the end (nothing to carry it) reads the total on
/// its own. SQLite counts first and skips the page past the end.
#[actix_rt::test]
async fn a_feed_page_with_rows_is_one_statement_on_postgres() {
    let app = spawn_app().await;
    let reader = app.register("reader").await;
    let writer = app.register("writer").await;
    app.follow(&reader, "writer").await;
    for i in 0..3 {
        app.create_article_slug(&writer, &format!("Post {i}"), &[])
            .await;
    }
    let mut costs = Vec::new();
    for path in [
        "/api/articles/feed?limit=2",
        "/api/articles/feed?limit=2&offset=2",
        "/api/articles/feed?limit=2&offset=3",
    ] {
        let before = app.pool.metrics().statements();
        let r = app.get(path, Some(&reader)).await.expect(200);
        assert_eq!(r.body["articlesCount"], 3, "{path}");
        costs.push(app.pool.metrics().statements() - before);
    }
    let expected = match app.pool.backend() {
        conduit::db::Backend::Postgres => [1, 1, 2],
        conduit::db::Backend::Sqlite => [2, 2, 1],
    };
    assert_eq!(costs, expected);
}

/// PostgreSQL plans a page joined to its authors without Memoize: it would
/// size the node's hash table by the authors of the whole table and build it
/// on every execution (`dialect::prepare_session`), which on a million
/// articles cost a list page more than reading it did.
#[actix_rt::test]
async fn postgres_sessions_plan_without_memoize() {
    let app = spawn_app().await;
    if app.pool.backend() != conduit::db::Backend::Postgres {
        return;
    }
    let setting = app
        .pool
        .read(|conn| {
            Ok(diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
                "current_setting('enable_memoize')",
            ))
            .get_result::<String>(conn)?)
        })
        .await
        .expect("a pooled connection answers");
    assert_eq!(setting, "off");
}

#[actix_rt::test]
async fn an_unfiltered_list_page_with_rows_is_one_statement_on_postgres() {
    let app = spawn_app().await;
    let writer = app.register("writer").await;
    let other = app.register("other").await;
    app.create_article_slug(&writer, "Post 0", &[]).await;
    let liked = app.create_article_slug(&writer, "Post 1", &[]).await;
    app.create_article_slug(&other, "Post 2", &[]).await;
    let reader = app.register("reader").await;
    app.follow(&reader, "writer").await;
    app.favorite(&reader, &liked).await;
    // Signed in, the token's check is remembered after its first use.
    app.get("/api/user", Some(&reader)).await.expect(200);
    for token in [None, Some(reader.as_str())] {
        let mut costs = Vec::new();
        // The first pages of 10 and 20 are statements of their own on
        // PostgreSQL (`dialect::list_page`), other pages bind theirs.
        for (path, rows) in [
            ("/api/articles", 3),
            ("/api/articles?limit=10", 3),
            ("/api/articles?limit=2", 2),
            ("/api/articles?limit=2&offset=2", 1),
            ("/api/articles?limit=2&offset=3", 0),
        ] {
            let before = app.pool.metrics().statements();
            let r = app.get(path, token).await.expect(200);
            assert_eq!(r.body["articlesCount"], 3, "{path}");
            costs.push(app.pool.metrics().statements() - before);
            let articles = r.body["articles"].as_array().unwrap();
            assert_eq!(articles.len(), rows, "{path}");
            // The viewer's flags, true and false on the same page.
            for a in articles {
                let signed_in = token.is_some();
                let favorited = signed_in && a["slug"] == liked.as_str();
                let following = signed_in && a["author"]["username"] == "writer";
                assert_eq!(a["favorited"], favorited, "{path} {}", a["slug"]);
                assert_eq!(a["author"]["following"], following, "{path} {}", a["slug"]);
            }
        }
        let expected = match app.pool.backend() {
            conduit::db::Backend::Postgres => [1, 1, 1, 1, 2],
            conduit::db::Backend::Sqlite => [2, 2, 2, 2, 1],
        };
        assert_eq!(costs, expected, "signed in: {}", token.is_some());
    }
}

#[actix_rt::test]
async fn concurrent_creates_and_deletes_sharing_tags_all_succeed() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    let orders = [
        ["a", "b", "c"],
        ["c", "b", "a"],
        ["b", "c", "a"],
        ["c", "a", "b"],
    ];
    let creates = (0..8).map(|i| {
        app.post(
            "/api/articles",
            Some(&token),
            json!({"article": {"title": format!("Shared {i}"), "description": "d", "body": "b", "tagList": orders[i % 4]}}),
        )
    });
    let slugs: Vec<String> = join_all(creates)
        .await
        .into_iter()
        .map(|r| {
            r.expect(201).body["article"]["slug"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let r = app.get("/api/articles?tag=b", None).await.expect(200);
    assert_eq!(r.body["articlesCount"], 8);
    let paths: Vec<String> = slugs[..4]
        .iter()
        .map(|s| format!("/api/articles/{s}"))
        .collect();
    let deletes = paths.iter().map(|p| app.delete(p, Some(&token)));
    for r in join_all(deletes).await {
        r.expect(204);
    }
    for q in ["", "?tag=a", "?author=jake"] {
        let r = app
            .get(&format!("/api/articles{q}"), None)
            .await
            .expect(200);
        assert_eq!(r.body["articlesCount"], 4, "{q}");
    }
}

/// The id of the user `name`.
async fn user_id(app: &TestApp, name: &'static str) -> UserId {
    app.pool
        .read(move |conn| {
            let id: i64 = users::table
                .filter(users::username.eq(name))
                .select(users::id)
                .first(conn)?;
            Ok(UserId::new(id))
        })
        .await
        .expect("the user exists")
}

fn new_article(author: UserId, title: &str, tags: &[&str]) -> NewArticleBy {
    NewArticleBy {
        author,
        article: NewArticle {
            title: title.to_owned(),
            description: format!("about {title}"),
            body: format!("{title} body"),
            tags: TagList::parse(tags).expect("valid tags"),
        },
    }
}

/// What concurrent creates are run as (`repo::create_batch`), called
/// directly so the batch is exactly this one: several authors, a title
/// repeated within the batch, a slug already taken, new and existing tags
/// shared between articles, an article without tags.
#[actix_rt::test]
async fn a_batch_of_creates_answers_each_as_a_single_create_would() {
    let app = spawn_app().await;
    let jake_token = app.register("jake").await;
    app.register("jane").await;
    app.create_article_slug(&jake_token, "Taken", &["old"])
        .await;
    let (jake, jane) = (user_id(&app, "jake").await, user_id(&app, "jane").await);
    let batch = vec![
        new_article(jake, "Alpha", &["old", "new"]),
        new_article(jane, "Beta", &["new"]),
        new_article(jake, "Alpha", &["other"]),
        new_article(jane, "Taken", &[]),
        new_article(jane, "Gamma", &["old", "new", "other"]),
    ];
    let views = app
        .pool
        .write_statements(move |conn| Ok(repo::create_batch(conn, &batch)))
        .await
        .expect("the batch runs");
    let views: Vec<_> = views
        .into_iter()
        .map(|v| v.expect("every create succeeds"))
        .collect();
    let slugs: Vec<&str> = views.iter().map(|v| v.summary.slug.as_str()).collect();
    assert_eq!(slugs[0], "alpha");
    assert_eq!(slugs[1], "beta");
    assert!(slugs[2].starts_with("alpha-"), "{slugs:?}");
    assert!(slugs[3].starts_with("taken-"), "{slugs:?}");
    assert_eq!(slugs[4], "gamma");
    let authors: Vec<&str> = views.iter().map(|v| v.author.username.as_str()).collect();
    assert_eq!(authors, ["jake", "jane", "jake", "jane", "jane"]);

    // Each reads back as it was answered, and every total counts it.
    for (view, tags) in views.iter().zip([
        json!(["new", "old"]),
        json!(["new"]),
        json!(["other"]),
        json!([]),
        json!(["new", "old", "other"]),
    ]) {
        let r = app
            .get(&format!("/api/articles/{}", view.summary.slug), None)
            .await
            .expect(200);
        assert_eq!(r.body["article"]["tagList"], tags);
        assert_eq!(r.body["article"]["title"], view.summary.title.as_str());
        assert_eq!(
            r.body["article"]["author"]["username"],
            view.author.username.as_str()
        );
    }
    assert_consistent(&app, "the batch").await;
    for (query, count) in [
        ("", 6),
        ("?author=jane", 3),
        ("?tag=new", 3),
        ("?tag=old", 3),
        ("?tag=other", 2),
    ] {
        let r = app
            .get(&format!("/api/articles{query}"), None)
            .await
            .expect(200);
        assert_eq!(r.body["articlesCount"], count, "{query}");
    }
    let tags = app.get("/api/tags", None).await.expect(200);
    assert_eq!(tags.body["tags"], json!(["new", "old", "other"]));
}

/// A batch the database rejects as a whole (here: one article's author does
/// not exist) changed nothing; each article is then created on its own, so
/// only the bad one fails.
#[actix_rt::test]
async fn one_bad_create_in_a_batch_fails_alone() {
    let app = spawn_app().await;
    app.register("jake").await;
    let jake = user_id(&app, "jake").await;
    let batch = vec![
        new_article(jake, "First", &["t"]),
        new_article(UserId::new(i64::MAX), "Orphan", &["t"]),
        new_article(jake, "Second", &["t"]),
    ];
    let results = app
        .pool
        .write_statements(move |conn| Ok(repo::create_batch(conn, &batch)))
        .await
        .expect("the batch runs");
    assert!(results[0].is_ok(), "{:?}", results[0].as_ref().err());
    assert!(results[1].is_err());
    assert!(results[2].is_ok(), "{:?}", results[2].as_ref().err());
    let r = app.get("/api/articles?tag=t", None).await.expect(200);
    assert_eq!(r.body["articlesCount"], 2);
    assert_eq!(slugs(&r.body), ["second", "first"]);
    assert_consistent(&app, "the batch").await;
}

/// Creates sent at once are batched (`conduit_db_batch_size`): every
/// one is answered 201 with its own article, and each is counted in exactly
/// one batch.
#[actix_rt::test]
async fn concurrent_creates_are_each_answered_and_counted_once() {
    let app = spawn_app().await;
    let token = app.register("jake").await;
    let creates = (0..24).map(|i| {
        app.post(
            "/api/articles",
            Some(&token),
            json!({"article": {"title": format!("Burst {}", i % 12), "description": "d", "body": format!("body {i}"), "tagList": ["burst"]}}),
        )
    });
    let mut bodies: Vec<String> = Vec::new();
    let mut slugs_seen: Vec<String> = Vec::new();
    for r in join_all(creates).await {
        let r = r.expect(201);
        bodies.push(r.body["article"]["body"].as_str().unwrap().to_owned());
        slugs_seen.push(r.body["article"]["slug"].as_str().unwrap().to_owned());
    }
    bodies.sort();
    let mut expected: Vec<String> = (0..24).map(|i| format!("body {i}")).collect();
    expected.sort();
    assert_eq!(bodies, expected);
    slugs_seen.sort();
    slugs_seen.dedup();
    assert_eq!(slugs_seen.len(), 24);
    let r = app.get("/api/articles?tag=burst", None).await.expect(200);
    assert_eq!(r.body["articlesCount"], 24);
    let batched = app
        .metric(r#"conduit_db_batch_size_sum{kind="article_create"}"#)
        .await;
    assert_eq!(batched, 24.0);
}

/// Pages of every depth the feed query is prepared for (`FEED_DEPTHS` in
/// `db::dialect`: offset + limit up to 20, 50, ..., 1,000) and beyond the
/// last, where the depth is bound, match the one followed author's own list
/// page for page.
#[actix_rt::test]
async fn feed_pages_at_every_depth_match_the_followed_authors_list() {
    let app = spawn_app().await;
    let reader = app.register("reader").await;
    let jake = app.register("jake").await;
    app.follow(&reader, "jake").await;
    for chunk in 0..17 {
        let creates = (0..64).map(|i| {
            app.post(
                "/api/articles",
                Some(&jake),
                json!({"article": {"title": format!("Deep {chunk} {i}"), "description": "d", "body": "b"}}),
            )
        });
        for r in join_all(creates).await {
            r.expect(201);
        }
    }
    let total = 17 * 64;
    for (offset, limit) in [
        (0, 20),
        (5, 10),
        (30, 20),
        (95, 20),
        (150, 50),
        (480, 20),
        (990, 10),
        (995, 20),
        (1040, 20),
        (total - 3, 20),
    ] {
        let feed = app
            .get(
                &format!("/api/articles/feed?limit={limit}&offset={offset}"),
                Some(&reader),
            )
            .await
            .expect(200);
        let list = app
            .get(
                &format!("/api/articles?author=jake&limit={limit}&offset={offset}"),
                None,
            )
            .await
            .expect(200);
        let page = slugs(&feed.body);
        assert_eq!(page, slugs(&list.body), "offset {offset} limit {limit}");
        assert_eq!(page.len(), limit.min(total - offset), "offset {offset}");
        assert_eq!(feed.body["articlesCount"], total);
    }
}
