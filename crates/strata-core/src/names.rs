//! Validation of keys and of branch and space names, done before anything is written.

use crate::error::{fail, Result};

/// Longest key in UTF-8 bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// Longest branch or space name in characters.
pub const MAX_NAME_CHARS: usize = 128;

/// A key is 1..=1024 UTF-8 bytes without U+0000.
pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return fail!(InvalidKey, "key is empty; keys are 1 to {MAX_KEY_BYTES} bytes of UTF-8");
    }
    if key.len() > MAX_KEY_BYTES {
        return fail!(LimitExceeded, "key is {} bytes of UTF-8; the limit is {MAX_KEY_BYTES}", key.len());
    }
    if key.as_bytes().contains(&0) {
        return fail!(InvalidKey, "key contains U+0000, which keys cannot hold");
    }
    Ok(())
}

/// Branch and space names: 1..=128 of `[A-Za-z0-9._/-]`, not starting with `/` or `.`, without `..`.
pub fn check_name(kind: &str, name: &str) -> Result<()> {
    let valid_chars = name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'/' | b'-'));
    if name.is_empty()
        || name.len() > MAX_NAME_CHARS
        || !valid_chars
        || name.starts_with('/')
        || name.starts_with('.')
        || name.contains("..")
    {
        return fail!(
            InvalidName,
            "{kind} name {name:?} is invalid: use 1 to {MAX_NAME_CHARS} of A-Z a-z 0-9 . _ / -, \
             not starting with / or . and without .."
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn keys() {
        assert!(check_key("a").is_ok());
        assert!(check_key(&"é".repeat(512)).is_ok());
        assert_eq!(check_key("").unwrap_err().code, ErrorCode::InvalidKey);
        assert_eq!(check_key("a\0b").unwrap_err().code, ErrorCode::InvalidKey);
        assert_eq!(check_key(&"x".repeat(1025)).unwrap_err().code, ErrorCode::LimitExceeded);
    }

    #[test]
    fn names() {
        for ok in ["default", "agent-1", "a/b", "v1.2_x", &"n".repeat(128)] {
            assert!(check_name("branch", ok).is_ok(), "{ok}");
        }
        for bad in ["", "/a", ".a", "a..b", "a b", "ä", &"n".repeat(129)] {
            assert_eq!(check_name("branch", bad).unwrap_err().code, ErrorCode::InvalidName, "{bad}");
        }
    }
}
