//! The browser chat client's files, compiled into the library (plain HTML,
//! CSS and JavaScript in `static/`, no build step).

/// The content type and bytes of the file at `path`, if it is one.
pub(crate) fn find(path: &str) -> Option<(&'static str, &'static [u8])> {
    Some(match path {
        "/" | "/index.html" => (
            "text/html; charset=utf-8",
            include_bytes!("static/index.html"),
        ),
        "/app.js" => (
            "text/javascript; charset=utf-8",
            include_bytes!("static/app.js"),
        ),
        "/style.css" => (
            "text/css; charset=utf-8",
            include_bytes!("static/style.css"),
        ),
        "/icon.svg" => ("image/svg+xml", include_bytes!("static/icon.svg")),
        _ => return None,
    })
}
