//! The layering of the crate (README, "Architecture"), checked on the
//! source: which module uses which, read from `crate::` and `super::`
//! paths (comments left out).
//!
//! - `protocol` uses nothing above it: not `server`, `client` or `ffi`.
//! - The session (`server::session`) does no I/O: no sockets, threads or
//!   clocks of its own.
//! - No module depends on another that depends back on it, among the
//!   crate's top-level modules and among the children of each of them.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, with its module path (`["server",
/// "session", "chat"]`).
fn files(dir: &Path, prefix: &[String], out: &mut Vec<(Vec<String>, String)>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        let name = p
            .file_stem()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if p.is_dir() {
            let mut sub = prefix.to_vec();
            sub.push(name);
            files(&p, &sub, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            let mut module = prefix.to_vec();
            if name != "mod" && name != "lib" {
                module.push(name);
            }
            let text = fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            out.push((module, without_comments(&text)));
        }
    }
}

fn without_comments(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module names that follow each `marker` in `text`.
fn paths_after<'a>(text: &'a str, marker: &str) -> Vec<&'a str> {
    text.match_indices(marker)
        .filter_map(|(i, _)| {
            let rest = &text[i + marker.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            let name = &rest[..end];
            (!name.is_empty() && name.starts_with(|c: char| c.is_ascii_lowercase())).then_some(name)
        })
        .collect()
}

/// Edges between modules at `depth` (1: top-level; 2: children of a
/// top-level module), from `crate::a::b` and `super::x` paths.
fn edges(depth: usize) -> BTreeMap<String, BTreeSet<String>> {
    let mut all = Vec::new();
    files(&src(), &[], &mut all);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, text) in &all {
        if module.len() < depth {
            continue;
        }
        let from = module[..depth].join("::");
        let mut targets: Vec<Vec<String>> = Vec::new();
        for (i, _) in text.match_indices("crate::") {
            let words: Vec<String> = text[i + 7..]
                .split("::")
                .take(depth)
                .map(|w| {
                    w.chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect()
                })
                .collect();
            targets.push(words);
        }
        if module.len() > 1 {
            for name in paths_after(text, "super::") {
                let mut t = module[..module.len() - 1].to_vec();
                t.push(name.to_owned());
                targets.push(t);
            }
        }
        for t in targets {
            if t.len() < depth || t.iter().any(|w| w.is_empty()) {
                continue;
            }
            if depth == 2 && t[0] != module[0] {
                continue;
            }
            let to = t[..depth].join("::");
            if to != from
                && t[depth - 1]
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_')
            {
                g.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    g
}

/// A cycle in `g`, if there is one.
fn cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        g: &BTreeMap<String, BTreeSet<String>>,
        v: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == v) {
            let mut c = path[i..].to_vec();
            c.push(v.to_owned());
            return Some(c);
        }
        if done.contains(v) {
            return None;
        }
        path.push(v.to_owned());
        for w in g.get(v).into_iter().flatten() {
            if let Some(c) = visit(g, w, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(v.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for v in g.keys() {
        if let Some(c) = visit(g, v, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

#[test]
fn protocol_uses_nothing_above_it() {
    let g = edges(1);
    let used = g.get("protocol").cloned().unwrap_or_default();
    for above in ["server", "client", "ffi", "config", "net", "tls"] {
        assert!(!used.contains(above), "protocol uses {above}: {used:?}");
    }
}

#[test]
fn no_module_depends_on_one_that_depends_back() {
    for depth in [1, 2] {
        let g = edges(depth);
        assert!(g.len() > 3, "depth {depth}: too few modules found: {g:?}");
        if let Some(c) = cycle(&g) {
            panic!("import cycle at depth {depth}: {}", c.join(" -> "));
        }
    }
}

#[test]
fn the_session_does_no_io() {
    let dir = src().join("server/session");
    let mut all = Vec::new();
    files(&dir, &[], &mut all);
    assert!(all.len() >= 5, "session files: {}", all.len());
    for (module, text) in all {
        for forbidden in [
            "std::net::Tcp",
            "mio::",
            "std::thread",
            "Instant::now",
            "SystemTime",
            "std::fs",
            "std::io::Read",
            "crate::server::worker",
        ] {
            assert!(
                !text.contains(forbidden),
                "session/{} uses {forbidden}",
                module.join("/")
            );
        }
    }
}
