//! Fuzz target `file_name`: the name a received file is saved under.

use papo::protocol::{numbered_file_name, safe_file_name, MAX_FILE_NAME_BYTES};

/// What a saved file's name must never hold or be (a path separator, a
/// control or Windows-forbidden character, `.`/`..`, nothing, too long).
fn check_safe_name(name: &str, announced: &str, max: usize) {
    let show = || format!("{announced:?} -> {name:?}");
    assert!(!name.is_empty(), "empty name: {}", show());
    assert!(name != "." && name != "..", "dot name: {}", show());
    assert!(name.len() <= max, "{} bytes: {}", name.len(), show());
    assert!(
        !name.chars().any(|c| c.is_control()
            || matches!(c, '/' | '\\' | '<' | '>' | ':' | '"' | '|' | '?' | '*')
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')),
        "unsafe character: {}",
        show()
    );
    // Joined to a folder it stays one component inside that folder.
    let dir = std::path::Path::new("/downloads");
    let joined = dir.join(name);
    assert_eq!(joined.parent(), Some(dir), "escapes the folder: {}", show());
    assert_eq!(
        joined.file_name().and_then(|n| n.to_str()),
        Some(name),
        "not one path component: {}",
        show()
    );
}

/// Fuzz target `file_name`: [`safe_file_name`] (and the numbered
/// alternatives of [`numbered_file_name`]) on any announced name: the
/// input bytes as UTF-8 (invalid sequences replaced, as a client receiving
/// the `FILE` line would never even see them).
///
/// Panics if the result is empty, `.` or `..`, longer than
/// [`MAX_FILE_NAME_BYTES`], holds a path separator, a control character, a
/// character Windows forbids or a direction mark, does not stay one
/// component inside the download folder, is a Windows device name, starts
/// or ends with a space or a dot, or changes when sanitised again.
pub fn file_name(data: &[u8]) {
    let announced = String::from_utf8_lossy(data);
    let name = safe_file_name(&announced);
    check_safe_name(&name, &announced, MAX_FILE_NAME_BYTES);
    assert!(
        !name.starts_with(|c: char| c == '.' || c.is_whitespace())
            && !name.ends_with(|c: char| c == '.' || c.is_whitespace()),
        "dot or space at an end: {announced:?} -> {name:?}"
    );
    // As Windows sees it: trailing spaces and dots dropped (ASCII only).
    let stem = name.split('.').next().unwrap_or("").to_ascii_uppercase();
    let stem = stem.trim_end_matches([' ', '.']);
    let numbered = |prefix: &str| {
        stem.strip_prefix(prefix).is_some_and(|n| {
            let mut c = n.chars();
            matches!((c.next(), c.next()), (Some(d), None) if d.is_ascii_digit() || "¹²³".contains(d))
        })
    };
    let device = ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$"].contains(&stem)
        || numbered("COM")
        || numbered("LPT");
    assert!(!device, "a Windows device name: {announced:?} -> {name:?}");
    assert_eq!(
        safe_file_name(&name),
        name,
        "not stable when sanitised again ({announced:?})"
    );
    for n in 1..3 {
        // " (n)" adds a few bytes: the alternatives may pass the limit by
        // that much, no more, and are as safe otherwise.
        let alt = numbered_file_name(&name, n);
        check_safe_name(&alt, &announced, MAX_FILE_NAME_BYTES + 8);
        assert_ne!(alt, name);
    }
}
