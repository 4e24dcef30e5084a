//! Unit tests of the C ABI that need no running server: constants, texts,
//! argument checks. The C programs in tests/c/ test the rest from C.

use std::ffi::{c_char, c_int, CStr};
use std::ptr::{null, null_mut};

use super::client::*;
use super::event::*;
use super::general::*;
use super::legacy::*;
use super::options::*;
use super::seed::*;
use super::server::*;
use super::*;
use crate::config::{ClientConfig, ServerConfig};
use crate::error::ErrorCode;

#[test]
fn every_error_constant_equals_its_error_code() {
    let constants: [(c_int, ErrorCode); 24] = [
        (PAPO_ERR_NICK_IN_USE, ErrorCode::NickInUse),
        (PAPO_ERR_NO_SUCH_USER, ErrorCode::NoSuchUser),
        (PAPO_ERR_CONNECTION_ABORTED, ErrorCode::ConnectionAborted),
        (PAPO_ERR_INVALID_SERVER, ErrorCode::InvalidServer),
        (PAPO_ERR_INVALID_ADDRESS, ErrorCode::InvalidAddress),
        (PAPO_ERR_INVALID_NICK, ErrorCode::InvalidNick),
        (PAPO_ERR_TOO_LONG, ErrorCode::TooLong),
        (PAPO_ERR_INVALID_TEXT, ErrorCode::InvalidText),
        (PAPO_ERR_EMPTY, ErrorCode::Empty),
        (PAPO_ERR_UNKNOWN_COMMAND, ErrorCode::UnknownCommand),
        (PAPO_ERR_TIMEOUT, ErrorCode::Timeout),
        (PAPO_ERR_SERVER_FULL, ErrorCode::ServerFull),
        (PAPO_ERR_NULL_ARGUMENT, ErrorCode::NullArgument),
        (PAPO_ERR_CLOSED, ErrorCode::Closed),
        (PAPO_ERR_IO, ErrorCode::Io),
        (PAPO_ERR_PANIC, ErrorCode::Panic),
        (PAPO_ERR_INVALID_ARGUMENT, ErrorCode::InvalidArgument),
        (PAPO_ERR_BUFFER_TOO_SMALL, ErrorCode::BufferTooSmall),
        (PAPO_ERR_ACCESS_DENIED, ErrorCode::AccessDenied),
        (PAPO_ERR_FORKED, ErrorCode::Forked),
        (PAPO_ERR_NOT_IN_ROOM, ErrorCode::NotInRoom),
        (PAPO_ERR_NOT_OPERATOR, ErrorCode::NotOperator),
        (PAPO_ERR_INVALID_ROOM, ErrorCode::InvalidRoom),
        (PAPO_ERR_RESUME_REFUSED, ErrorCode::ResumeRefused),
    ];
    for (value, code) in constants {
        assert_eq!(value, code as i32, "PAPO_ERR_{}", code.name());
    }
    // Every code is covered exactly once.
    let mut seen: Vec<i32> = constants.iter().map(|(v, _)| *v).collect();
    seen.sort_unstable();
    assert_eq!(seen, (1..=24).collect::<Vec<i32>>());
    assert_eq!(PAPO_OK, 0);
    assert_eq!(PAPO_DEFAULT_PORT, crate::protocol::DEFAULT_PORT);
}

fn text(p: *const c_char) -> &'static str {
    assert!(!p.is_null());
    // SAFETY: papo_strerror/papo_version return static NUL-terminated text.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap()
}

#[test]
fn strerror_covers_every_code_and_unknown_ones() {
    assert_eq!(text(papo_strerror(0)), "success");
    for code in ErrorCode::ALL {
        assert_eq!(text(papo_strerror(code as i32)), code.text());
    }
    let next = ErrorCode::ALL.len() as c_int + 1;
    for unknown in [-1, next, 1000, c_int::MIN, c_int::MAX] {
        assert_eq!(text(papo_strerror(unknown)), "unknown error code");
    }
    assert!(text(papo_strerror(1)).starts_with("Esse apelido já está em uso"));
}

#[test]
fn version_is_the_crate_version() {
    assert_eq!(text(papo_version()), env!("CARGO_PKG_VERSION"));
}

#[test]
fn legacy_config_init_fills_the_rust_defaults_and_ignores_null() {
    let mut s = papo_server_config {
        max_line_bytes: 1,
        max_discard_bytes: 1,
        max_nick_chars: 1,
        max_clients: 1,
        max_clients_per_ip: 1,
        max_queue_bytes: 1,
        registration_timeout_ms: 1,
        io_threads: 1,
        event_queue_capacity: 1,
        max_file_bytes: 1,
        max_payload_bytes: 1,
        file_stall_timeout_ms: 1,
        flood_lines_per_sec: 1,
        flood_burst_lines: 1,
        keepalive_interval_ms: 1,
        keepalive_timeout_ms: 1,
        max_nick_attempts: 1,
        password: c"x".as_ptr(),
        tls_cert_file: c"x".as_ptr(),
        tls_key_file: c"x".as_ptr(),
        tls_port: 1,
        raise_nofile_limit: 1,
        trim_heap: 1,
    };
    // SAFETY: valid pointer / NULL.
    unsafe {
        papo_server_config_init(&mut s);
        papo_server_config_init(null_mut());
    }
    // SAFETY: the strings are NULL after init.
    // The Rust defaults, but the queue limit 0.1 documented (1.0 raised it).
    let want = ServerConfig {
        max_queue_bytes: 1 << 20,
        ..ServerConfig::default()
    };
    assert_eq!(unsafe { s.to_rust() }.unwrap(), want);
    assert_eq!(s.max_line_bytes, 4096);
    assert_eq!(s.max_discard_bytes, 65536);
    assert_eq!(s.max_nick_chars, 32);
    assert_eq!(s.max_clients, 16384);
    assert_eq!(s.max_clients_per_ip, 0);
    assert_eq!(s.max_queue_bytes, 1048576);
    assert_eq!(s.registration_timeout_ms, 30000);
    assert_eq!(s.io_threads, 0);
    assert_eq!(s.event_queue_capacity, 65536);
    assert_eq!(s.max_file_bytes, 4 << 30);
    assert_eq!(s.max_payload_bytes, 256 * 1024);
    assert_eq!(s.file_stall_timeout_ms, 30000);
    assert_eq!(s.flood_lines_per_sec, 100);
    assert_eq!(s.flood_burst_lines, 1000);
    assert_eq!(s.keepalive_interval_ms, 120_000);
    assert_eq!(s.keepalive_timeout_ms, 60_000);
    assert_eq!(s.max_nick_attempts, 10);
    assert!(s.password.is_null() && s.tls_cert_file.is_null() && s.tls_key_file.is_null());
    assert_eq!(s.tls_port, 18001);
    // Process-wide side effects are off unless asked for.
    assert_eq!((s.raise_nofile_limit, s.trim_heap), (0, 0));
    s.raise_nofile_limit = 7;
    s.trim_heap = 1;
    // SAFETY: the strings are NULL after init.
    let on = unsafe { s.to_rust() }.unwrap();
    assert!(on.raise_nofile_limit && on.trim_heap);
    assert_eq!(papo_server_config::from(&on).raise_nofile_limit, 1);

    let mut c = papo_client_config {
        connect_timeout_ms: 1,
        reply_timeout_ms: 1,
        event_queue_capacity: 1,
        password: c"x".as_ptr(),
        tls_ca_file: c"x".as_ptr(),
        tls_server_name: c"x".as_ptr(),
        presence: 0,
    };
    // SAFETY: valid pointer / NULL.
    unsafe {
        papo_client_config_init(&mut c);
        papo_client_config_init(null_mut());
    }
    assert_eq!(c.connect_timeout_ms, 5000);
    assert_eq!(c.reply_timeout_ms, 10000);
    assert_eq!(c.event_queue_capacity, 65536);
    assert!(c.password.is_null() && c.tls_ca_file.is_null() && c.tls_server_name.is_null());
    assert_eq!(c.presence, 1);
    assert_eq!(
        papo_client_config::from(&ClientConfig::default()),
        c,
        "defaults come from papo::ClientConfig"
    );
}

#[test]
fn panic_hook_comes_back_as_16() {
    assert_eq!(papo_debug_force_panic(), PAPO_ERR_PANIC);
    // The process lives on and the library still works.
    assert_eq!(papo_debug_force_panic(), PAPO_ERR_PANIC);
    assert_eq!(text(papo_strerror(PAPO_ERR_PANIC)), ErrorCode::Panic.text());
}

const BAD_UTF8: &CStr = c"\xff\xfe";

#[test]
fn null_handles_and_out_params_are_13_and_touch_nothing() {
    let mut port: u16 = 7;
    let mut count: usize = 7;
    let mut len: usize = 7;
    let mut buf = [b'x' as c_char; 8];
    let mut cli: *mut papo_client = null_mut();
    // SAFETY: every pointer is NULL or valid.
    unsafe {
        assert_eq!(Conecta_Servidor(c"127.0.0.1".as_ptr(), 0, null_mut()), 13);
        assert_eq!(papo_server_start(null(), 0, null(), null_mut()), 13);
        assert_eq!(
            Conecta_cliente(c"127.0.0.1".as_ptr(), 1, c"ana".as_ptr(), null_mut()),
            13
        );
        assert_eq!(Conecta_cliente(null(), 1, null(), &mut cli), 13);
        assert_eq!(papo_client_connect(null(), 1, null(), null(), &mut cli), 13);
        assert!(cli.is_null());
        assert_eq!(enviar_Msg(null_mut(), null(), c"oi".as_ptr()), 13);
        assert_eq!(Desconecta_Servidor(null_mut()), 0);
        assert_eq!(Desconecta_cliente(null_mut()), 0);

        assert_eq!(papo_server_port(null(), &mut port), 13);
        assert_eq!(papo_server_connection_count(null(), &mut count), 13);
        assert_eq!(papo_server_user_count(null(), &mut count), 13);
        assert_eq!(
            papo_server_users(null(), buf.as_mut_ptr(), buf.len(), &mut len),
            13
        );
        let mut ev = std::mem::MaybeUninit::<papo_server_event_0_1>::uninit();
        assert_eq!(papo_server_next_event(null_mut(), 0, ev.as_mut_ptr()), 13);
        let mut sev: *const papo_server_event = null();
        assert_eq!(papo_server_wait_event(null_mut(), 0, &mut sev), 13);
        assert!(sev.is_null());

        let mut cev = std::mem::MaybeUninit::<papo_event_0_1>::uninit();
        assert_eq!(papo_client_next_event(null_mut(), 0, cev.as_mut_ptr()), 13);
        let mut ev: *const papo_event = null();
        assert_eq!(papo_client_wait_event(null_mut(), 0, &mut ev), 13);
        assert!(ev.is_null());
        assert_eq!(
            papo_client_connect_with(null(), 1, null(), null(), &mut cli),
            13
        );
        assert_eq!(papo_server_start_with(null(), 0, null(), null_mut()), 13);
        assert_eq!(
            papo_client_users(null_mut(), buf.as_mut_ptr(), buf.len(), &mut len),
            13
        );
        assert_eq!(
            papo_client_nick(null_mut(), buf.as_mut_ptr(), buf.len(), &mut len),
            13
        );
        assert_eq!(papo_client_set_nick(null_mut(), c"bob".as_ptr()), 13);
        assert_eq!(papo_client_ping(null_mut()), 13);
        assert_eq!(papo_client_set_wakeup(null_mut(), None, null_mut()), 13);
    }
    assert_eq!((port, count, len), (7, 7, 7));
    assert!(cli.is_null());
    assert!(buf.iter().all(|&b| b == b'x' as c_char));
}

#[test]
fn bad_ip_is_05_and_non_utf8_is_8_or_6() {
    let mut srv: *mut papo_server = null_mut();
    let mut cli: *mut papo_client = null_mut();
    // SAFETY: valid pointers and NUL-terminated strings.
    unsafe {
        // "localhost" was here while the address had to be an IP address;
        // host names are accepted now (crate::net), so it left this list.
        for bad in [
            c"256.1.1.1",
            c"1.2.3",
            c"abc",
            c" 127.0.0.1",
            c"1.2.3.4:80",
            c"não é ip",
            c"[::1",
            c"nada.invalid",
        ] {
            assert_eq!(Conecta_Servidor(bad.as_ptr(), 0, &mut srv), 5, "{bad:?}");
            assert_eq!(
                Conecta_cliente(bad.as_ptr(), 18000, c"ana".as_ptr(), &mut cli),
                5,
                "{bad:?}"
            );
        }
        assert_eq!(Conecta_Servidor(BAD_UTF8.as_ptr(), 0, &mut srv), 8);
        assert_eq!(
            Conecta_cliente(BAD_UTF8.as_ptr(), 1, c"ana".as_ptr(), &mut cli),
            8
        );
        assert_eq!(
            Conecta_cliente(c"127.0.0.1".as_ptr(), 1, BAD_UTF8.as_ptr(), &mut cli),
            6
        );
    }
    assert!(srv.is_null() && cli.is_null());
}

#[test]
fn bad_client_config_is_17() {
    let c = papo_client_config::from(&ClientConfig::default());
    let mut cli: *mut papo_client = null_mut();
    for field in 0..3 {
        let mut bad = c;
        match field {
            0 => bad.connect_timeout_ms = 0,
            1 => bad.reply_timeout_ms = 0,
            _ => bad.event_queue_capacity = 0,
        }
        // SAFETY: valid pointers.
        let rc = unsafe { papo_client_connect(null(), 1, c"ana".as_ptr(), &bad, &mut cli) };
        assert_eq!(rc, 17);
    }
    assert!(cli.is_null());
}

#[test]
fn buffer_protocol() {
    let mut len = 0usize;
    let mut buf = [b'x' as c_char; 8];
    // SAFETY: valid pointers, sizes as declared.
    unsafe {
        // Size query: NULL buffer of length 0.
        let code = |r: FfiResult<()>| r.map_err(|e| e.code);
        assert_eq!(
            code(write_buffer("ana\nbob", null_mut(), 0, &mut len)),
            Err(18)
        );
        assert_eq!(len, 8);
        // One byte short: BUFFER_TOO_SMALL, len set, buffer untouched.
        len = 0;
        assert_eq!(
            code(write_buffer("ana\nbob", buf.as_mut_ptr(), 7, &mut len)),
            Err(18)
        );
        assert_eq!(len, 8);
        assert!(buf.iter().all(|&b| b == b'x' as c_char));
        // Exactly enough.
        assert_eq!(
            code(write_buffer("ana\nbob", buf.as_mut_ptr(), 8, &mut len)),
            Ok(())
        );
        assert_eq!(len, 8);
        assert_eq!(CStr::from_ptr(buf.as_ptr()).to_str().unwrap(), "ana\nbob");
        // Empty text needs just the NUL.
        assert_eq!(
            code(write_buffer("", buf.as_mut_ptr(), 1, &mut len)),
            Ok(())
        );
        assert_eq!(len, 1);
        assert_eq!(buf[0], 0);
        // NULL buffer with a length, or NULL out_len: 13.
        assert_eq!(code(write_buffer("a", null_mut(), 4, &mut len)), Err(13));
        assert_eq!(
            code(write_buffer("a", buf.as_mut_ptr(), 8, null_mut())),
            Err(13)
        );
    }
}

#[test]
fn timeouts_in_milliseconds() {
    use std::time::Duration;
    assert_eq!(timeout_arg(-1), Duration::MAX);
    assert_eq!(timeout_arg(i32::MIN), Duration::MAX);
    assert_eq!(timeout_arg(0), Duration::ZERO);
    assert_eq!(timeout_arg(1500), Duration::from_millis(1500));
}

#[test]
fn event_strings_never_panic_on_nul() {
    assert_eq!(c_string("a\0b").as_bytes(), b"ab");
    assert_eq!(c_string("olá").as_bytes(), "olá".as_bytes());
}

/// This thread's papo_last_error() as text.
fn last_error() -> String {
    text_owned(papo_last_error())
}

fn text_owned(p: *const c_char) -> String {
    assert!(!p.is_null());
    // SAFETY: papo_last_error returns a NUL-terminated string.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned()
}

#[test]
fn last_error_names_the_argument_and_is_per_thread() {
    // A fresh thread has "" (never NULL).
    std::thread::spawn(|| assert_eq!(last_error(), ""))
        .join()
        .unwrap();
    let mut cli: *mut papo_client = null_mut();
    // SAFETY: every pointer is NULL or valid.
    unsafe {
        assert_eq!(Conecta_cliente(null(), 1, null(), &mut cli), 13);
        assert_eq!(last_error(), "argument apelido is NULL");
        // A success leaves the detail alone.
        assert_eq!(Desconecta_cliente(null_mut()), 0);
        assert_eq!(last_error(), "argument apelido is NULL");
        assert_eq!(
            Conecta_cliente(c"127.0.0.1".as_ptr(), 1, BAD_UTF8.as_ptr(), &mut cli),
            6
        );
        assert!(
            last_error().starts_with("argument apelido is not UTF-8"),
            "{}",
            last_error()
        );
        assert_eq!(papo_client_ping(std::ptr::dangling_mut()), PAPO_ERR_CLOSED);
        assert!(
            last_error().contains("is not a live client handle"),
            "{}",
            last_error()
        );
    }
    // Another thread's errors do not show here.
    std::thread::spawn(|| {
        // SAFETY: NULL handle.
        assert_eq!(unsafe { papo_client_ping(null_mut()) }, 13);
        assert_eq!(last_error(), "argument client is NULL");
    })
    .join()
    .unwrap();
    assert!(last_error().contains("is not a live client handle"));
    assert_eq!(papo_debug_force_panic(), PAPO_ERR_PANIC);
    assert!(
        last_error().contains("papo_debug_force_panic: deliberate panic"),
        "{}",
        last_error()
    );
}

#[test]
fn version_compatibility() {
    // Relative to this library's version (1.1.0 when the HTTP port came, 1.2.0 with clusters).
    let v = |s: &str| s.parse::<u32>().unwrap_or(u32::MAX);
    let (major, minor, patch) = (
        v(env!("CARGO_PKG_VERSION_MAJOR")),
        v(env!("CARGO_PKG_VERSION_MINOR")),
        v(env!("CARGO_PKG_VERSION_PATCH")),
    );
    assert_eq!(papo_version_is_compatible(major, minor, patch), 1);
    assert_eq!(papo_version_is_compatible(1, 0, 0), 1);
    assert_eq!(papo_version_is_compatible(0, 1, 0), 1);
    assert_eq!(papo_version_is_compatible(0, 1, 7), 1);
    assert_eq!(
        papo_version_is_compatible(major, minor, patch + 1),
        0,
        "a newer patch"
    );
    assert_eq!(
        papo_version_is_compatible(major, minor + 1, 0),
        0,
        "a newer minor"
    );
    assert_eq!(papo_version_is_compatible(2, 0, 0), 0);
    assert_eq!(papo_version_is_compatible(0, 2, 0), 0);
    assert_eq!(papo_version_is_compatible(0, 0, 0), 0);
}

#[test]
fn options_setters_refuse_what_the_config_refuses() {
    let c = papo_client_options_new();
    let s = papo_server_options_new();
    assert!(!c.is_null() && !s.is_null());
    // SAFETY: live options objects, valid strings.
    unsafe {
        assert_eq!(papo_client_options_set_connect_timeout_ms(c, 0), 17);
        assert!(last_error().contains("connect_timeout"), "{}", last_error());
        assert_eq!(papo_client_options_set_reply_timeout_ms(c, 0), 17);
        assert_eq!(papo_client_options_set_event_queue_capacity(c, 0), 17);
        assert_eq!(papo_client_options_set_password(c, c"  ".as_ptr()), 17);
        assert_eq!(papo_client_options_set_password(c, BAD_UTF8.as_ptr()), 8);
        assert_eq!(papo_client_options_set_connect_timeout_ms(c, 250), 0);
        assert_eq!(papo_client_options_set_password(c, c"segredo".as_ptr()), 0);
        assert_eq!(papo_client_options_set_password(c, null()), 0);
        assert_eq!(papo_client_options_set_presence(c, 0), 0);
        assert_eq!(papo_client_options_set_presence(null_mut(), 0), 13);
        let config = (*c).to_config().unwrap();
        assert_eq!(
            config.connect_timeout,
            std::time::Duration::from_millis(250)
        );
        assert!(!config.presence && config.password.is_none());

        assert_eq!(papo_server_options_set_max_line_bytes(s, 0), 17);
        assert_eq!(papo_server_options_set_max_clients(s, 0), 17);
        assert_eq!(papo_server_options_set_registration_timeout_ms(s, 0), 17);
        assert_eq!(papo_server_options_set_password(s, c" x".as_ptr()), 17);
        assert_eq!(papo_server_options_set_max_clients(s, 3), 0);
        assert_eq!(papo_server_options_set_trim_heap(s, 9), 0);
        // One TLS file without the other is refused when starting.
        assert_eq!(
            papo_server_options_set_tls_cert_file(s, c"/nada.pem".as_ptr()),
            0
        );
        let mut srv: *mut papo_server = null_mut();
        assert_eq!(papo_server_start_with(null(), 0, s, &mut srv), 17);
        assert!(srv.is_null());
        assert_eq!(papo_server_options_set_tls_cert_file(s, null()), 0);
        let config = (*s).to_config().unwrap();
        assert_eq!(config.max_clients, 3);
        assert!(config.trim_heap);
        assert_eq!(
            ServerConfig {
                max_clients: 3,
                trim_heap: true,
                ..ServerConfig::default()
            },
            config
        );
        papo_client_options_free(c);
        papo_server_options_free(s);
        papo_client_options_free(null_mut());
        papo_server_options_free(null_mut());
    }
    let _ = ClientConfig::default();
}

#[test]
fn cluster_setters_set_check_and_clear() {
    use std::time::Duration;
    let s = papo_server_options_new();
    assert!(!s.is_null());
    // SAFETY: a live options object, valid strings.
    unsafe {
        let url = c"redis://127.0.0.1:6379/";
        assert_eq!(papo_server_options_set_cluster(s, url.as_ptr()), 0);
        assert_eq!(
            (*s).to_config().unwrap().cluster.as_deref(),
            Some("redis://127.0.0.1:6379/")
        );
        // Refused: the previous value stays.
        assert_eq!(
            papo_server_options_set_cluster(s, c"http://example.org/".as_ptr()),
            PAPO_ERR_INVALID_ARGUMENT
        );
        assert!(last_error().contains("cluster"), "{}", last_error());
        assert_eq!(
            papo_server_options_set_cluster(s, c"not a url".as_ptr()),
            PAPO_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            papo_server_options_set_cluster(s, BAD_UTF8.as_ptr()),
            PAPO_ERR_INVALID_TEXT
        );
        assert_eq!(
            (*s).to_config().unwrap().cluster.as_deref(),
            Some("redis://127.0.0.1:6379/")
        );
        assert_eq!(
            papo_server_options_set_cluster(null_mut(), url.as_ptr()),
            PAPO_ERR_NULL_ARGUMENT
        );
        assert_eq!(papo_server_options_set_cluster_lease_ms(s, 999), 17);
        assert!(last_error().contains("cluster_lease"), "{}", last_error());
        assert_eq!(
            (*s).to_config().unwrap().cluster_lease,
            Duration::from_secs(10)
        );
        assert_eq!(papo_server_options_set_cluster_lease_ms(s, 1000), 0);
        assert_eq!(
            (*s).to_config().unwrap().cluster_lease,
            Duration::from_secs(1)
        );
        assert_eq!(papo_server_options_set_cluster_lease_ms(s, 3_600_000), 0);
        // Past an hour: refused (a lease nobody would wait out).
        assert_eq!(papo_server_options_set_cluster_lease_ms(s, 3_600_001), 17);
        assert_eq!(papo_server_options_set_cluster_lease_ms(s, u64::MAX), 17);
        assert_eq!(
            papo_server_options_set_cluster_lease_ms(null_mut(), 1000),
            PAPO_ERR_NULL_ARGUMENT
        );
        // NULL: off again.
        assert_eq!(papo_server_options_set_cluster(s, null()), 0);
        assert_eq!((*s).to_config().unwrap().cluster, None);
        papo_server_options_free(s);
    }
}

/// A program built for 0.1 (papo_client_next_event) knows no cluster kind:
/// RENAMED comes as the NICK_CHANGED it knows, the others are skipped
/// (within the caller's timeout).
#[test]
fn a_0_1_program_gets_renamed_as_nick_changed_and_no_other_cluster_kind() {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        let mut w = s.try_clone().unwrap();
        let mut r = BufReader::new(s);
        w.write_all(b"HELLO papo/1 line=4096 nick=32 :oi\n")
            .unwrap();
        let mut nick = String::new();
        r.read_line(&mut nick).unwrap();
        w.write_all(
            b"WELCOME ana :oi\nUSERS 2 :ana bob\nCLUSTER partitioned :x\nLOST 2 :x\n\
              RENAMED ana ana_2 :x\nCLUSTER healed :x\nPUBLIC bob :fim\nLOST 1 :x\n",
        )
        .unwrap();
        let mut last = String::new();
        r.read_line(&mut last).unwrap();
        last
    });
    let mut client: *mut papo_client = null_mut();
    let host = c"127.0.0.1";
    // SAFETY: valid strings and out-pointers; the handle is checked.
    unsafe {
        assert_eq!(
            Conecta_cliente(host.as_ptr(), port, c"ana".as_ptr(), &mut client),
            0
        );
        let mut ev = std::mem::MaybeUninit::<papo_event_0_1>::uninit();
        assert_eq!(papo_client_next_event(client, 20_000, ev.as_mut_ptr()), 0);
        let e = ev.assume_init_ref();
        assert_eq!(e.kind, papo_event_kind::PAPO_EVENT_NICK_CHANGED as c_int);
        assert_eq!(CStr::from_ptr(e.nick).to_str().unwrap(), "ana");
        assert_eq!(CStr::from_ptr(e.new_nick).to_str().unwrap(), "ana_2");
        assert_eq!(papo_client_next_event(client, 20_000, ev.as_mut_ptr()), 0);
        let e = ev.assume_init_ref();
        assert_eq!(e.kind, papo_event_kind::PAPO_EVENT_PUBLIC as c_int);
        assert_eq!(CStr::from_ptr(e.text).to_str().unwrap(), "fim");
        // Only a LOST is left: nothing a 0.1 program gets, so a timeout.
        assert_eq!(
            papo_client_next_event(client, 50, ev.as_mut_ptr()),
            PAPO_ERR_TIMEOUT
        );
        assert_eq!(
            papo_client_next_event(client, 0, ev.as_mut_ptr()),
            PAPO_ERR_TIMEOUT
        );
        assert_eq!(Desconecta_cliente(client), 0);
    }
    assert_eq!(peer.join().unwrap().trim_end(), "quit");
}

#[test]
fn freed_foreign_and_made_up_handles_are_closed() {
    let mut srv: *mut papo_server = null_mut();
    let mut port = 0u16;
    // SAFETY: valid pointers; the handles are checked by the library.
    unsafe {
        assert_eq!(Conecta_Servidor(c"127.0.0.1".as_ptr(), 0, &mut srv), 0);
        assert!(!srv.is_null());
        assert_eq!(papo_server_port(srv, &mut port), 0);
        assert_ne!(port, 0);
        // A server handle given as a client handle.
        let as_client = srv.cast::<papo_client>();
        assert_eq!(papo_client_ping(as_client), PAPO_ERR_CLOSED);
        assert_eq!(Desconecta_cliente(as_client), PAPO_ERR_CLOSED);
        // Made-up values.
        for bogus in [0xdead_beef_0000usize, usize::MAX, srv as usize + 1_000_000] {
            let p = bogus as *mut papo_server;
            if p == srv {
                continue;
            }
            assert_eq!(papo_server_port(p, &mut port), PAPO_ERR_CLOSED);
        }
        let mut ev: *const papo_server_event = null();
        assert_eq!(papo_server_wait_event(srv, 2000, &mut ev), PAPO_ERR_TIMEOUT);
        assert!(ev.is_null());
        assert_eq!(Desconecta_Servidor(srv), 0);
        // Use after free and double free.
        assert_eq!(papo_server_port(srv, &mut port), PAPO_ERR_CLOSED);
        assert_eq!(papo_server_wait_event(srv, 0, &mut ev), PAPO_ERR_CLOSED);
        assert_eq!(Desconecta_Servidor(srv), PAPO_ERR_CLOSED);
        assert!(last_error().contains("is not a live server handle"));
    }
}

#[test]
fn desconecta_ends_a_wait_in_progress_on_another_thread() {
    let mut srv: *mut papo_server = null_mut();
    // SAFETY: valid pointers.
    unsafe {
        assert_eq!(Conecta_Servidor(c"127.0.0.1".as_ptr(), 0, &mut srv), 0);
    }
    let id = srv as usize;
    let waiter = std::thread::spawn(move || {
        let mut ev: *const papo_server_event = null();
        let started = std::time::Instant::now();
        // SAFETY: the library checks the handle.
        let rc = unsafe { papo_server_wait_event(id as *mut papo_server, -1, &mut ev) };
        (rc, started.elapsed())
    });
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(Desconecta_Servidor(srv), 0);
    let (rc, waited) = waiter.join().unwrap();
    assert_eq!(rc, PAPO_ERR_CLOSED);
    assert!(waited < std::time::Duration::from_secs(30), "{waited:?}");
}

#[test]
fn replies_carry_userdata_code_text_and_file_id() {
    use crate::client::{Event, Reply, ReplyError};
    let c = |event| {
        let data = EventData::from_event(event);
        let e = data.as_c();
        let text = (!e.text.is_null()).then(|| {
            // SAFETY: a NUL-terminated string owned by `data`.
            unsafe { CStr::from_ptr(e.text) }
                .to_str()
                .unwrap()
                .to_owned()
        });
        (e.kind, e.userdata, e.code, text, e.file_id)
    };
    let reply = papo_event_kind::PAPO_EVENT_REPLY;
    assert_eq!(reply as c_int, 16);
    assert_eq!(
        c(Event::Reply {
            userdata: 7,
            outcome: Ok(Reply::Sent)
        }),
        (reply, 7, 0, None, 0)
    );
    assert_eq!(
        c(Event::Reply {
            userdata: u64::MAX,
            outcome: Ok(Reply::Users(vec!["ana".into(), "bob".into()]))
        }),
        (reply, u64::MAX, 0, Some("ana\nbob".into()), 0)
    );
    assert_eq!(
        c(Event::Reply {
            userdata: 1,
            outcome: Ok(Reply::FileOk(42))
        }),
        (reply, 1, 0, None, 42)
    );
    assert_eq!(
        c(Event::Reply {
            userdata: 2,
            outcome: Err(ReplyError {
                code: ErrorCode::NoSuchUser,
                detail: "no user \"zé\"".into()
            })
        }),
        (reply, 2, 2, Some("no user \"zé\"".into()), 0)
    );
    // Every other kind has userdata 0.
    assert_eq!(
        c(Event::Joined { nick: "ana".into() }).1,
        0,
        "userdata of a JOINED event"
    );
}
