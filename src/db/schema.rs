// @generated automatically by Diesel CLI.

diesel::table! {
    article_tags (article_id, tag_id) {
        article_id -> Int8,
        tag_id -> Int8,
    }
}

diesel::table! {
    articles (id) {
        id -> Int8,
        slug -> Text,
        title -> Text,
        description -> Text,
        body -> Text,
        author_id -> Int8,
        favorites_count -> Int8,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        tag_list -> Text,
    }
}

diesel::table! {
    comments (id) {
        id -> Int8,
        body -> Text,
        article_id -> Int8,
        author_id -> Int8,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    counters (name) {
        name -> Text,
        value -> Int8,
    }
}

diesel::table! {
    favorites (user_id, article_id) {
        user_id -> Int8,
        article_id -> Int8,
        created_at -> Timestamp,
    }
}

diesel::table! {
    follows (follower_id, followee_id) {
        follower_id -> Int8,
        followee_id -> Int8,
        created_at -> Timestamp,
    }
}

diesel::table! {
    tag_counts (tag_id, shard) {
        tag_id -> Int8,
        shard -> Int8,
        articles_count -> Int8,
    }
}

diesel::table! {
    tags (id) {
        id -> Int8,
        name -> Text,
    }
}

diesel::table! {
    users (id) {
        id -> Int8,
        username -> Text,
        email -> Text,
        password_hash -> Text,
        bio -> Nullable<Text>,
        image -> Nullable<Text>,
        articles_authored -> Int8,
        articles_favorited -> Int8,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(article_tags -> articles (article_id));
diesel::joinable!(article_tags -> tags (tag_id));
diesel::joinable!(articles -> users (author_id));
diesel::joinable!(comments -> articles (article_id));
diesel::joinable!(comments -> users (author_id));
diesel::joinable!(favorites -> articles (article_id));
diesel::joinable!(favorites -> users (user_id));
diesel::joinable!(tag_counts -> tags (tag_id));

diesel::allow_tables_to_appear_in_same_query!(
    article_tags,
    articles,
    comments,
    counters,
    favorites,
    follows,
    tag_counts,
    tags,
    users,
);
