//! Lowercase hex digits of an integer, written into a caller's buffer: for
//! the ids and keys a request builds, where `format!("{:x}")` cost more
//! instructions than the work around it.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Writes the lowest `out.len()` hex digits of `value` into `out`, most
/// significant first, zero-padded, and returns them.
pub fn write_lower(out: &mut [u8], value: u128) -> &str {
    let mut rest = value;
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(rest & 0xf) as usize];
        rest >>= 4;
    }
    // Only ASCII digits were written.
    std::str::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_zero_padded_lowercase_digits() {
        assert_eq!(write_lower(&mut [0u8; 8], 0xab_cd), "0000abcd");
        assert_eq!(write_lower(&mut [0u8; 4], 0x1_2345), "2345");
        assert_eq!(write_lower(&mut [0u8; 32], u128::MAX), "f".repeat(32));
    }
}
