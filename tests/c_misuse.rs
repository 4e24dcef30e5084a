//! The C API under misuse (issue 6), the quick version that `cargo test`
//! runs: builds `tests/c/test_misuse.c` with the system C compiler (and
//! `-DPAPO_TEST_HOOKS`) against a libpapo cargo builds with the `test-hooks`
//! feature (`tests/libpapo/mod.rs`), and runs
//!
//! - `misuse` under AddressSanitizer + UndefinedBehaviorSanitizer (with
//!   LeakSanitizer at exit): NULL arguments, double `Desconecta_*(NULL)`,
//!   `Desconecta_cliente` inside the wake-up callback, calls after the
//!   server is gone, invalid UTF-8, over-long strings, a forced panic,
//!   the password and TLS settings (with a certificate made by rcgen);
//!   `Desconecta_Servidor` while clients are mid-send and mid-transfer
//!   (issue 6, the C side of `tests/faults_shutdown.rs`): 6 threads loop
//!   private messages between 3 clients, a file is held mid-transfer by a
//!   receiver that does not pull events, and the shutdown must give every
//!   client `DISCONNECTED` 03, every sender 03, lose no private message
//!   the server acknowledged, end each file with a documented outcome
//!   (no partial file left), and bring the process's thread count
//!   (`/proc/self/task`) back to what it was before the server started;
//! - the same under Valgrind memcheck (`--error-exitcode`, definite leaks
//!   are errors);
//! - `threads` under ThreadSanitizer (8 threads on shared handles; libpapo
//!   is not instrumented here, see `tests/c/tsan-libpapo.supp` for what
//!   that means);
//! - `exit` 20 times: the process returns from `main` while library
//!   threads run and must exit 0;
//! - `tests/c/compat/old_program.c`, written for 0.1 and compiled against
//!   the 0.1 header (`tests/c/compat/papo-0.1.h`), against this library,
//!   under ASan + UBSan and under Valgrind: binary compatibility;
//! - `tests/c/test_handles.c`: handles used after `Desconecta_*`, freed
//!   twice, of the wrong kind or made up, and a forked child's calls on
//!   inherited handles (PAPO_ERR_FORKED, never a hang), under ASan + UBSan
//!   and under Valgrind (the fork child without leak checking: it exits
//!   holding what the parent's threads, absent in the child, allocated);
//! - `tests/c/test_poll.c`: `poll()` on the client's and the server's
//!   descriptors, `papo_*_wakeup` ending an hour's wait, the asynchronous
//!   requests' REPLY events, the descriptors closed with their handles,
//!   under ASan + UBSan and under Valgrind;
//! - `tests/c/test_cluster.c`: the cluster setters and events (1.2),
//!   under ASan + UBSan.
//!
//! `scripts/sanitizers.sh` is the full version (more iterations, 100 exits,
//! the existing `make test-c-asan` / `test-c-valgrind`, and optionally a
//! ThreadSanitizer build of libpapo itself). Needs `cc` with the sanitizer
//! runtimes (Debian's gcc has them) and `valgrind` (scripts/install-deps.sh).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

mod libpapo;

const STRICT_C: &[&str] = &["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The directory with libpapo.so.<major> and libpapo.so, built once per process
/// with the `test-hooks` feature (so that "misuse" can force a panic).
fn lib_dir() -> &'static Path {
    static ONCE: OnceLock<PathBuf> = OnceLock::new();
    ONCE.get_or_init(|| {
        let (_, release) = libpapo::test_target();
        let built = libpapo::build(libpapo::Features::TestHooks, release);
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c_misuse/lib");
        libpapo::install_so(&built.so, &dir);
        dir
    })
}

/// A self-signed certificate for 127.0.0.1 in PEM files, for the TLS part
/// of "misuse" (PAPO_TEST_CERT, PAPO_TEST_KEY).
fn cert_files() -> &'static (PathBuf, PathBuf) {
    static ONCE: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    ONCE.get_or_init(|| {
        let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).expect("rcgen");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c_misuse");
        std::fs::create_dir_all(&dir).expect("mkdir");
        let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&c, ck.cert.pem()).expect("write cert");
        std::fs::write(&k, ck.key_pair.serialize_pem()).expect("write key");
        (c, k)
    })
}

fn with_cert(cmd: &mut Command) -> &mut Command {
    let (c, k) = cert_files();
    cmd.env("PAPO_TEST_CERT", c).env("PAPO_TEST_KEY", k)
}

fn show(out: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Compiles test_misuse.c with `extra` flags into `name`.
fn build(name: &str, extra: &[&str]) -> PathBuf {
    build_src(name, "tests/c/test_misuse.c", "include", extra)
}

/// Compiles the C file `src` (relative to the repository), with the
/// header directory `include`, and `extra` flags into `name`.
fn build_src(name: &str, src: &str, include: &str, extra: &[&str]) -> PathBuf {
    let lib = lib_dir();
    let exe = lib.parent().expect("c_misuse dir").join(name);
    let out = Command::new("cc")
        .args(STRICT_C)
        .args(["-g", "-fno-omit-frame-pointer"])
        // The library has the test hooks; test_misuse.c declares and uses them.
        .arg("-DPAPO_TEST_HOOKS")
        .args(extra)
        .arg("-I")
        .arg(root().join(include))
        .arg(root().join(src))
        .arg("-o")
        .arg(&exe)
        .arg("-L")
        .arg(lib)
        .args(["-lpapo", "-pthread"])
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .output()
        .expect("run cc");
    assert!(out.status.success(), "cc {name}: {}", show(&out));
    exe
}

/// Runs and asserts exit status 0 and the "all N checks passed" line.
fn run_ok(cmd: &mut Command, what: &str) -> Output {
    // The forced panic's backtrace is noise here.
    cmd.env("RUST_BACKTRACE", "0");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(out.status.success(), "{what}: {}", show(&out));
    out
}

fn passed(out: &Output) -> bool {
    String::from_utf8_lossy(&out.stdout).contains("checks passed")
}

#[test]
fn misuse_under_address_sanitizer() {
    let exe = build("misuse_asan", &["-fsanitize=address,undefined"]);
    let out = run_ok(
        with_cert(&mut Command::new(&exe))
            .arg("misuse")
            .env(
                "ASAN_OPTIONS",
                "detect_leaks=1:halt_on_error=1:abort_on_error=0:exitcode=23",
            )
            .env("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1"),
        "test_misuse misuse (ASan+UBSan+LSan)",
    );
    assert!(passed(&out), "{}", show(&out));
}

#[test]
fn misuse_under_valgrind() {
    let exe = build("misuse_plain", &[]);
    let out = run_ok(
        with_cert(&mut Command::new("valgrind"))
            .args([
                "-q",
                "--error-exitcode=23",
                "--leak-check=full",
                "--show-possibly-lost=no",
                "--errors-for-leak-kinds=definite",
            ])
            .arg(format!(
                "--suppressions={}",
                root().join("tests/c/valgrind.supp").display()
            ))
            .arg(&exe)
            .arg("misuse"),
        "valgrind test_misuse misuse",
    );
    assert!(passed(&out), "{}", show(&out));
}

#[test]
fn threads_on_shared_handles_under_thread_sanitizer() {
    let exe = build("misuse_tsan", &["-O1", "-fsanitize=thread"]);
    let supp = root().join("tests/c/tsan-libpapo.supp");
    let out = run_ok(
        Command::new(&exe)
            .arg("threads")
            .env("PAPO_MISUSE_ITERATIONS", "100")
            .env(
                "TSAN_OPTIONS",
                format!(
                    "suppressions={}:halt_on_error=1:exitcode=66",
                    supp.display()
                ),
            ),
        "test_misuse threads (TSan)",
    );
    assert!(passed(&out), "{}", show(&out));
}

#[test]
fn exit_while_library_threads_run() {
    let exe = build("misuse_exit", &[]);
    for i in 0..20 {
        run_ok(
            Command::new(&exe).arg("exit"),
            &format!("test_misuse exit #{i}"),
        );
    }
}

const ASAN_OPTIONS: &str = "detect_leaks=1:halt_on_error=1:abort_on_error=0:exitcode=23";
const UBSAN_OPTIONS: &str = "halt_on_error=1:print_stacktrace=1";

/// `valgrind` with the options of the other runs; `leaks` false turns leak
/// checking off (memory errors still count).
fn valgrind(leaks: bool) -> Command {
    let mut cmd = Command::new("valgrind");
    cmd.args(["-q", "--error-exitcode=23", "--show-possibly-lost=no"])
        .arg(if leaks {
            "--leak-check=full"
        } else {
            "--leak-check=no"
        })
        .arg("--errors-for-leak-kinds=definite")
        .arg(format!(
            "--suppressions={}",
            root().join("tests/c/valgrind.supp").display()
        ));
    cmd
}

const OLD_PROGRAM: &str = "tests/c/compat/old_program.c";
const OLD_HEADER_DIR: &str = "tests/c/compat";

#[test]
fn program_built_for_0_1_under_address_sanitizer() {
    let exe = build_src(
        "old_program_asan",
        OLD_PROGRAM,
        OLD_HEADER_DIR,
        &["-fsanitize=address,undefined"],
    );
    let out = run_ok(
        Command::new(&exe)
            .env("ASAN_OPTIONS", ASAN_OPTIONS)
            .env("UBSAN_OPTIONS", UBSAN_OPTIONS),
        "old_program (0.1 header, ASan+UBSan)",
    );
    assert!(passed(&out), "{}", show(&out));
}

#[test]
fn program_built_for_0_1_under_valgrind() {
    let exe = build_src("old_program_plain", OLD_PROGRAM, OLD_HEADER_DIR, &[]);
    let out = run_ok(
        valgrind(true).arg(&exe),
        "valgrind old_program (0.1 header)",
    );
    assert!(passed(&out), "{}", show(&out));
}

#[test]
fn handles_and_fork_under_address_sanitizer() {
    let exe = build_src(
        "test_handles_asan",
        "tests/c/test_handles.c",
        "include",
        &["-fsanitize=address,undefined"],
    );
    let out = run_ok(
        Command::new(&exe)
            .env("ASAN_OPTIONS", ASAN_OPTIONS)
            .env("UBSAN_OPTIONS", UBSAN_OPTIONS),
        "test_handles (ASan+UBSan)",
    );
    assert!(passed(&out), "{}", show(&out));
}

#[test]
fn handles_and_fork_under_valgrind() {
    let exe = build_src(
        "test_handles_plain",
        "tests/c/test_handles.c",
        "include",
        &[],
    );
    let out = run_ok(
        valgrind(true).arg(&exe).arg("handles"),
        "valgrind test_handles handles",
    );
    assert!(passed(&out), "{}", show(&out));
    let out = run_ok(
        valgrind(false).arg(&exe).arg("fork"),
        "valgrind test_handles fork",
    );
    assert!(passed(&out), "{}", show(&out));
}

#[test]
fn poll_wakeup_and_async_under_address_sanitizer() {
    let exe = build_src(
        "test_poll_asan",
        "tests/c/test_poll.c",
        "include",
        &["-fsanitize=address,undefined"],
    );
    let out = run_ok(
        Command::new(&exe)
            .env("ASAN_OPTIONS", ASAN_OPTIONS)
            .env("UBSAN_OPTIONS", UBSAN_OPTIONS),
        "test_poll (ASan+UBSan)",
    );
    assert!(passed(&out), "{}", show(&out));
}

#[test]
fn poll_wakeup_and_async_under_valgrind() {
    let exe = build_src("test_poll_plain", "tests/c/test_poll.c", "include", &[]);
    let out = run_ok(valgrind(true).arg(&exe), "valgrind test_poll");
    assert!(passed(&out), "{}", show(&out));
}

/// Rooms, message ids and history from C (tests/c/test_rooms.c), with a
/// scratch directory for its history database.
fn rooms_from_c(name: &str, extra: &[&str]) {
    let exe = build_src(name, "tests/c/test_rooms.c", "include", extra);
    let dir = tempfile::tempdir().expect("temp dir");
    let out = run_ok(
        Command::new(&exe)
            .arg(dir.path())
            .env("ASAN_OPTIONS", ASAN_OPTIONS)
            .env("UBSAN_OPTIONS", UBSAN_OPTIONS),
        name,
    );
    assert!(passed(&out), "{}", show(&out));
}

#[test]
fn rooms_and_history_from_c() {
    rooms_from_c("test_rooms_plain", &[]);
}

#[test]
fn rooms_and_history_from_c_under_address_sanitizer() {
    rooms_from_c("test_rooms_asan", &["-fsanitize=address,undefined"]);
}

/// Reconnection from C (tests/c/test_resume.c): its own proxy thread cuts
/// the client's connection.
fn resume_from_c(name: &str, extra: &[&str]) {
    let exe = build_src(name, "tests/c/test_resume.c", "include", extra);
    let out = run_ok(
        Command::new(&exe)
            .env("ASAN_OPTIONS", ASAN_OPTIONS)
            .env("UBSAN_OPTIONS", UBSAN_OPTIONS),
        name,
    );
    assert!(passed(&out), "{}", show(&out));
}

#[test]
fn reconnection_from_c() {
    resume_from_c("test_resume_plain", &[]);
}

#[test]
fn reconnection_from_c_under_address_sanitizer() {
    resume_from_c("test_resume_asan", &["-fsanitize=address,undefined"]);
}

/// The cluster's setters and events from C (tests/c/test_cluster.c, 1.2),
/// under ASan + UBSan (`c_api.rs` runs it plain).
#[test]
fn cluster_from_c_under_address_sanitizer() {
    let exe = build_src(
        "test_cluster_asan",
        "tests/c/test_cluster.c",
        "include",
        &["-fsanitize=address,undefined"],
    );
    let out = run_ok(
        Command::new(&exe)
            .env("ASAN_OPTIONS", ASAN_OPTIONS)
            .env("UBSAN_OPTIONS", UBSAN_OPTIONS),
        "test_cluster (ASan+UBSan)",
    );
    assert!(passed(&out), "{}", show(&out));
}
