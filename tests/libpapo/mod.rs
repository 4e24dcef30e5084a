//! Builds libpapo (`libpapo.so` and `libpapo.a`) for the tests that compile
//! C programs against it or read its symbol tables. `cargo test` itself only
//! builds what the Rust tests link, so these tests run `cargo build --lib`.
//!
//! Two kinds of build:
//! - without features ([`Features::None`]): into the same target directory
//!   as the running test (with `--release` when asked: then exactly what
//!   `make` ships);
//! - with the `test-hooks` feature ([`Features::TestHooks`], which adds
//!   `papo_debug_force_panic`): into `<target>/test-hooks/`, a target
//!   directory of its own. Sharing one would make the two builds overwrite
//!   each other's `libpapo.so` (cargo names a cdylib without a hash of its
//!   features), and each `cargo test` would rebuild the library.

#![allow(dead_code)] // each test binary uses part of this module

use std::path::{Path, PathBuf};
use std::process::Command;

/// The built library.
pub struct Built {
    /// `libpapo.so` (its SONAME is `libpapo.so.<major>`).
    pub so: PathBuf,
    /// `libpapo.a`.
    pub a: PathBuf,
}

/// Which library to build.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Features {
    /// No features: the library as shipped.
    None,
    /// `--features test-hooks`.
    TestHooks,
}

/// The target directory of the running test, and whether it is a release
/// build (the test binary lives in `<target>/<profile>/deps/`).
pub fn test_target() -> (PathBuf, bool) {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary is in <target>/<profile>/deps");
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let target = profile_dir
        .parent()
        .expect("<target>/<profile>")
        .to_path_buf();
    (target, release)
}

/// Runs `cargo build --lib` (with `--release` when `release`) and returns
/// the library's files.
pub fn build(features: Features, release: bool) -> Built {
    let (mut target, _) = test_target();
    let mut cargo = Command::new(env!("CARGO"));
    cargo
        .args(["build", "--lib", "--message-format=short"])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if release {
        cargo.arg("--release");
    }
    if features == Features::TestHooks {
        cargo.args(["--features", "test-hooks"]);
        target.push("test-hooks");
    }
    cargo.env("CARGO_TARGET_DIR", &target);
    // What cargo sets for the running test is not this build's: ring's build
    // script tracks CARGO_MANIFEST_DIR and OUT_DIR, so with them `make` and
    // this build would rebuild ring and everything above it in turn.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_RUSTC_CURRENT_DIR",
                "OUT_DIR",
            ]
            .contains(&name.as_ref())
        {
            cargo.env_remove(name.as_ref());
        }
    }
    let out = cargo.output().expect("run cargo build --lib");
    assert!(
        out.status.success(),
        "cargo build --lib failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = target.join(if release { "release" } else { "debug" });
    let built = Built {
        so: dir.join("libpapo.so"),
        a: dir.join("libpapo.a"),
    };
    assert!(built.so.exists(), "{} was not built", built.so.display());
    assert!(built.a.exists(), "{} was not built", built.a.display());
    built
}

/// Copies `so` into `dir` as `libpapo.so.<major>` (the SONAME programs
/// record) and `libpapo.so` (what `-lpapo` finds).
pub fn install_so(so: &Path, dir: &Path) {
    std::fs::create_dir_all(dir).expect("mkdir");
    let soname = format!("libpapo.so.{}", env!("CARGO_PKG_VERSION_MAJOR"));
    std::fs::copy(so, dir.join(soname)).expect("copy libpapo.so");
    std::fs::copy(so, dir.join("libpapo.so")).expect("copy libpapo.so");
}
