//! Slugs: a readable base from the title, and a random suffix when the base
//! is taken, so identical titles created at the same moment still get
//! distinct slugs (the unique index decides; see `repo::insert`).

const MAX_BASE_LEN: usize = 80;
const SUFFIX_LEN: usize = 6;
const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// `"How to train your dragon!"` -> `"how-to-train-your-dragon"`. Titles with
/// nothing sluggable (e.g. only punctuation) get the base `"article"`.
pub fn base(title: &str) -> String {
    let mut s = slug::slugify(title);
    if s.len() > MAX_BASE_LEN {
        let mut cut = MAX_BASE_LEN;
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

/// The candidate for attempt `n`: the base first, then base + random suffix.
pub fn candidate(base: &str, attempt: usize) -> String {
    if attempt == 0 {
        return base.to_owned();
    }
    let suffix: String = (0..SUFFIX_LEN)
        .map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char)
        .collect();
    format!("{base}-{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugifies_titles() {
        assert_eq!(
            base("How to train your dragon!"),
            "how-to-train-your-dragon"
        );
        assert_eq!(base("Ünïcödé Títle"), "unicode-title");
        assert_eq!(base("!!!"), "article");
        assert!(base(&"word ".repeat(50)).len() <= MAX_BASE_LEN);
        assert!(!base(&"word ".repeat(50)).ends_with('-'));
    }

    #[test]
    fn later_candidates_add_a_suffix() {
        assert_eq!(candidate("a-title", 0), "a-title");
        let c = candidate("a-title", 1);
        assert!(c.starts_with("a-title-") && c.len() == "a-title-".len() + SUFFIX_LEN);
    }
}
