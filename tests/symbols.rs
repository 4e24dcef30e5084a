//! What a release libpapo contains, read from its symbol tables with `nm`
//! (binutils). The library is built as `make` builds what it ships:
//! `cargo build --release --lib`, no features.
//!
//! - The dynamic symbol table of `libpapo.so` holds exactly the functions
//!   `include/papo.h` declares: the seed's five (`Conecta_Servidor`,
//!   `Conecta_cliente`, `enviar_Msg`, `Desconecta_Servidor`,
//!   `Desconecta_cliente`, seed 000 section 4) and `papo_*`, plus the six
//!   0.1 entry points of `src/ffi/legacy.rs` that 1.0 no longer declares
//!   (kept for programs built against the 0.1 header); no test hook
//!   (`papo_debug_force_panic` exists only with the `test-hooks` feature).
//! - No symbol of `libpapo.so` or `libpapo.a` comes from the fuzzing
//!   harness (`protocol::fuzzing`).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

mod libpapo;

/// The seed's five functions; every other export is `papo_*`.
const SEED: [&str; 5] = [
    "Conecta_Servidor",
    "Conecta_cliente",
    "enviar_Msg",
    "Desconecta_Servidor",
    "Desconecta_cliente",
];

/// The 0.1 entry points that took or filled a caller's struct: exported
/// for programs built against the 0.1 header (tests/c/compat/papo-0.1.h),
/// not declared in the 1.0 header.
const LEGACY: [&str; 6] = [
    "papo_client_config_init",
    "papo_client_connect",
    "papo_client_next_event",
    "papo_server_config_init",
    "papo_server_start",
    "papo_server_next_event",
];

/// The release library, built once per test process.
fn release() -> &'static libpapo::Built {
    static ONCE: OnceLock<libpapo::Built> = OnceLock::new();
    ONCE.get_or_init(|| libpapo::build(libpapo::Features::None, true))
}

/// `nm <args> <file>`'s standard output.
fn nm(args: &[&str], file: &Path) -> String {
    let out = Command::new("nm")
        .args(args)
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run nm (binutils): {e}"));
    assert!(
        out.status.success(),
        "nm {args:?} {} failed:\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The names of the functions `include/papo.h` declares: cbindgen writes
/// each declaration starting on a line of its own, not indented, with the
/// name right before the first `(`.
fn header_functions() -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/papo.h");
    let header = std::fs::read_to_string(&path).expect("read include/papo.h");
    let mut in_comment = false;
    let mut names = BTreeSet::new();
    for line in header.lines() {
        let t = line.trim_start();
        if t.starts_with("/*") {
            in_comment = !t.contains("*/");
            continue;
        }
        if in_comment {
            in_comment = !t.contains("*/");
            continue;
        }
        if line.starts_with([' ', '#', '}']) || t.starts_with("typedef") || !line.contains('(') {
            continue;
        }
        let before = &line[..line.find('(').unwrap()];
        let name = before.rsplit([' ', '*']).next().unwrap_or_default();
        names.insert(name.to_owned());
    }
    names
}

/// On Linux, rustc links a cdylib with a version script that keeps global
/// only the `#[no_mangle] pub extern "C"` functions of the crate: no Rust
/// standard-library symbol, no allocator shim (`__rust_alloc`, ...), no
/// `rust_eh_personality`, and no symbol of the dependencies is exported
/// (checked with rustc 1.95 and GNU nm 2.40: `nm -D --defined-only` lists
/// exactly our functions, all `T`). So the allowed set is strict: nothing
/// but the functions of papo.h. If a toolchain ever adds an export, name it
/// here with the reason rather than loosening the rule.
#[test]
fn release_so_exports_only_the_c_api() {
    let so = &release().so;
    let mut exported = BTreeSet::new();
    let mut not_functions = Vec::new();
    for line in nm(&["-D", "--defined-only"], so).lines() {
        // "<address> <type> <name>", the name possibly with "@version".
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [_, kind, name] = fields[..] else {
            panic!("unexpected nm line: {line:?}");
        };
        if kind != "T" {
            not_functions.push(format!("{name} ({kind})"));
        }
        exported.insert(name.to_owned());
    }
    assert!(
        not_functions.is_empty(),
        "exported symbols that are not functions: {not_functions:?}"
    );
    let foreign: Vec<&String> = exported
        .iter()
        .filter(|n| !SEED.contains(&n.as_str()) && !n.starts_with("papo_"))
        .collect();
    assert!(
        foreign.is_empty(),
        "{} exports symbols that are neither the seed's five functions nor papo_*: {foreign:?}",
        so.display()
    );
    for seed in SEED {
        assert!(exported.contains(seed), "{seed} is not exported");
    }
    assert!(
        !exported.contains("papo_debug_force_panic"),
        "the test hook is in a release library"
    );
    let declared = header_functions();
    assert!(declared.contains("papo_client_wait_event"), "{declared:?}");
    for legacy in LEGACY {
        assert!(!declared.contains(legacy), "{legacy} is declared in papo.h");
    }
    let mut expected = declared;
    expected.extend(LEGACY.iter().map(|s| s.to_string()));
    assert_eq!(
        exported, expected,
        "the exported functions are exactly the ones papo.h declares and the 0.1 entry points"
    );
}

/// The names in `nm`'s full symbol table of `file` that contain `needle`
/// (Rust's legacy and v0 manglings both spell module names out, e.g.
/// `_ZN4papo8protocol7fuzzing...`), after checking that the table is there
/// at all: a stripped file would pass any such check.
fn symbols_containing(file: &Path, needle: &str) -> Vec<String> {
    let all = nm(&[], file);
    assert!(
        all.lines()
            .any(|l| l.contains("_ZN4papo") || l.contains("_RN")),
        "{} has no Rust symbols in its symbol table (stripped?)",
        file.display()
    );
    all.lines()
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect()
}

#[test]
fn release_so_has_no_fuzzing_code() {
    let so = &release().so;
    let found = symbols_containing(so, "fuzzing");
    assert!(
        found.is_empty(),
        "{} holds fuzzing code: {found:#?}",
        so.display()
    );
}

/// The static library keeps every object file of the crate (nothing is
/// dropped before a program links it), so this is the check that sees
/// whether `protocol::fuzzing` is still compiled into the library.
///
/// The same for the rest of the test support: the manual clock (cargo
/// feature `test-support`) and the forced panic (`test-hooks`).
#[test]
fn release_a_has_no_fuzzing_code() {
    let a = &release().a;
    for what in ["fuzzing", "Clock6manual", "force_panic"] {
        let found = symbols_containing(a, what);
        assert!(
            found.is_empty(),
            "{} holds {} {what} symbols, e.g. {:#?}",
            a.display(),
            found.len(),
            &found[..found.len().min(5)]
        );
    }
}
