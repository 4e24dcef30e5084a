//! The optional server password (`ServerConfig::password`, PROTOCOL.md
//! "Password"): a `/pass <password>` line at the nickname prompt, checked
//! in constant time.

/// The password in a `/pass <password>` line at the prompt (the command
/// word in any case; spaces around the password are ignored, so `nc` users
/// can type it), or `None` if the line is no `/pass` line.
pub(crate) fn pass_command(line: &str) -> Option<&str> {
    let line = line.trim();
    let word = line.get(..5)?;
    if !word.eq_ignore_ascii_case("/pass") {
        return None;
    }
    let rest = line.get(5..)?;
    if rest.is_empty() {
        return Some("");
    }
    // "/password" is no `/pass` line.
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    Some(rest.trim())
}

/// Compares two secrets in time that depends only on the length of the
/// one given (`given`), never on where they first differ, so that timing
/// tells an attacker nothing about the expected password.
pub(crate) fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = u8::from(given.len() != expected.len());
    for (k, g) in given.iter().enumerate() {
        // Compare against the expected byte, or 0 past its end (the
        // length difference already counts as a mismatch).
        let e = expected
            .get(k % expected.len().max(1))
            .copied()
            .unwrap_or(0);
        diff |= g ^ e;
    }
    // An empty `given` against a non-empty password is caught by the length.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pass_lines() {
        assert_eq!(pass_command("/pass segredo"), Some("segredo"));
        assert_eq!(pass_command("  /PASS   com espaço  "), Some("com espaço"));
        assert_eq!(pass_command("/pass"), Some(""));
        assert_eq!(pass_command("/password x"), None);
        assert_eq!(pass_command("ana"), None);
        assert_eq!(pass_command("/pa"), None);
        assert_eq!(pass_command("/pasé"), None);
    }

    #[test]
    fn comparison() {
        assert!(constant_time_eq(b"segredo", b"segredo"));
        assert!(!constant_time_eq(b"segredO", b"segredo"));
        assert!(!constant_time_eq(b"segred", b"segredo"));
        assert!(!constant_time_eq(b"segredoo", b"segredo"));
        assert!(!constant_time_eq(b"", b"segredo"));
        assert!(!constant_time_eq(b"x", b""));
        assert!(constant_time_eq(b"", b""));
    }
}
