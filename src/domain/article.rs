//! Articles' identifying values: slugs and tags.

use serde::Serialize;

use super::is_storable;

pub const TAG_MAX_LEN: usize = 40;
pub const TAGS_MAX: usize = 10;
/// Longer than any slug we generate; a longer path segment names nothing.
const SLUG_MAX_LEN: usize = 255;
const SLUG_BASE_MAX_LEN: usize = 80;
const SLUG_SUFFIX_LEN: usize = 6;
const SLUG_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// An article's URL name: from the title (`How to train` -> `how-to-train`),
/// with a random suffix when that is taken.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Slug(String);

impl Slug {
    /// A slug named in a path; `None` if no article can have it.
    pub fn lookup(raw: &str) -> Option<Self> {
        (!raw.is_empty() && raw.len() <= SLUG_MAX_LEN && is_storable(raw))
            .then(|| Slug(raw.to_owned()))
    }

    /// The readable part derived from a title; titles with nothing sluggable
    /// (e.g. only punctuation) get `article`.
    pub fn base(title: &str) -> String {
        let mut s = slug::slugify(title);
        if s.len() > SLUG_BASE_MAX_LEN {
            let mut cut = SLUG_BASE_MAX_LEN;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
            let trimmed = s.trim_end_matches('-').len();
            s.truncate(trimmed);
        }
        if s.is_empty() {
            "article".to_owned()
        } else {
            s
        }
    }

    /// The candidates for a title, in order: the base, then base + random
    /// suffix, so identical titles created at the same moment still get
    /// distinct slugs (the unique index decides which attempt wins).
    pub fn candidates(title: &str, attempts: usize) -> impl Iterator<Item = Slug> {
        let base = Self::base(title);
        (0..attempts).map(move |attempt| {
            if attempt == 0 {
                return Slug(base.clone());
            }
            let suffix: String = (0..SLUG_SUFFIX_LEN)
                .map(|_| SLUG_ALPHABET[fastrand::usize(..SLUG_ALPHABET.len())] as char)
                .collect();
            Slug(format!("{base}-{suffix}"))
        })
    }

    /// A slug read back from the database.
    pub fn from_stored(s: String) -> Self {
        Slug(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A tag: trimmed, 1 to 40 characters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct TagName(String);

impl TagName {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let t = raw.trim();
        if t.is_empty() {
            return Err("contains a blank tag");
        }
        if t.chars().count() > TAG_MAX_LEN {
            return Err("contains a tag longer than 40 characters");
        }
        if !is_storable(t) {
            return Err("contains an invalid character");
        }
        Ok(TagName(t.to_owned()))
    }

    /// A tag named in a list filter; `None` if no article can have it.
    pub fn lookup(raw: &str) -> Option<Self> {
        Self::parse(raw).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An article's tags: sorted and without duplicates, at most 10. This is the
/// order `tagList` is shown in and the order tag rows are locked in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct TagList(Vec<TagName>);

impl TagList {
    pub fn parse<S: AsRef<str>>(raw: &[S]) -> Result<Self, &'static str> {
        let mut tags = raw
            .iter()
            .map(|t| TagName::parse(t.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        tags.sort();
        tags.dedup();
        if tags.len() > TAGS_MAX {
            return Err("has too many tags (at most 10)");
        }
        Ok(TagList(tags))
    }

    /// The `articles.tag_list` column: the names as a JSON array.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "[]".to_owned())
    }

    /// Reads the `articles.tag_list` column back; a malformed value is an
    /// error, never an empty list.
    pub fn from_json(stored: &str) -> Result<Self, serde_json::Error> {
        let names: Vec<String> = serde_json::from_str(stored)?;
        Ok(TagList(names.into_iter().map(TagName).collect()))
    }

    pub fn as_slice(&self) -> &[TagName] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_come_from_titles() {
        assert_eq!(
            Slug::base("How to train your dragon!"),
            "how-to-train-your-dragon"
        );
        assert_eq!(Slug::base("Ünïcödé Títle"), "unicode-title");
        assert_eq!(Slug::base("!!!"), "article");
        let long = Slug::base(&"word ".repeat(50));
        assert!(long.len() <= SLUG_BASE_MAX_LEN && !long.ends_with('-'));
        let c: Vec<Slug> = Slug::candidates("A title", 2).collect();
        assert_eq!(c[0].as_str(), "a-title");
        assert!(
            c[1].as_str().starts_with("a-title-") && c[1].as_str().len() == 8 + SLUG_SUFFIX_LEN
        );
    }

    #[test]
    fn lookups_refuse_what_cannot_exist() {
        assert!(Slug::lookup("a-b").is_some());
        assert!(Slug::lookup("a\0b").is_none());
        assert!(Slug::lookup("").is_none());
        assert!(TagName::lookup("x\0").is_none());
    }

    #[test]
    fn tag_lists_are_trimmed_sorted_deduplicated_and_bounded() {
        let t = TagList::parse(&[" rust ", "actix", "rust"]).unwrap();
        assert_eq!(t.to_json(), r#"["actix","rust"]"#);
        assert_eq!(TagList::from_json(&t.to_json()).unwrap(), t);
        assert!(TagList::parse(&[" "]).is_err());
        let eleven: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
        assert!(TagList::parse(&eleven).is_err());
        assert!(
            TagList::parse(&["same"; 11]).is_ok(),
            "duplicates count once"
        );
        assert!(TagList::parse(&["x".repeat(41)]).is_err());
        assert!(TagList::parse(&["a\0"]).is_err());
        assert!(TagList::from_json("not json").is_err());
    }
}
