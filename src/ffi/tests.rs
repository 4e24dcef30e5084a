//! Unit tests of the C ABI that need no running server: constants, texts,
//! argument checks. The C programs in tests/c/ test the rest from C.

use std::ffi::{c_char, c_int, CStr};
use std::ptr::{null, null_mut};

use super::client::*;
use super::event::*;
use super::general::*;
use super::seed::*;
use super::server::*;
use super::*;
use crate::config::{ClientConfig, ServerConfig};
use crate::error::ErrorCode;

#[test]
fn every_error_constant_equals_its_error_code() {
    let constants: [(c_int, ErrorCode); 19] = [
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
    ];
    for (value, code) in constants {
        assert_eq!(value, code as i32, "PAPO_ERR_{}", code.name());
    }
    // Every code is covered exactly once.
    let mut seen: Vec<i32> = constants.iter().map(|(v, _)| *v).collect();
    seen.sort_unstable();
    assert_eq!(seen, (1..=19).collect::<Vec<i32>>());
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
    for unknown in [-1, 20, 1000, c_int::MIN, c_int::MAX] {
        assert_eq!(text(papo_strerror(unknown)), "unknown error code");
    }
    assert!(text(papo_strerror(1)).starts_with("Esse apelido já está em uso"));
}

#[test]
fn version_is_the_crate_version() {
    assert_eq!(text(papo_version()), env!("CARGO_PKG_VERSION"));
}

#[test]
fn config_init_fills_the_rust_defaults_and_ignores_null() {
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
    assert_eq!(ServerConfig::from(&s), ServerConfig::default());
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
    let on = ServerConfig::from(&s);
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
        let mut ev = std::mem::MaybeUninit::<papo_server_event>::uninit();
        assert_eq!(papo_server_next_event(null_mut(), 0, ev.as_mut_ptr()), 13);

        let mut cev = std::mem::MaybeUninit::<papo_event>::uninit();
        assert_eq!(papo_client_next_event(null_mut(), 0, cev.as_mut_ptr()), 13);
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
        assert_eq!(write_buffer("ana\nbob", null_mut(), 0, &mut len), Err(18));
        assert_eq!(len, 8);
        // One byte short: BUFFER_TOO_SMALL, len set, buffer untouched.
        len = 0;
        assert_eq!(
            write_buffer("ana\nbob", buf.as_mut_ptr(), 7, &mut len),
            Err(18)
        );
        assert_eq!(len, 8);
        assert!(buf.iter().all(|&b| b == b'x' as c_char));
        // Exactly enough.
        assert_eq!(
            write_buffer("ana\nbob", buf.as_mut_ptr(), 8, &mut len),
            Ok(())
        );
        assert_eq!(len, 8);
        assert_eq!(CStr::from_ptr(buf.as_ptr()).to_str().unwrap(), "ana\nbob");
        // Empty text needs just the NUL.
        assert_eq!(write_buffer("", buf.as_mut_ptr(), 1, &mut len), Ok(()));
        assert_eq!(len, 1);
        assert_eq!(buf[0], 0);
        // NULL buffer with a length, or NULL out_len: 13.
        assert_eq!(write_buffer("a", null_mut(), 4, &mut len), Err(13));
        assert_eq!(write_buffer("a", buf.as_mut_ptr(), 8, null_mut()), Err(13));
    }
}

#[test]
fn timeouts_in_milliseconds() {
    use std::time::Duration;
    assert_eq!(timeout_arg(-1), None);
    assert_eq!(timeout_arg(i32::MIN), None);
    assert_eq!(timeout_arg(0), Some(Duration::ZERO));
    assert_eq!(timeout_arg(1500), Some(Duration::from_millis(1500)));
}

#[test]
fn event_strings_never_panic_on_nul() {
    assert_eq!(c_string("a\0b").as_bytes(), b"ab");
    assert_eq!(c_string("olá").as_bytes(), "olá".as_bytes());
}
