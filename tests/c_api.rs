//! The C API tested from C: builds `tests/c/test_api.c` and the C examples
//! with the system compiler and the project's strict flags against
//! `include/papo.h` and the libpapo built by cargo, runs them, and checks
//! what they do.
//!
//! - `c99_shared`: test_api.c as C99 against libpapo.so.
//! - `cxx11_shared`: the same file as C++11 (`g++ -x c++`).
//! - `c99_static`: the same file against libpapo.a.
//! - `cluster_options_and_events_from_c`: tests/c/test_cluster.c (1.2).
//! - `examples_end_to_end`: `servidor` and two `cliente` processes fed
//!   through pipes, as a person would use them (seed 000's manuals).
//!
//! The library is built by running `cargo build --lib --features
//! test-hooks` (same profile as this test, in `<target>/test-hooks`; see
//! `tests/libpapo/mod.rs`), because `cargo test` itself only builds the
//! rlib; the C programs are compiled with `-DPAPO_TEST_HOOKS`, so
//! test_api.c also forces a panic inside the library. Needs `cc` and `g++`
//! on PATH.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

mod common_client;
mod libpapo;

/// The strict flags every C file of papo compiles with (ARCHITECTURE.md, "Tests").
const STRICT_C: &[&str] = &["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror"];
const STRICT_CXX: &[&str] = &[
    "-x",
    "c++",
    "-std=c++11",
    "-Wall",
    "-Wextra",
    "-Wpedantic",
    "-Werror",
];
/// What libpapo.a needs besides libc (as in papo.pc.in and the Makefile).
const STATIC_LIBS: &[&str] = &["-lgcc_s", "-lutil", "-lrt", "-lpthread", "-lm", "-ldl"];

/// Generous, only so that nothing can hang forever.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
const LINE_TIMEOUT: Duration = Duration::from_secs(30);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

struct Artefacts {
    /// A directory holding libpapo.so.<major> (the SONAME) and libpapo.so.
    lib_dir: PathBuf,
    /// libpapo.a.
    static_lib: PathBuf,
    /// Where compiled test programs go.
    out_dir: PathBuf,
}

/// Builds libpapo (cdylib + staticlib) with the `test-hooks` feature once
/// per test process, so that test_api.c can force a panic
/// (`-DPAPO_TEST_HOOKS`).
fn artefacts() -> &'static Artefacts {
    static ONCE: OnceLock<Artefacts> = OnceLock::new();
    ONCE.get_or_init(|| {
        let (_, release) = libpapo::test_target();
        let built = libpapo::build(libpapo::Features::TestHooks, release);
        let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c_api");
        let lib_dir = out_dir.join("lib");
        // Programs record the SONAME (libpapo.so.<major>), so give them that name.
        libpapo::install_so(&built.so, &lib_dir);
        Artefacts {
            lib_dir,
            static_lib: built.a,
            out_dir,
        }
    })
}

fn run_to_end(cmd: &mut Command, what: &str) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Compiles `sources` into `name` with the strict flags, linked against the
/// shared library (or the static one).
fn compile(compiler: &str, flags: &[&str], src: &Path, name: &str, link_static: bool) -> PathBuf {
    let art = artefacts();
    let exe = art.out_dir.join(name);
    let mut cmd = Command::new(compiler);
    cmd.args(flags)
        // The library has the test hooks; test_api.c declares and uses them.
        .arg("-DPAPO_TEST_HOOKS")
        .arg("-I")
        .arg(root().join("include"))
        .arg(src)
        .arg("-o")
        .arg(&exe);
    if link_static {
        cmd.arg(&art.static_lib).arg("-pthread").args(STATIC_LIBS);
    } else {
        cmd.arg("-L")
            .arg(&art.lib_dir)
            .arg("-lpapo")
            .arg("-pthread")
            .arg(format!("-Wl,-rpath,{}", art.lib_dir.display()));
    }
    run_to_end(&mut cmd, &format!("{compiler} {}", src.display()));
    exe
}

/// Runs a program with a time limit; its exit status and output.
fn run_with_timeout(exe: &Path) -> (Option<i32>, String, String) {
    let mut child = Command::new(exe)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (
        status,
        stdout.join().unwrap_or_default(),
        stderr.join().unwrap_or_default(),
    )
}

fn drain(r: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = BufReader::new(r).read_to_string_lossy(&mut s);
        s
    })
}

trait ReadLossy {
    fn read_to_string_lossy(self, s: &mut String) -> std::io::Result<()>;
}

impl<R: std::io::Read> ReadLossy for BufReader<R> {
    fn read_to_string_lossy(mut self, s: &mut String) -> std::io::Result<()> {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut self, &mut bytes)?;
        s.push_str(&String::from_utf8_lossy(&bytes));
        Ok(())
    }
}

fn check_test_program(exe: &Path) {
    let (status, stdout, stderr) = run_with_timeout(exe);
    assert_eq!(
        status,
        Some(0),
        "{} failed (None = killed after {RUN_TIMEOUT:?}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        exe.display()
    );
    assert!(stdout.contains("checks passed"), "stdout: {stdout}");
}

#[test]
fn c99_shared() {
    let exe = compile(
        "cc",
        STRICT_C,
        &root().join("tests/c/test_api.c"),
        "test_api",
        false,
    );
    check_test_program(&exe);
}

#[test]
fn cxx11_shared() {
    let exe = compile(
        "g++",
        STRICT_CXX,
        &root().join("tests/c/test_api.c"),
        "test_api_cxx",
        false,
    );
    check_test_program(&exe);
}

/// Clusters from C (1.2): the two setters, and the cluster's events from
/// a scripted server (tests/c/test_cluster.c).
#[test]
fn cluster_options_and_events_from_c() {
    let exe = compile(
        "cc",
        STRICT_C,
        &root().join("tests/c/test_cluster.c"),
        "test_cluster",
        false,
    );
    let (status, stdout, stderr) = run_with_timeout(&exe);
    assert_eq!(
        status,
        Some(0),
        "test_cluster failed (None = killed after {RUN_TIMEOUT:?}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert!(stdout.contains("test_cluster: all"), "stdout: {stdout}");
}

#[test]
fn c99_static() {
    let exe = compile(
        "cc",
        STRICT_C,
        &root().join("tests/c/test_api.c"),
        "test_api_static",
        true,
    );
    check_test_program(&exe);
}

/// A running example program: its stdin, and its stdout lines as they come.
struct Proc {
    name: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Proc {
    fn start(name: &'static str, exe: &Path, args: &[&str]) -> Proc {
        Proc::start_env(name, exe, args, &[])
    }

    /// [`Proc::start`] with environment variables set.
    fn start_env(name: &'static str, exe: &Path, args: &[&str], env: &[(&str, &Path)]) -> Proc {
        let mut child = Command::new(exe)
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, *v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()));
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match r.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let line = String::from_utf8_lossy(&buf).trim_end().to_string();
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Proc {
            name,
            stdin: child.stdin.take(),
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// Types a line into the program.
    fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("write to the program's stdin");
        stdin.flush().unwrap();
    }

    /// Waits for an output line containing `needle`; returns it.
    fn expect(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + LINE_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => panic!(
                    "{}: no line with {needle:?}; its output so far:\n{}",
                    self.name,
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Waits for the program to exit; its exit code.
    fn wait_exit(&mut self) -> Option<i32> {
        let deadline = Instant::now() + LINE_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            if Instant::now() > deadline {
                panic!(
                    "{} did not exit; its output:\n{}",
                    self.name,
                    self.seen.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything it printed until now (and until it closed stdout).
    fn rest(&mut self) -> Vec<String> {
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(line);
        }
        self.seen.clone()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn examples_end_to_end() {
    let servidor_exe = compile(
        "cc",
        STRICT_C,
        &root().join("examples/c/servidor.c"),
        "servidor",
        false,
    );
    let cliente_exe = compile(
        "cc",
        STRICT_C,
        &root().join("examples/c/cliente.c"),
        "cliente",
        false,
    );

    // The server, on a free port; stdin stays open (end of input stops it).
    let mut servidor = Proc::start("servidor", &servidor_exe, &["127.0.0.1", "0"]);
    let listening = servidor.expect("Servidor ouvindo em 127.0.0.1:");
    let port = listening
        .rsplit(':')
        .next()
        .and_then(|p| p.trim().parse::<u16>().ok())
        .filter(|p| *p != 0)
        .unwrap_or_else(|| panic!("no port in {listening:?}"));
    let port = port.to_string();

    let mut ana = Proc::start("ana", &cliente_exe, &["127.0.0.1", &port, "ana"]);
    ana.expect("Conectado a 127.0.0.1");
    ana.expect("Online (1): ana");
    let connected = servidor.expect("Cliente conectado: 127.0.0.1:");
    assert!(connected.rsplit(':').next().unwrap().parse::<u16>().is_ok());
    servidor.expect("Conexões ativas: 1");
    servidor.expect("Apelido registrado: ana");

    // bob first tries ana's nickname in another case: erro 01, asked again.
    // Two reconnection attempts once the server is gone, then erro 03.
    let mut bob = Proc::start_env(
        "bob",
        &cliente_exe,
        &["127.0.0.1", &port, "ANA"],
        &[("PAPO_RECONNECT_ATTEMPTS", Path::new("2"))],
    );
    bob.expect("erro 01");
    bob.type_line("bob");
    bob.expect("Online (2): ana bob");
    ana.expect("*** bob entrou");
    servidor.expect("Apelido registrado: bob");

    // Public, private, and a private message to nobody.
    ana.type_line(":oi");
    bob.expect("ana: oi");
    ana.type_line("bob:oi bob");
    ana.expect("Mensagem enviada");
    bob.expect("Mensagem recebida de: ana: oi bob");
    ana.type_line("zé:alguém?");
    // The private message went out asynchronously; its answer names the
    // missing nickname (papo_last_error / the reply's text).
    let missing = ana.expect("erro 02");
    assert!(missing.contains("\"zé\""), "{missing}");

    // Rename and the list.
    bob.type_line("/nick robert");
    ana.expect("*** bob agora é robert");
    servidor.expect("bob agora é robert");
    ana.type_line("/list");
    ana.expect("Online (2): ana robert");

    // ana leaves.
    ana.type_line("quit");
    assert_eq!(ana.wait_exit(), Some(0));
    bob.expect("*** ana saiu");
    servidor.expect("Cliente desconectado: ana");

    // The server stops at the end of its input; bob gets erro 03.
    drop(servidor.stdin.take());
    servidor.expect("Servidor encerrado");
    assert_eq!(servidor.wait_exit(), Some(0));
    bob.expect("reconectando (tentativa 1)");
    bob.expect("reconectando (tentativa 2)");
    bob.expect("erro 03");
    let bob_status = bob.wait_exit();
    assert_eq!(bob_status, Some(1), "bob: {:?}", bob.rest());

    // And erro 04 when nothing listens there any more.
    let mut late = Proc::start("late", &cliente_exe, &["127.0.0.1", &port, "carla"]);
    late.expect("erro 04");
    assert_eq!(late.wait_exit(), Some(1));
}

#[test]
fn servidor_rejects_a_bad_ip_with_05() {
    let exe = compile(
        "cc",
        STRICT_C,
        &root().join("examples/c/servidor.c"),
        "servidor_05",
        false,
    );
    let mut p = Proc::start("servidor", &exe, &[]);
    p.type_line("256.1.1.1");
    p.type_line("");
    p.expect("erro 05");
    assert_eq!(p.wait_exit(), Some(1));
}

/// The example server turns on `raise_nofile_limit`: started with a soft
/// limit on open files of 64, it runs with its hard limit.
#[test]
fn servidor_raises_its_open_files_limit() {
    let exe = compile(
        "cc",
        STRICT_C,
        &root().join("examples/c/servidor.c"),
        "servidor_nofile",
        false,
    );
    let exe = exe.to_str().expect("a UTF-8 path");
    let mut p = Proc::start(
        "servidor",
        Path::new("/bin/sh"),
        &["-c", "ulimit -Sn 64 && exec \"$0\" 127.0.0.1 0", exe],
    );
    p.expect("Servidor ouvindo em 127.0.0.1:");
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", p.child.id()))
        .expect("the server's /proc limits");
    let open_files: Vec<&str> = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("a Max open files line")
        .split_whitespace()
        .skip(3)
        .take(2)
        .collect();
    assert_eq!(open_files.len(), 2, "{limits}");
    assert_eq!(
        open_files[0], open_files[1],
        "soft limit not raised: {limits}"
    );
    drop(p.stdin.take());
    p.expect("Servidor encerrado");
    assert_eq!(p.wait_exit(), Some(0));
}

/// Seed 002's `/sendFile` in the C client: ana sends a file to everyone;
/// bob, another C client, sees it arrive with a progress bar and finds an
/// identical copy in his download folder (`PAPO_DOWNLOADS`).
#[test]
fn cliente_sends_a_file_with_a_progress_bar() {
    let servidor_exe = compile(
        "cc",
        STRICT_C,
        &root().join("examples/c/servidor.c"),
        "servidor",
        false,
    );
    let cliente_exe = compile(
        "cc",
        STRICT_C,
        &root().join("examples/c/cliente.c"),
        "cliente",
        false,
    );
    // Deleted when dropped, also when an assertion fails.
    let tmp = tempfile::Builder::new()
        .prefix("papo-c-sendfile-")
        .tempdir()
        .unwrap();
    let dir = tmp.path().to_path_buf();
    let downloads = dir.join("bob-downloads");
    let source = dir.join("foto das férias.bin");
    let content: Vec<u8> = (0..3_000_000u32).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(&source, &content).unwrap();

    let mut servidor = Proc::start("servidor", &servidor_exe, &["127.0.0.1", "0"]);
    let listening = servidor.expect("Servidor ouvindo em 127.0.0.1:");
    let port = listening.rsplit(':').next().unwrap().trim().to_string();
    let mut ana = Proc::start("ana", &cliente_exe, &["127.0.0.1", &port, "ana"]);
    ana.expect("Online (1): ana");
    let mut bob = Proc::start_env(
        "bob",
        &cliente_exe,
        &["127.0.0.1", &port, "bob"],
        &[("PAPO_DOWNLOADS", &downloads)],
    );
    bob.expect(&format!(
        "Arquivos recebidos vão para {}",
        downloads.display()
    ));
    bob.expect("Online (2): ana bob");
    ana.expect("*** bob entrou");

    ana.type_line(&format!("/sendFile {}", source.display()));
    ana.expect("Enviando");
    bob.expect("Recebendo arquivo foto das férias.bin de ana (3000000 bytes)");
    let received = bob.expect("Arquivo recebido de ana: ");
    // The progress bar was drawn on the line before (updated with \r).
    assert!(
        bob.seen
            .iter()
            .any(|l| l.contains("Recebendo foto das férias.bin [") && l.contains("100%")),
        "no progress bar: {:?}",
        bob.seen
    );
    let saved = PathBuf::from(received.split("Arquivo recebido de ana: ").nth(1).unwrap());
    assert_eq!(saved, downloads.join("foto das férias.bin"));
    assert_eq!(std::fs::read(&saved).unwrap(), content);
    let sent = ana.expect("Arquivo enviado: foto das férias.bin (3000000 bytes)");
    assert!(!sent.is_empty());
    // A file that does not exist: erro 15.
    ana.type_line(&format!("/sendFile {}", dir.join("nada.bin").display()));
    ana.expect("erro 15");
    ana.type_line("quit");
    assert_eq!(ana.wait_exit(), Some(0));
    bob.type_line("quit");
    assert_eq!(bob.wait_exit(), Some(0));
    drop(servidor.stdin.take());
    assert_eq!(servidor.wait_exit(), Some(0));
}

/// A server (or anyone on the path of a plain-text connection) cannot
/// drive the C client's terminal (issue 14): escape sequences, C1 controls
/// and bidi overrides in nicknames and messages are shown escaped, and no
/// such byte reaches the terminal.
#[test]
fn cliente_shows_control_characters_escaped() {
    let cliente_exe = compile(
        "cc",
        STRICT_C,
        &root().join("examples/c/cliente.c"),
        "cliente_escapes",
        false,
    );
    let (port, peer) = common_client::scripted(|mut p| {
        p.register(&["bob"]);
        // The client asks for the list once at the start.
        assert_eq!(p.line().as_deref(), Some("/list"));
        p.send("USERS 2 :ana bob");
        p.send("PUBLIC bob :antes\u{1b}[2J\u{1b}]0;dono\u{7}depois");
        p.send("JOIN e\u{1b}[31mvil :entrou");
        p.send("PRIVATE bob :\u{202e}exe.txt");
        p.send("PUBLIC bob :c1\u{9b}31m e del\u{7f}");
        p.send("PUBLIC bob :fim");
        p.line()
    });
    let mut c = Proc::start(
        "cliente",
        &cliente_exe,
        &["127.0.0.1", &port.to_string(), "ana"],
    );
    c.expect("Online (2): ana bob");
    let clear = c.expect("bob: antes");
    assert_eq!(clear, "bob: antes\\x1b[2J\\x1b]0;dono\\x07depois");
    let join = c.expect("entrou");
    assert_eq!(join, "*** e\\x1b[31mvil entrou");
    let bidi = c.expect("Mensagem recebida de: bob");
    assert_eq!(bidi, "Mensagem recebida de: bob: \\u202eexe.txt");
    let c1 = c.expect("bob: c1");
    assert_eq!(c1, "bob: c1\\u009b31m e del\\x7f");
    c.expect("bob: fim");
    c.type_line("quit");
    assert_eq!(c.wait_exit(), Some(0));
    for line in c.rest() {
        assert!(
            !line.contains(['\u{1b}', '\u{7}', '\u{9b}', '\u{7f}', '\u{202e}']),
            "a control character reached the terminal: {line:?}"
        );
    }
    drop(peer.join());
}

/// The cluster's events in the C client (1.2): one line each, in
/// Portuguese with English in parentheses, the nicknames escaped as every
/// text from the network is.
#[test]
fn cliente_shows_the_cluster_events() {
    let cliente_exe = compile(
        "cc",
        STRICT_C,
        &root().join("examples/c/cliente.c"),
        "cliente_cluster",
        false,
    );
    let (port, peer) = common_client::scripted(|mut p| {
        p.register(&["bob"]);
        assert_eq!(p.line().as_deref(), Some("/list"));
        p.send("USERS 2 :ana bob");
        p.send("CLUSTER partitioned :cut off");
        p.send("LOST 4 :lost");
        p.send("RENAMED ana a\u{1b}[2Jna :renamed");
        p.send("CLUSTER healed :back");
        p.send("PUBLIC bob :fim");
        p.line()
    });
    let mut c = Proc::start(
        "cliente",
        &cliente_exe,
        &["127.0.0.1", &port.to_string(), "ana"],
    );
    c.expect("Online (2): ana bob");
    let cut = c.expect("Sem contato com os outros servidores");
    assert!(cut.contains("(cut off from the other servers)"), "{cut}");
    let lost = c.expect("entre servidores");
    assert!(lost.starts_with("*** 4 mensagem(ns)"), "{lost}");
    assert!(lost.contains("(messages lost between servers)"), "{lost}");
    let renamed = c.expect("mudou seu apelido");
    assert!(
        renamed.contains("de ana para a\\x1b[2Jna") && renamed.contains("(the server renamed you)"),
        "{renamed}"
    );
    let healed = c.expect("De volta ao chat inteiro");
    assert!(healed.contains("(back in the whole chat)"), "{healed}");
    c.expect("bob: fim");
    c.type_line("quit");
    assert_eq!(c.wait_exit(), Some(0));
    for line in c.rest() {
        assert!(
            !line.contains('\u{1b}'),
            "a control character reached the terminal: {line:?}"
        );
    }
    drop(peer.join());
}
