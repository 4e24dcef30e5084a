//! Generated files are checked in, and this test fails when one is stale:
//!
//! - `include/papo.h`, generated from `src/ffi/` by cbindgen (the way
//!   rustls-ffi checks its header in CI), plus two blocks cbindgen cannot
//!   make: the version macros (`PAPO_VERSION_*`, from `CARGO_PKG_VERSION`,
//!   so they always match Cargo.toml) and `PAPO_OK` with the `PAPO_ERR_*`
//!   constants, written from the one table of error codes in `src/error.rs`
//!   (`papo::ErrorCode::ALL`, with each code's documentation);
//! - the error-code blocks of the Python bindings, from the same table: the
//!   `PAPO_OK`/`PAPO_ERR_*` constants in `bindings/python/src/papo/_ffi.py`
//!   and the exception classes (one per code) in `papo/errors.py`, each
//!   between a `# BEGIN error codes` and a `# END error codes` line.
//!
//! To update them after changing `src/ffi/`, `src/error.rs` or
//! `cbindgen.toml`:
//!
//! ```text
//! PAPO_BLESS=1 cargo test --test header
//! ```

use std::path::{Path, PathBuf};

use papo::ErrorCode;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn blessing() -> bool {
    std::env::var_os("PAPO_BLESS").is_some_and(|v| !v.is_empty() && v != "0")
}

/// With PAPO_BLESS set, writes `fresh` to `path`; otherwise fails when the
/// file differs from `fresh`.
fn check_or_bless(path: &Path, fresh: &str, made_from: &str) {
    if blessing() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, fresh).unwrap();
        eprintln!("wrote {}", path.display());
        return;
    }
    let current = std::fs::read_to_string(path).unwrap_or_default();
    if current != fresh {
        let first_diff = current
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| current.lines().count().min(fresh.lines().count()));
        panic!(
            "{} is stale (first difference at line {}).\n\
             It is generated from {made_from}. Update it with:\n\n    \
             PAPO_BLESS=1 cargo test --test header\n\n\
             and commit the result.",
            path.display(),
            first_diff + 1
        );
    }
}

/// The version macros, from Cargo.toml's version.
fn version_macros() -> String {
    let compatible = [
        "",
        "/**",
        " * 1 when the library loaded at run time serves a program compiled",
        " * against this header (papo_version_is_compatible() with this header's",
        " * version), else 0. Check it once at start.",
        " *",
        " * Since: 1.0.",
        " */",
        "#define PAPO_VERSION_IS_COMPATIBLE() \\",
        "    papo_version_is_compatible(PAPO_VERSION_MAJOR, PAPO_VERSION_MINOR, PAPO_VERSION_PATCH)",
    ]
    .join("\n");
    format!(
        "\n/** The version of papo this header belongs to (Cargo.toml). */\n\
         #define PAPO_VERSION_MAJOR {}\n\
         #define PAPO_VERSION_MINOR {}\n\
         #define PAPO_VERSION_PATCH {}\n\
         #define PAPO_VERSION_STRING \"{}\"\n{compatible}",
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_PATCH"),
        env!("CARGO_PKG_VERSION"),
    )
}

/// `PAPO_OK` and one `#define PAPO_ERR_<NAME> <n>` per error code, each
/// under its documentation as a comment in cbindgen's style.
fn error_macros() -> String {
    let mut out = String::new();
    let mut define = |doc: &str, name: &str, value: i32| {
        out.push_str("\n/**\n");
        for line in doc.lines() {
            assert!(!line.contains("*/"), "`*/` in the doc of {name}");
            out.push_str(if line.is_empty() { " *" } else { " * " });
            out.push_str(line);
            out.push('\n');
        }
        out.push_str(&format!(" */\n#define {name} {value}\n"));
    };
    define("Success.", "PAPO_OK", papo::ffi::PAPO_OK);
    for code in ErrorCode::ALL {
        define(&code.doc(), code.c_name(), code.as_i32());
    }
    out.pop(); // cbindgen ends the block with its own newline
    out
}

/// Generates the header text from src/ffi/mod.rs (and the modules it
/// declares) with cbindgen.toml.
fn generate() -> String {
    let root = root();
    let mut config =
        cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("read cbindgen.toml");
    let ours = format!("{}\n{}", version_macros(), error_macros());
    config.after_includes = Some(match config.after_includes.take() {
        Some(more) => format!("{ours}\n{more}"),
        None => ours,
    });
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/ffi/mod.rs"))
        .generate()
        .expect("cbindgen failed to generate papo.h");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("cbindgen wrote UTF-8")
}

fn header_path() -> PathBuf {
    root().join("include/papo.h")
}

#[test]
fn header_is_up_to_date() {
    check_or_bless(
        &header_path(),
        &generate(),
        "src/ffi/ by cbindgen and from src/error.rs",
    );
}

/// The names and values fixed by the C API contract are in the header.
#[test]
fn header_has_the_contract_names() {
    let h = generate();
    let expect = [
        "#define PAPO_OK 0",
        "#define PAPO_ERR_NICK_IN_USE 1",
        "#define PAPO_ERR_NO_SUCH_USER 2",
        "#define PAPO_ERR_CONNECTION_ABORTED 3",
        "#define PAPO_ERR_INVALID_SERVER 4",
        "#define PAPO_ERR_INVALID_ADDRESS 5",
        "#define PAPO_ERR_INVALID_NICK 6",
        "#define PAPO_ERR_TOO_LONG 7",
        "#define PAPO_ERR_INVALID_TEXT 8",
        "#define PAPO_ERR_EMPTY 9",
        "#define PAPO_ERR_UNKNOWN_COMMAND 10",
        "#define PAPO_ERR_TIMEOUT 11",
        "#define PAPO_ERR_SERVER_FULL 12",
        "#define PAPO_ERR_NULL_ARGUMENT 13",
        "#define PAPO_ERR_CLOSED 14",
        "#define PAPO_ERR_IO 15",
        "#define PAPO_ERR_PANIC 16",
        "#define PAPO_ERR_INVALID_ARGUMENT 17",
        "#define PAPO_ERR_BUFFER_TOO_SMALL 18",
        "#define PAPO_ERR_ACCESS_DENIED 19",
        "#define PAPO_DEFAULT_PORT 18000",
        "#define PAPO_DEFAULT_TLS_PORT 18001",
        "#define PAPO_ERR_FORKED 20",
        "PAPO_SERVER_EVENT_CONNECTED = 1,",
        "PAPO_SERVER_EVENT_REGISTERED = 2,",
        "PAPO_SERVER_EVENT_NICK_CHANGED = 3,",
        "PAPO_SERVER_EVENT_DISCONNECTED = 4,",
        "typedef enum papo_event_kind {",
        "PAPO_EVENT_NONE = 0,",
        "PAPO_EVENT_PUBLIC = 1,",
        "PAPO_EVENT_PRIVATE = 2,",
        "PAPO_EVENT_JOINED = 3,",
        "PAPO_EVENT_LEFT = 4,",
        "PAPO_EVENT_NICK_CHANGED = 5,",
        "PAPO_EVENT_ERROR = 6,",
        "PAPO_EVENT_DISCONNECTED = 7,",
        "PAPO_EVENT_BYTES = 8,",
        "PAPO_EVENT_FILE_OFFERED = 9,",
        "PAPO_EVENT_FILE_PROGRESS = 10,",
        "PAPO_EVENT_FILE_RECEIVED = 11,",
        "PAPO_EVENT_FILE_FAILED = 12,",
        "PAPO_EVENT_FILE_SEND_PROGRESS = 13,",
        "PAPO_EVENT_FILE_SENT = 14,",
        "PAPO_EVENT_FILE_SEND_FAILED = 15,",
        "PAPO_EVENT_REPLY = 16,",
        "PAPO_EVENT_RECONNECTING = 23,",
        "PAPO_EVENT_RECONNECTED = 24,",
        "PAPO_EVENT_CLUSTER_PARTITIONED = 25,",
        "PAPO_EVENT_CLUSTER_HEALED = 26,",
        "PAPO_EVENT_LOST = 27,",
        "PAPO_EVENT_RENAMED = 28,",
        "int papo_server_options_set_cluster(struct papo_server_options *options,",
        "int papo_server_options_set_cluster_lease_ms(struct papo_server_options *options, uint64_t ms);",
        "int papo_client_wakeup(struct papo_client *client);",
        "int papo_client_fd(struct papo_client *client, int *out_fd);",
        "int papo_server_wakeup(struct papo_server *server);",
        "int papo_server_fd(struct papo_server *server, int *out_fd);",
        "int papo_client_ping_async(struct papo_client *client, uint64_t userdata);",
        "int papo_client_users_async(struct papo_client *client, uint64_t userdata);",
        "typedef enum papo_server_event_kind {",
        "#define PAPO_VERSION_IS_COMPATIBLE()",
        "int papo_version_is_compatible(uint32_t major, uint32_t minor, uint32_t patch);",
        "const char *papo_last_error(void);",
        "int papo_client_wait_event(struct papo_client *client,",
        "int papo_server_wait_event(struct papo_server *server,",
        "struct papo_client_options *papo_client_options_new(void);",
        "struct papo_server_options *papo_server_options_new(void);",
        "typedef struct papo_server papo_server;",
        "typedef struct papo_event {",
        "void (*wakeup)(void *userdata),",
        "typedef struct papo_client papo_client;",
        "const char *papo_strerror(int code);",
        "const char *papo_version(void);",
        "int Conecta_Servidor(const char *ip, uint16_t port, struct papo_server **out_server);",
        "int Desconecta_Servidor(struct papo_server *server);",
        "int Desconecta_cliente(struct papo_client *client);",
        "int papo_server_port(const struct papo_server *server, uint16_t *out_port);",
        "int papo_server_tls_port(const struct papo_server *server, uint16_t *out_port);",
        "int papo_client_ping(struct papo_client *client);",
        "int papo_client_set_nick(struct papo_client *client, const char *new_nick);",
        "#ifndef PAPO_H",
        "extern \"C\" {",
        &format!(
            "#define PAPO_VERSION_STRING \"{}\"",
            env!("CARGO_PKG_VERSION")
        ),
    ];
    let missing: Vec<&str> = expect
        .iter()
        .copied()
        .filter(|line| !h.contains(line))
        .collect();
    assert!(missing.is_empty(), "missing from papo.h: {missing:#?}");
    // Every function declaration is preceded by a comment with a
    // "Thread safety:" line and an "Errors:" or "Returns:" section (or says
    // it cannot fail).
    let mut comment = String::new();
    let mut in_comment = false;
    let mut functions = 0;
    for line in h.lines() {
        let t = line.trim_start();
        if t.starts_with("/**") {
            in_comment = true;
            comment.clear();
        }
        if in_comment {
            comment.push_str(t);
            comment.push('\n');
            if t.ends_with("*/") {
                in_comment = false;
            }
            continue;
        }
        let is_function = line.contains('(')
            && !line.starts_with(' ')
            && !line.starts_with('#')
            && !line.starts_with("typedef")
            && !line.starts_with("/*");
        if is_function {
            functions += 1;
            assert!(
                comment.contains("Thread safety:"),
                "no 'Thread safety:' line in the comment of `{line}`"
            );
            assert!(
                comment.contains("Since: 0.1")
                    || comment.contains("Since: 1.0")
                    || comment.contains("Since: 1.1")
                    || comment.contains("Since: 1.2"),
                "no 'Since:' line in the comment of `{line}`"
            );
        }
    }
    // 0.1: 22 of the contract, 4 of file transfer (src/ffi/files.rs), 1 of
    // TLS (papo_server_tls_port), less the 6 entry points of
    // src/ffi/legacy.rs that 1.0 no longer declares. 1.0: connect_with,
    // start_with, the two wait_event, papo_last_error,
    // papo_version_is_compatible, and the options objects (new, free and
    // one setter per setting: 7 for the client, 24 for the server), the
    // wakeup and fd pairs of the client and the server, and the six
    // asynchronous requests. The test hook papo_debug_force_panic (cargo
    // feature `test-hooks`) is not part of the C API. 1.1: papo_discover
    // and its list (count, get, free); the HTTP port's two server setters
    // (http_port, add_http_origin), papo_server_http_port and
    // papo_server_get_stats; rooms and history: join, part, rooms, history
    // and their four asynchronous twins, and 3 server setters
    // (oper_password, history_path, history_limit); resuming: 4 client
    // setters (reconnect, reconnect_attempts, reconnect_delay_ms,
    // reconnect_max_delay_ms) and 2 server setters (resume_grace_ms,
    // resume_backlog). 1.2: clusters, 2 server setters (cluster,
    // cluster_lease_ms).
    assert_eq!(functions, 99, "function declarations found in papo.h");
    for legacy in [
        "papo_client_config_init",
        "papo_client_connect(",
        "papo_client_next_event",
        "papo_server_config_init",
        "papo_server_start(",
        "papo_server_next_event",
        "papo_client_config",
        "papo_server_config",
    ] {
        assert!(
            !h.contains(legacy),
            "{legacy}: a 0.1 entry point, exported but no longer declared"
        );
    }
    assert!(
        !h.contains("papo_debug_force_panic"),
        "the test hook is not part of the C API"
    );
}

// ---- the Python bindings' error codes -------------------------------------

/// The first line of a generated block in a Python file.
const PY_BEGIN: &str =
    "# BEGIN error codes: generated from src/error.rs by tests/header.rs; do not edit.";
/// The last line of a generated block in a Python file.
const PY_END: &str = "# END error codes";

fn python_dir() -> PathBuf {
    root().join("bindings/python/src/papo")
}

/// The Python name of a code's exception class: the Rust variant's name
/// (its `Debug` text), except `Io`, which the bindings have always called
/// `IoError` (`Io` alone reads as a typo, and `IOError` is Python's own name
/// for OSError).
fn python_class(code: ErrorCode) -> String {
    match code {
        ErrorCode::Io => "IoError".to_owned(),
        other => format!("{other:?}"),
    }
}

/// The base classes of a code's exception class.
fn python_bases(code: ErrorCode) -> &'static str {
    match code {
        // A bad argument is a ValueError to Python code that catches those.
        ErrorCode::InvalidArgument => "Error, ValueError",
        _ => "Error",
    }
}

/// What a Python user needs to know besides the code's documentation.
fn python_note(code: ErrorCode) -> Option<&'static str> {
    match code {
        ErrorCode::NullArgument => {
            Some("The bindings never pass NULL: seeing it is a bug in them.")
        }
        ErrorCode::Closed => Some("Also raised when a closed object is used."),
        ErrorCode::InvalidArgument => Some("Also a :class:`ValueError`."),
        ErrorCode::BufferTooSmall => {
            Some("The bindings retry with a bigger buffer, so it should never reach Python.")
        }
        _ => None,
    }
}

/// `_ffi.py`'s block: `PAPO_OK` and one `PAPO_ERR_<NAME> = <n>` per code.
fn python_constants() -> String {
    let mut out = format!("PAPO_OK = {}\n", papo::ffi::PAPO_OK);
    for code in ErrorCode::ALL {
        out.push_str(&format!("{} = {}\n", code.c_name(), code.as_i32()));
    }
    out
}

/// A Python docstring body: the lines indented by four spaces after the
/// first, backslashes escaped.
fn python_docstring(text: &str) -> String {
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        if i > 0 {
            out.push('\n');
            if !line.is_empty() {
                out.push_str("    ");
            }
        }
        out.push_str(&line.replace('\\', "\\\\"));
    }
    assert!(
        !out.contains("\"\"\""),
        "a docstring cannot hold \"\"\": {text}"
    );
    if out.ends_with('"') {
        out.push_str("\n    ");
    }
    out
}

/// `errors.py`'s block: one exception class per code, the tuple of them in
/// numeric order (`_CODE_CLASSES`) and their names added to `__all__`.
fn python_classes() -> String {
    let mut out = String::new();
    for code in ErrorCode::ALL {
        let mut doc = code.doc();
        if let Some(note) = python_note(code) {
            doc.push_str("\n\n");
            doc.push_str(note);
        }
        out.push_str(&format!(
            "class {}({}):\n    \"\"\"{}\"\"\"\n\n    code = _ffi.{}\n\n\n",
            python_class(code),
            python_bases(code),
            python_docstring(&doc),
            code.c_name()
        ));
    }
    out.push_str("#: The exception class of every error code, in numeric order.\n");
    out.push_str("_CODE_CLASSES: Tuple[Type[Error], ...] = (\n");
    for code in ErrorCode::ALL {
        out.push_str(&format!("    {},\n", python_class(code)));
    }
    out.push_str(")\n__all__ += [\n");
    for code in ErrorCode::ALL {
        out.push_str(&format!("    \"{}\",\n", python_class(code)));
    }
    out.push_str("]\n");
    out
}

/// `text` with the lines between its `PY_BEGIN` and `PY_END` lines replaced
/// by `block`.
fn splice(text: &str, block: &str, path: &Path) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let begin = lines
        .iter()
        .position(|l| l.trim_end() == PY_BEGIN)
        .unwrap_or_else(|| panic!("{}: no line {PY_BEGIN:?}", path.display()));
    let end = lines[begin..]
        .iter()
        .position(|l| l.trim_end() == PY_END)
        .map(|i| begin + i)
        .unwrap_or_else(|| panic!("{}: no line {PY_END:?} after {PY_BEGIN:?}", path.display()));
    let mut out = lines[..=begin].concat();
    out.push_str(block);
    out.push_str(&lines[end..].concat());
    out
}

#[test]
fn python_error_codes_are_up_to_date() {
    for (file, block) in [
        ("_ffi.py", python_constants()),
        ("errors.py", python_classes()),
    ] {
        let path = python_dir().join(file);
        let current = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let fresh = splice(&current, &block, &path);
        check_or_bless(&path, &fresh, "src/error.rs (its marked block)");
    }
}

/// The Python names are the bindings' public API: they never change.
#[test]
fn python_class_names_are_the_released_ones() {
    let names: Vec<String> = ErrorCode::ALL.iter().map(|c| python_class(*c)).collect();
    assert_eq!(
        names,
        [
            "NickInUse",
            "NoSuchUser",
            "ConnectionAborted",
            "InvalidServer",
            "InvalidAddress",
            "InvalidNick",
            "TooLong",
            "InvalidText",
            "Empty",
            "UnknownCommand",
            "Timeout",
            "ServerFull",
            "NullArgument",
            "Closed",
            "IoError",
            "Panic",
            "InvalidArgument",
            "BufferTooSmall",
            "AccessDenied",
            "Forked",
            "NotInRoom",
            "NotOperator",
            "InvalidRoom",
            "ResumeRefused",
        ]
    );
}

// ---- the hand-written tables of codes in the documentation ----------------

/// The rows `| NN | `NAME` | more... |` of the first table under `heading`
/// in a Markdown file, as (number, name, the cells after the name).
fn doc_table(file: &str, heading: &str) -> Vec<(i32, String, Vec<String>)> {
    let path = root().join(file);
    let text = std::fs::read_to_string(&path).expect("read the documentation");
    let section = text
        .split("\n## ")
        .find(|s| s.starts_with(heading))
        .unwrap_or_else(|| panic!("{file}: no section \"## {heading}\""));
    let mut rows = Vec::new();
    for line in section.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<String> = line
            .trim_matches('|')
            .split(" | ")
            .map(|c| c.trim().to_owned())
            .collect();
        let Ok(number) = cells[0].parse::<i32>() else {
            continue; // the header and the separator
        };
        let name = cells[1].trim_matches('`').to_owned();
        rows.push((number, name, cells[2..].to_vec()));
    }
    rows
}

/// PROTOCOL.md and the Python README describe each code in words of their
/// own, so they stay hand-written; this keeps their numbers, names and the
/// seed's texts the table's.
#[test]
fn documentation_lists_every_error_code() {
    let protocol = doc_table("PROTOCOL.md", "Error codes");
    let listed: Vec<(i32, &str)> = protocol.iter().map(|(n, s, _)| (*n, s.as_str())).collect();
    let expected: Vec<(i32, &str)> = ErrorCode::ALL
        .iter()
        .map(|c| (c.as_i32(), c.name()))
        .collect();
    assert_eq!(listed, expected, "PROTOCOL.md, \"Error codes\"");
    for ((_, _, rest), code) in protocol.iter().zip(ErrorCode::ALL) {
        let text = &rest[0];
        assert!(
            text == "—" || code.text().starts_with(text.as_str()),
            "PROTOCOL.md: the text of {} is {:?}, not {text:?}",
            code.name(),
            code.text()
        );
    }
    let python = doc_table("bindings/python/README.md", "Exceptions");
    let listed: Vec<(i32, String)> = python.into_iter().map(|(n, s, _)| (n, s)).collect();
    let expected: Vec<(i32, String)> = ErrorCode::ALL
        .iter()
        .map(|c| (c.as_i32(), python_class(*c)))
        .collect();
    assert_eq!(
        listed, expected,
        "bindings/python/README.md, \"Exceptions\""
    );
}
