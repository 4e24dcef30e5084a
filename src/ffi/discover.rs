//! LAN discovery in C: `papo_discover` and the list it returns, over
//! [`crate::discover()`].

use std::ffi::{c_char, c_int, CString};

use super::handles::{handle_ptr, Registry};
use super::{boundary, c_string, non_null, timeout_arg, FfiError, PAPO_ERR_INVALID_ARGUMENT};
use crate::discover::DiscoveredServer;

/// The servers one papo_discover() call found (opaque handle). Read it
/// with papo_discovery_count() and papo_discovery_get(); free it with
/// papo_discovery_free(). Like papo_client and papo_server, its value is
/// an id the library checks at every call: a list already freed gives
/// PAPO_ERR_CLOSED, never a crash.
///
/// Since: 1.1.
pub struct papo_discovery {
    _opaque: [u8; 0],
}

/// One server found on the LAN by papo_discover() (PROTOCOL.md,
/// "Discovery"). Every string is UTF-8, NUL-terminated and never NULL
/// (empty when unknown).
///
/// Ownership: the list's; valid until papo_discovery_free() on the list
/// that holds it. Never free it or its strings.
///
/// Compatibility: a later 1.x version may append fields. Never allocate a
/// papo_discovered_server, copy one by value or take its sizeof; read it
/// only through the pointer papo_discovery_get() gave.
///
/// Since: 1.1.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct papo_discovered_server {
    /// The announced name, for people ("papo on lab-pc").
    pub name: *const c_char,
    /// The announcing machine's mDNS host name ("lab-pc.local.").
    pub host: *const c_char,
    /// The address to connect to (IPv4 when the server has one), in the
    /// form Conecta_cliente() takes ("192.168.0.10").
    pub address: *const c_char,
    /// Every announced address, IPv4 first, separated by '\n' (IPv6
    /// link-local ones, which need an interface name, are left out).
    pub addresses: *const c_char,
    /// The plain-text chat port, for Conecta_cliente().
    pub port: u16,
    /// The TLS port; 0 when the server announced none.
    pub tls_port: u16,
    /// The HTTP port of the browser client; 0 when announced none.
    pub http_port: u16,
    /// 1 when the server asks for a password
    /// (papo_client_options_set_password()), else 0.
    pub password_required: c_int,
    /// The server's papo version ("1.0.0"); "" when not announced.
    pub version: *const c_char,
}

/// One server's strings and its C view, which points into them.
struct Stored {
    _strings: [CString; 5],
    c: papo_discovered_server,
}

/// What a list handle stands for. Built once and never changed, so the
/// entries (and the pointers handed out to them) stay where they are.
pub(crate) struct DiscoveryList {
    servers: Vec<Stored>,
}

// SAFETY: the raw pointers in each `Stored::c` point into that `Stored`'s
// own strings, whose bytes are on the heap and never changed while the
// list lives; the list is only read after it is built.
unsafe impl Send for DiscoveryList {}
// SAFETY: as above: shared reads of immutable data.
unsafe impl Sync for DiscoveryList {}

impl Stored {
    fn new(s: &DiscoveredServer) -> Stored {
        let addresses: Vec<String> = s.addresses.iter().map(ToString::to_string).collect();
        let strings = [
            c_string(&s.name),
            c_string(&s.host),
            c_string(addresses.first().map_or("", String::as_str)),
            c_string(&addresses.join("\n")),
            c_string(s.version.as_deref().unwrap_or("")),
        ];
        let c = papo_discovered_server {
            name: strings[0].as_ptr(),
            host: strings[1].as_ptr(),
            address: strings[2].as_ptr(),
            addresses: strings[3].as_ptr(),
            port: s.port,
            tls_port: s.tls_port.unwrap_or(0),
            http_port: s.http_port.unwrap_or(0),
            password_required: c_int::from(s.password_required),
            version: strings[4].as_ptr(),
        };
        // Moving a CString moves only its pointer, not its bytes: the
        // pointers above stay valid wherever the `Stored` goes.
        Stored {
            _strings: strings,
            c,
        }
    }
}

/// Every live discovery list.
static LISTS: Registry<DiscoveryList> = Registry::new("discovery");

/// Looks for papo servers on the LAN with mDNS/DNS-SD (the service
/// `_papo._tcp.local.` that papo-server announces; PROTOCOL.md,
/// "Discovery") for `timeout_ms` milliseconds, then returns what answered
/// in `*out_list`, sorted by name; possibly no server at all (count 0).
/// Blocks for the whole timeout: 1000 to 3000 ms finds the servers of a
/// LAN. 0 returns an empty list at once without sending anything. A
/// negative timeout is refused (there is no "wait for ever" here).
///
/// A server announced on 127.0.0.1 is never found (papo-server does not
/// announce loopback addresses); the servers of this machine's LAN
/// addresses are.
///
/// Ownership: `*out_list` is the library's; free it with
/// papo_discovery_free(). Written only on success.
///
/// Thread safety: any thread, several calls at once.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT (out_list NULL),
/// PAPO_ERR_INVALID_ARGUMENT (negative timeout), PAPO_ERR_IO (the mDNS
/// socket cannot be opened), PAPO_ERR_PANIC. papo_last_error() says
/// more.
///
/// Since: 1.1.
///
/// # Safety
/// `out_list` is NULL or points to writable memory for one pointer.
#[no_mangle]
pub unsafe extern "C" fn papo_discover(
    timeout_ms: i32,
    out_list: *mut *mut papo_discovery,
) -> c_int {
    boundary(|| {
        non_null(out_list, "out_list")?;
        if timeout_ms < 0 {
            return Err(FfiError::new(
                PAPO_ERR_INVALID_ARGUMENT,
                format!("timeout_ms is {timeout_ms}: a discovery needs a timeout of 0 or more"),
            ));
        }
        let found = crate::discover::discover(timeout_arg(timeout_ms))?;
        let list = DiscoveryList {
            servers: found.iter().map(Stored::new).collect(),
        };
        let id = LISTS.insert(list);
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { *out_list = handle_ptr(id) };
        Ok(())
    })
}

/// How many servers `list` holds, in `*out_count`.
///
/// Thread safety: any thread; a list is read-only, so several threads may
/// read one at once.
///
/// Errors: PAPO_ERR_NULL_ARGUMENT, PAPO_ERR_CLOSED (the list was freed, or
/// is not a list), PAPO_ERR_FORKED (made by the parent process),
/// PAPO_ERR_PANIC.
///
/// Since: 1.1.
///
/// # Safety
/// `out_count` is NULL or points to writable memory for one size_t.
#[no_mangle]
pub unsafe extern "C" fn papo_discovery_count(
    list: *const papo_discovery,
    out_count: *mut usize,
) -> c_int {
    boundary(|| {
        non_null(out_count, "out_count")?;
        let list = LISTS.get(list, "list")?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { *out_count = list.servers.len() };
        Ok(())
    })
}

/// The server at `index` (0 to count - 1) of `list`, in `*out_server`:
/// valid until papo_discovery_free(list).
///
/// Thread safety: as papo_discovery_count().
///
/// Errors: PAPO_ERR_NULL_ARGUMENT, PAPO_ERR_INVALID_ARGUMENT (index past
/// the end), PAPO_ERR_CLOSED (the list was freed, or is not a list),
/// PAPO_ERR_FORKED, PAPO_ERR_PANIC.
///
/// Since: 1.1.
///
/// # Safety
/// `out_server` is NULL or points to writable memory for one pointer.
#[no_mangle]
pub unsafe extern "C" fn papo_discovery_get(
    list: *const papo_discovery,
    index: usize,
    out_server: *mut *const papo_discovered_server,
) -> c_int {
    boundary(|| {
        non_null(out_server, "out_server")?;
        let list = LISTS.get(list, "list")?;
        let server = list.servers.get(index).ok_or_else(|| {
            FfiError::new(
                PAPO_ERR_INVALID_ARGUMENT,
                format!(
                    "index {index} is past the list's {} servers",
                    list.servers.len()
                ),
            )
        })?;
        let p: *const papo_discovered_server = &server.c;
        // SAFETY: checked non-NULL; writable by the caller's contract. The
        // pointee lives in the list, unchanged until papo_discovery_free.
        unsafe { *out_server = p };
        Ok(())
    })
}

/// Frees a list from papo_discover(), with every server and string in it.
/// NULL is accepted (PAPO_OK). A second free of the same list returns
/// PAPO_ERR_CLOSED and frees nothing. Waits for calls on the list in
/// progress on other threads.
///
/// Thread safety: any thread; the servers of the list must not be read
/// once it returns.
///
/// Errors: PAPO_ERR_CLOSED, PAPO_ERR_FORKED (a forked child may not free
/// its parent's list; it is left alone), PAPO_ERR_PANIC.
///
/// Since: 1.1.
///
/// # Safety
/// None beyond the handle rules above: any value is checked.
#[no_mangle]
pub unsafe extern "C" fn papo_discovery_free(list: *mut papo_discovery) -> c_int {
    boundary(|| {
        if list.is_null() {
            return Ok(());
        }
        let value = LISTS.remove(list, "list")?;
        LISTS.wait_unshared(value);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::{PAPO_ERR_CLOSED, PAPO_ERR_NULL_ARGUMENT};

    // The LAN itself is searched in tests/discover_netns.rs, inside network
    // namespaces; these calls send nothing.
    #[test]
    fn misuse_is_an_error_code_and_a_list_is_freed_once() {
        // SAFETY: every pointer is valid or NULL, as each call documents.
        unsafe {
            assert_eq!(
                papo_discover(0, std::ptr::null_mut()),
                PAPO_ERR_NULL_ARGUMENT
            );
            let mut list: *mut papo_discovery = std::ptr::null_mut();
            assert_eq!(papo_discover(-1, &mut list), PAPO_ERR_INVALID_ARGUMENT);
            assert!(list.is_null(), "not written on error");
            assert_eq!(papo_discover(0, &mut list), 0);
            assert!(!list.is_null());
            let mut n = usize::MAX;
            assert_eq!(papo_discovery_count(list, &mut n), 0);
            assert_eq!(n, 0);
            assert_eq!(
                papo_discovery_count(list, std::ptr::null_mut()),
                PAPO_ERR_NULL_ARGUMENT
            );
            let mut s: *const papo_discovered_server = std::ptr::null();
            assert_eq!(
                papo_discovery_get(list, 0, &mut s),
                PAPO_ERR_INVALID_ARGUMENT
            );
            assert!(s.is_null());
            assert_eq!(papo_discovery_free(list), 0);
            assert_eq!(papo_discovery_free(list), PAPO_ERR_CLOSED);
            assert_eq!(papo_discovery_count(list, &mut n), PAPO_ERR_CLOSED);
            assert_eq!(papo_discovery_free(std::ptr::null_mut()), 0);
            // A made-up handle.
            assert_eq!(
                papo_discovery_free(0x7777 as *mut papo_discovery),
                PAPO_ERR_CLOSED
            );
        }
    }

    #[test]
    fn a_server_is_shown_with_its_strings() {
        let s = DiscoveredServer {
            name: "papo on lab".into(),
            host: "lab.local.".into(),
            addresses: vec![
                "192.168.0.10".parse().expect("ip"),
                "::1".parse().expect("ip"),
            ],
            port: 18000,
            tls_port: Some(18001),
            http_port: None,
            version: None,
            password_required: true,
        };
        let stored = Stored::new(&s);
        let text = |p| {
            // SAFETY: the pointers point into `stored`, alive here.
            unsafe { std::ffi::CStr::from_ptr(p) }
                .to_str()
                .expect("utf-8")
                .to_owned()
        };
        assert_eq!(text(stored.c.name), "papo on lab");
        assert_eq!(text(stored.c.address), "192.168.0.10");
        assert_eq!(text(stored.c.addresses), "192.168.0.10\n::1");
        assert_eq!(text(stored.c.version), "");
        assert_eq!(
            (stored.c.port, stored.c.tls_port, stored.c.http_port),
            (18000, 18001, 0)
        );
        assert_eq!(stored.c.password_required, 1);
    }
}
