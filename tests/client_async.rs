//! `Client::wakeup`, `Client::event_fd` and the asynchronous requests
//! (`send_async` ...) answered by `Event::Reply`, on real loopback sockets:
//! a real `papo::Server`, or a scripted peer where the test must control
//! when (or whether) answers come.

mod common_client;

use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use common_client::{scripted, WAIT};
use papo::{
    Client, ClientConfig, ErrorCode, Event, Reply, ReplyError, Server, ServerConfig, ServerEvent,
};

const HOUR: Duration = Duration::from_secs(3600);

fn server() -> Server {
    Server::start("127.0.0.1", 0, ServerConfig::default()).expect("server")
}

fn connect(server: &Server, nick: &str) -> Client {
    Client::connect("127.0.0.1", server.port(), nick).expect("connect")
}

/// Whether `fd` polls readable within `ms` milliseconds.
fn readable(fd: RawFd, ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut p, 1, ms) };
    n == 1 && p.revents & libc::POLLIN != 0
}

/// Takes every event queued now.
fn drain(c: &Client) -> Vec<Event> {
    let mut out = Vec::new();
    while let Ok(e) = c.next_event(Duration::ZERO) {
        out.push(e);
    }
    out
}

/// The next `Reply` event, skipping others (which are returned too).
fn next_reply(c: &Client) -> (u64, Result<Reply, ReplyError>) {
    loop {
        match c.next_event(WAIT) {
            Ok(Event::Reply { userdata, outcome }) => return (userdata, outcome),
            Ok(_) => continue,
            Err(e) => panic!("no reply: {e}"),
        }
    }
}

/// The next event that `pick` accepts, skipping the others.
fn next_matching<T>(c: &Client, mut pick: impl FnMut(Event) -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match c.next_event(left) {
            Ok(e) => {
                if let Some(t) = pick(e) {
                    return t;
                }
            }
            Err(e) => panic!("the awaited event did not come: {e}"),
        }
    }
}

#[test]
fn wakeup_ends_a_wait_of_an_hour_at_once() {
    let s = server();
    let c = Arc::new(connect(&s, "ana"));
    drain(&c);
    let waiter = {
        let c = Arc::clone(&c);
        std::thread::spawn(move || {
            let t = Instant::now();
            (c.next_event(HOUR), t.elapsed())
        })
    };
    // Give the waiter time to block (it returns at once either way).
    std::thread::sleep(Duration::from_millis(100));
    c.wakeup();
    let (got, took) = waiter.join().unwrap();
    let err = got.unwrap_err();
    assert_eq!(err.code(), ErrorCode::Timeout, "{err}");
    assert!(err.detail().contains("wakeup"), "{err}");
    assert!(took < WAIT, "the wait took {took:?}");
    // The wake-up was consumed: the client is as before.
    let t = Instant::now();
    assert_eq!(
        c.next_event(Duration::from_millis(200)).unwrap_err().code(),
        ErrorCode::Timeout
    );
    assert!(t.elapsed() >= Duration::from_millis(150), "waited for real");
    assert!(c.is_connected());
}

#[test]
fn wakeup_is_sticky_until_one_wait_returns() {
    let s = server();
    let c = connect(&s, "ana");
    drain(&c);
    // No wait in progress: the next one returns at once, several wake-ups
    // counting as one.
    c.wakeup();
    c.wakeup();
    let t = Instant::now();
    assert_eq!(c.next_event(HOUR).unwrap_err().code(), ErrorCode::Timeout);
    assert!(t.elapsed() < WAIT);
    let t = Instant::now();
    assert_eq!(
        c.next_event(Duration::from_millis(200)).unwrap_err().code(),
        ErrorCode::Timeout
    );
    assert!(t.elapsed() >= Duration::from_millis(150), "consumed");
    // With an event queued, the wait returns the event and consumes the
    // wake-up too (as mpv_wait_event does).
    let bob = connect(&s, "bob");
    bob.send(Some("ana"), "oi").unwrap();
    assert!(matches!(
        next_matching(&c, |e| matches!(e, Event::Joined { .. }).then_some(e)),
        Event::Joined { .. }
    ));
    c.ping().unwrap(); // the private message is queued behind this PONG
    c.wakeup();
    assert!(matches!(c.next_event(HOUR), Ok(Event::Private { .. })));
    let t = Instant::now();
    assert_eq!(
        c.next_event(Duration::from_millis(200)).unwrap_err().code(),
        ErrorCode::Timeout
    );
    assert!(t.elapsed() >= Duration::from_millis(150), "consumed");
    // After the connection ended: still harmless.
    c.disconnect().unwrap();
    c.wakeup();
    assert!(matches!(c.next_event(HOUR), Ok(Event::Disconnected { .. })));
    assert_eq!(c.next_event(HOUR).unwrap_err().code(), ErrorCode::Closed);
}

#[test]
fn event_fd_is_readable_exactly_while_events_are_queued() {
    let s = server();
    let ana = connect(&s, "ana");
    drain(&ana);
    let fd = ana.event_fd().unwrap().as_raw_fd();
    assert_eq!(ana.event_fd().unwrap().as_raw_fd(), fd, "one descriptor");
    assert!(!readable(fd, 0), "nothing queued");
    // SAFETY: F_GETFD/F_GETFL on a descriptor the client holds open.
    let (fd_flags, fl_flags) = unsafe {
        (
            libc::fcntl(fd, libc::F_GETFD),
            libc::fcntl(fd, libc::F_GETFL),
        )
    };
    assert!(fd_flags & libc::FD_CLOEXEC != 0);
    assert!(fl_flags & libc::O_NONBLOCK != 0);

    let bob = connect(&s, "bob");
    // The JOIN for bob wakes a poll that was already waiting.
    assert!(readable(fd, WAIT.as_millis() as i32), "JOIN queued");
    assert!(readable(fd, 0), "level-triggered: still readable");
    assert!(matches!(
        ana.next_event(Duration::ZERO),
        Ok(Event::Joined { .. })
    ));
    assert!(!readable(fd, 0), "drained");

    // Two events: readable until both are taken.
    bob.send(None, "um").unwrap();
    bob.send(None, "dois").unwrap();
    bob.ping().unwrap();
    ana.ping().unwrap(); // both publics are queued at ana now
    assert!(readable(fd, 0));
    assert!(matches!(
        ana.next_event(Duration::ZERO),
        Ok(Event::Public { .. })
    ));
    assert!(readable(fd, 0), "one left");
    assert!(matches!(
        ana.next_event(Duration::ZERO),
        Ok(Event::Public { .. })
    ));
    assert!(!readable(fd, 0));

    // Made after events were queued: readable at once.
    let carla = connect(&s, "carla");
    bob.send(None, "tres").unwrap();
    bob.ping().unwrap();
    carla.ping().unwrap();
    let cfd = carla.event_fd().unwrap().as_raw_fd();
    assert!(readable(cfd, 0));
    drain(&carla);
    assert!(!readable(cfd, 0));

    // The final event makes it readable; taking it clears it.
    drain(&ana);
    ana.disconnect().unwrap();
    assert!(readable(fd, 0));
    assert!(matches!(
        ana.next_event(Duration::ZERO),
        Ok(Event::Disconnected { .. })
    ));
    assert!(!readable(fd, 0));
}

#[test]
fn async_private_message_to_a_missing_nick_gives_02() {
    let s = server();
    let ana = connect(&s, "ana");
    ana.send_async(Some("ninguem"), "oi", 42).unwrap();
    let (userdata, outcome) = next_reply(&ana);
    assert_eq!(userdata, 42);
    let err = outcome.unwrap_err();
    assert_eq!(err.code, ErrorCode::NoSuchUser);
    assert!(err.detail.contains("\"ninguem\""), "{err}");
}

#[test]
fn async_requests_get_the_answers_of_their_synchronous_twins() {
    let s = server();
    let ana = connect(&s, "ana");
    let bob = connect(&s, "bob");
    let dir = tempfile::tempdir().unwrap();
    bob.set_download_dir(Some(dir.path().join("bob")));
    let file = dir.path().join("notas.txt");
    std::fs::write(&file, b"papo async\n".repeat(10_000)).unwrap();

    ana.send_async(Some("bob"), "privado", 1).unwrap();
    ana.send_async(None, "publico", 2).unwrap();
    ana.send_bytes_async(Some("bob"), &[0, 10, 255], 3).unwrap();
    ana.users_async(4).unwrap();
    ana.ping_async(5).unwrap();
    ana.change_nick_async("bob", 6).unwrap();
    ana.change_nick_async("ana2", 7).unwrap();
    ana.send_file_async(Some("bob"), &file, 8).unwrap();
    ana.send_bytes_async(Some("ninguem"), b"x", 9).unwrap();

    let mut replies = Vec::new();
    let mut file_id = None;
    while replies.len() < 9 {
        match ana.next_event(WAIT).expect("event") {
            Event::Reply { userdata, outcome } => {
                if let Ok(Reply::FileOk(id)) = outcome {
                    file_id = Some(id);
                }
                replies.push((userdata, outcome));
            }
            Event::FileSendProgress { .. } | Event::FileSent { .. } => {
                assert!(
                    file_id.is_some(),
                    "the reply comes before the transfer's events"
                )
            }
            _ => {}
        }
    }
    let order: Vec<u64> = replies.iter().map(|r| r.0).collect();
    assert_eq!(order, [1, 2, 3, 4, 5, 6, 7, 8, 9], "in request order");
    assert_eq!(replies[0].1, Ok(Reply::Sent));
    assert_eq!(replies[1].1, Ok(Reply::Sent));
    assert_eq!(replies[2].1, Ok(Reply::Sent));
    assert_eq!(
        replies[3].1,
        Ok(Reply::Users(vec!["ana".into(), "bob".into()]))
    );
    assert_eq!(replies[4].1, Ok(Reply::Pong));
    let in_use = replies[5].1.clone().unwrap_err();
    assert_eq!(in_use.code, ErrorCode::NickInUse);
    assert!(
        in_use
            .detail
            .starts_with("nickname \"bob\" is already in use"),
        "{in_use}"
    );
    assert_eq!(replies[6].1, Ok(Reply::Nick));
    assert_eq!(ana.nick(), "ana2");
    let id = match replies[7].1 {
        Ok(Reply::FileOk(id)) => id,
        ref other => panic!("file offer: {other:?}"),
    };
    assert_eq!(
        replies[8].1.clone().unwrap_err().code,
        ErrorCode::NoSuchUser
    );
    // The file is streamed as with send_file.
    next_matching(&ana, |e| match e {
        Event::FileSent { id: i, .. } if i == id => Some(()),
        Event::FileSendFailed { reason, .. } => panic!("send failed: {reason}"),
        _ => None,
    });
    let saved = next_matching(&bob, |e| match e {
        Event::FileReceived { id: i, path, .. } if i == id => Some(path),
        Event::FileFailed { reason, .. } => panic!("receive failed: {reason}"),
        _ => None,
    });
    assert_eq!(std::fs::read(saved).unwrap(), std::fs::read(&file).unwrap());
}

#[test]
fn local_errors_are_returned_and_give_no_reply() {
    let s = server();
    let ana = connect(&s, "ana");
    drain(&ana);
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ana.send_async(Some("tem espaco"), "oi", 1),
        ana.send_async(None, "", 2),
        ana.send_async(None, "a\nb", 3),
        ana.send_async(None, &"x".repeat(5000), 4),
        ana.change_nick_async("", 5),
        ana.send_bytes_async(Some("a:b"), b"x", 6),
        ana.send_file_async(None, dir.path().join("missing"), 7),
        ana.send_file_async(None, dir.path(), 8),
    ];
    let codes: Vec<ErrorCode> = cases.into_iter().map(|r| r.unwrap_err().code()).collect();
    assert_eq!(
        codes,
        [
            ErrorCode::InvalidNick,
            ErrorCode::Empty,
            ErrorCode::InvalidText,
            ErrorCode::TooLong,
            ErrorCode::InvalidNick,
            ErrorCode::InvalidNick,
            ErrorCode::Io,
            ErrorCode::InvalidArgument,
        ]
    );
    ana.ping().unwrap();
    assert_eq!(drain(&ana), [], "no reply for a refused request");
    ana.disconnect().unwrap();
    let err = ana.ping_async(9).unwrap_err();
    assert_eq!(err.code(), ErrorCode::ConnectionAborted);
    assert!(matches!(
        drain(&ana).as_slice(),
        [Event::Disconnected { .. }]
    ));
}

/// Outstanding requests get 03, in order, before the final event, when the
/// server goes away without answering (a scripted peer, without labels);
/// a public message written before is answered `Sent` in its place.
#[test]
fn outstanding_async_requests_get_03_when_the_server_goes_away() {
    let (port, peer) = scripted(|mut p| {
        p.register(&[]);
        let lines: Vec<Option<String>> = (0..4).map(|_| p.line()).collect();
        // Gone without answering.
        drop(p);
        lines
    });
    let c = Client::connect("127.0.0.1", port, "ana").unwrap();
    c.ping_async(1).unwrap();
    c.users_async(2).unwrap();
    c.send_async(Some("bob"), "oi", 3).unwrap();
    c.send_async(None, "todos", 4).unwrap();
    let lines = peer.join().unwrap();
    assert!(lines.iter().all(Option::is_some), "{lines:?}");
    let mut got = Vec::new();
    loop {
        match c.next_event(WAIT).expect("event") {
            Event::Reply { userdata, outcome } => got.push((userdata, outcome)),
            Event::Disconnected { code, .. } => {
                assert_eq!(code, ErrorCode::ConnectionAborted);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let order: Vec<u64> = got.iter().map(|g| g.0).collect();
    assert_eq!(order, [1, 2, 3, 4]);
    for (userdata, outcome) in got.iter().take(3) {
        let e = outcome.clone().unwrap_err();
        assert_eq!(e.code, ErrorCode::ConnectionAborted, "{userdata}: {e}");
    }
    // The public message was written, which is all it waits for; but the
    // connection may end between the write and its reply, and then 03 is
    // just as true (the line may or may not have been read).
    match &got[3].1 {
        Ok(reply) => assert_eq!(*reply, Reply::Sent),
        Err(e) => assert_eq!(e.code, ErrorCode::ConnectionAborted, "{e}"),
    }
    assert_eq!(c.next_event(WAIT).unwrap_err().code(), ErrorCode::Closed);
}

/// A public message's reply (answered once written) waits behind an older
/// request the server has not answered yet; `disconnect` answers the rest
/// with 03 before its `Disconnected`.
#[test]
fn replies_keep_request_order_and_disconnect_answers_the_rest() {
    let (go, wait_go) = std::sync::mpsc::channel::<()>();
    let (port, peer) = scripted(move |mut p| {
        p.register(&[]);
        let first = p.line();
        let second = p.line();
        let third = p.line();
        // The test looks first: nothing is answered yet.
        let _ = wait_go.recv_timeout(WAIT);
        p.send("SENT bob :Mensagem enviada");
        // The client's quit (or EOF) ends the script.
        while p.line().is_some() {}
        (first, second, third)
    });
    let c = Client::connect("127.0.0.1", port, "ana").unwrap();
    c.send_async(Some("bob"), "privado", 1).unwrap();
    c.send_async(None, "publico", 2).unwrap();
    c.ping_async(3).unwrap();
    assert_eq!(
        c.next_event(Duration::from_millis(300)).unwrap_err().code(),
        ErrorCode::Timeout,
        "2 is written but waits behind 1"
    );
    go.send(()).unwrap();
    assert_eq!(next_reply(&c), (1, Ok(Reply::Sent)));
    assert_eq!(next_reply(&c), (2, Ok(Reply::Sent)));
    c.disconnect().unwrap();
    let (userdata, outcome) = next_reply(&c);
    assert_eq!(userdata, 3);
    assert_eq!(outcome.unwrap_err().code, ErrorCode::ConnectionAborted);
    assert!(matches!(
        c.next_event(WAIT),
        Ok(Event::Disconnected {
            code: ErrorCode::Closed,
            ..
        })
    ));
    let (first, second, third) = peer.join().unwrap();
    assert_eq!(first.as_deref(), Some("bob:privado"));
    assert_eq!(second.as_deref(), Some(":publico"));
    assert!(third.unwrap_or_default().starts_with("/ping"));
}

/// A full event queue does not hold replies back (nor the reader thread
/// that queues them).
#[test]
fn replies_are_queued_over_a_full_event_queue() {
    let s = server();
    let config = ClientConfig {
        event_queue_capacity: 1,
        ..ClientConfig::default()
    };
    let ana = Client::connect_with("127.0.0.1", s.port(), "ana", config).unwrap();
    let bob = connect(&s, "bob");
    // bob's JOIN fills ana's queue (bob stays: his LEFT would not fit).
    assert!(readable(
        ana.event_fd().unwrap().as_raw_fd(),
        WAIT.as_millis() as i32
    ));
    ana.ping_async(1).unwrap();
    ana.send_async(None, "publico", 2).unwrap();
    // Were the ping's reply waiting for room, the reader thread would be
    // stuck and this synchronous request would time out.
    ana.users()
        .unwrap_or_else(|e| panic!("the reader thread is blocked: {e}"));
    let events = drain(&ana);
    let replies: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Event::Reply { userdata, .. } => Some(*userdata),
            _ => None,
        })
        .collect();
    assert!(
        matches!(events.first(), Some(Event::Joined { .. })),
        "{events:?}"
    );
    assert_eq!(replies, [1, 2]);
    drop(bob);
}

/// The wake-up function is called for replies too, also for one queued on
/// the caller's thread (a public message), and a function that makes an
/// asynchronous request of its own client neither recurses nor deadlocks.
#[test]
fn the_wakeup_function_sees_replies() {
    let s = server();
    let ana = Arc::new(connect(&s, "ana"));
    drain(&ana);
    let calls = Arc::new(AtomicUsize::new(0));
    let weak: Weak<Client> = Arc::downgrade(&ana);
    {
        let calls = Arc::clone(&calls);
        ana.set_wakeup(Some(Arc::new(move || {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                if let Some(c) = weak.upgrade() {
                    // Answered at once, on this thread, inside this function.
                    c.send_async(None, "de dentro", 99).unwrap();
                }
            }
        })));
    }
    ana.send_async(None, "de fora", 1).unwrap();
    assert!(
        calls.load(Ordering::SeqCst) >= 2,
        "called again for reply 99"
    );
    assert_eq!(next_reply(&ana), (1, Ok(Reply::Sent)));
    assert_eq!(next_reply(&ana), (99, Ok(Reply::Sent)));
    ana.ping_async(2).unwrap();
    assert_eq!(next_reply(&ana), (2, Ok(Reply::Pong)));
    // The reader queues the reply and then calls the function: the reply
    // can be taken before that call has happened.
    let deadline = Instant::now() + WAIT;
    while calls.load(Ordering::SeqCst) < 3 {
        assert!(Instant::now() < deadline, "the reader never called it");
        std::thread::sleep(Duration::from_millis(1));
    }
    ana.set_wakeup(None);
}

#[test]
fn server_wakeup_ends_a_wait_and_is_sticky() {
    let s = Arc::new(server());
    let waiter = {
        let s = Arc::clone(&s);
        std::thread::spawn(move || s.next_event(HOUR))
    };
    std::thread::sleep(Duration::from_millis(100));
    s.wakeup();
    assert_eq!(waiter.join().unwrap(), None);
    s.wakeup();
    s.wakeup();
    let t = Instant::now();
    assert_eq!(s.next_event(HOUR), None);
    assert!(t.elapsed() < WAIT);
    let t = Instant::now();
    assert_eq!(s.next_event(Duration::from_millis(200)), None);
    assert!(t.elapsed() >= Duration::from_millis(150), "consumed");
}

#[test]
fn server_event_fd_is_readable_exactly_while_events_are_queued() {
    let s = server();
    let fd = s.event_fd().unwrap().as_raw_fd();
    assert_eq!(s.event_fd().unwrap().as_raw_fd(), fd);
    assert!(!readable(fd, 0));
    let ana = connect(&s, "ana");
    assert!(readable(fd, WAIT.as_millis() as i32), "Connected queued");
    assert!(matches!(
        s.next_event(Duration::ZERO),
        Some(ServerEvent::Connected { .. })
    ));
    assert!(matches!(
        s.next_event(WAIT),
        Some(ServerEvent::Registered { .. })
    ));
    assert!(!readable(fd, 0), "drained");
    drop(ana);
    assert!(readable(fd, WAIT.as_millis() as i32), "Disconnected queued");
    assert!(s.next_event(Duration::ZERO).is_some());
    assert!(!readable(fd, 0));
}
