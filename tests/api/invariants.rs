//! The copies the schema keeps for speed agree with the rows they summarise
//! after every kind of write: counters (`articlesCount` comes from them) and
//! each article's stored `tag_list` against its tag links.

use serde_json::json;

use crate::helpers::*;

#[actix_rt::test]
async fn counters_and_tag_lists_agree_with_the_rows_after_every_write() {
    let app = spawn_app().await;
    let jake = app.register("jake").await;
    let jane = app.register("jane").await;
    assert_consistent(&app, "registrations").await;

    let a = app
        .create_article_slug(&jake, "First", &["rust", "web"])
        .await;
    let b = app.create_article_slug(&jane, "Second", &["rust"]).await;
    let c = app.create_article_slug(&jane, "First", &[]).await;
    assert_consistent(&app, "creates").await;

    app.favorite(&jane, &a).await;
    app.favorite(&jane, &a).await;
    app.favorite(&jake, &a).await;
    app.favorite(&jake, &b).await;
    assert_consistent(&app, "favorites (one repeated)").await;
    app.delete(&format!("/api/articles/{b}/favorite"), Some(&jake))
        .await
        .expect(200);
    app.delete(&format!("/api/articles/{b}/favorite"), Some(&jake))
        .await
        .expect(200);
    assert_consistent(&app, "unfavorites (one repeated)").await;

    let moved = app
        .put(
            &format!("/api/articles/{c}"),
            Some(&jane),
            json!({"article": {"title": "Renamed"}}),
        )
        .await
        .expect(200);
    assert_eq!(moved.body["article"]["slug"], "renamed");
    assert_consistent(&app, "an update that moves the slug").await;

    app.follow(&jake, "jane").await;
    app.post(
        &format!("/api/articles/{a}/comments"),
        Some(&jane),
        json!({"comment": {"body": "nice"}}),
    )
    .await
    .expect(200);
    assert_consistent(&app, "a follow and a comment").await;

    // The favorited article goes, with its favorites, links and comment.
    app.delete(&format!("/api/articles/{a}"), Some(&jake))
        .await
        .expect(204);
    assert_consistent(&app, "deleting a favorited, tagged, commented article").await;
    let list = app.get("/api/articles", None).await.expect(200);
    assert_eq!(list.body["articlesCount"], 2);
    let by_tag = app.get("/api/articles?tag=rust", None).await.expect(200);
    assert_eq!(by_tag.body["articlesCount"], 1);
    let fav = app
        .get("/api/articles?favorited=jane", None)
        .await
        .expect(200);
    assert_eq!(fav.body["articlesCount"], 0);

    // And the check does catch a counter that drifted, or a stale tag_list.
    app.pool
        .write(|conn| {
            use diesel::prelude::*;
            diesel::sql_query("UPDATE users SET articles_favorited = articles_favorited + 1")
                .execute(conn)?;
            diesel::sql_query("UPDATE articles SET tag_list = '[\"other\"]'").execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    let wrong = app
        .pool
        .read(|conn| Ok(conduit::db::counters::verify(conn)?))
        .await
        .unwrap();
    assert!(
        wrong
            .iter()
            .any(|w| w.starts_with("users.articles_favorited")),
        "{wrong:?}"
    );
    assert!(wrong.iter().any(|w| w.contains("tag_list")), "{wrong:?}");
}
