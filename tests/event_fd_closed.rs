//! The event descriptors of `Client::event_fd` and `Server::event_fd` are
//! closed when their handle is dropped. Alone in its test binary: a closed
//! descriptor's number can be reused by any thread that opens one, so no
//! other test may run beside it.

use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use papo::{Client, Event, Server, ServerConfig};

/// Whether `fd` is an open descriptor of this process.
fn is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only asks about the number; it touches no memory.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

#[test]
fn the_descriptors_are_closed_with_their_handles() {
    let server = Server::start("127.0.0.1", 0, ServerConfig::default()).unwrap();
    let sfd = server.event_fd().unwrap().as_raw_fd();
    let client = Client::connect("127.0.0.1", server.port(), "ana").unwrap();
    let cfd = client.event_fd().unwrap().as_raw_fd();
    assert!(is_open(cfd) && is_open(sfd) && cfd != sfd);

    // Disconnecting keeps it (the final event is still to be taken).
    client.disconnect().unwrap();
    assert!(is_open(cfd));
    assert!(matches!(
        client.next_event(Duration::ZERO),
        Ok(Event::Disconnected { .. })
    ));
    drop(client);
    assert!(!is_open(cfd), "the client's descriptor is closed on drop");
    assert_eq!(
        std::io::Error::last_os_error().raw_os_error(),
        Some(libc::EBADF)
    );

    server.shutdown();
    assert!(is_open(sfd), "shutdown keeps it (events may remain)");
    drop(server);
    assert!(!is_open(sfd), "the server's descriptor is closed on drop");
}
