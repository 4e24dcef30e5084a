//! The client's exact wire behaviour after registration, against a scripted
//! peer on a real loopback socket: events, request/answer matching,
//! pipelining, local validation, connection loss, wake-up function.

mod common_client;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common_client::{scripted, Peer, WAIT};
use papo::{Client, ClientConfig, ErrorCode, Event};

fn connect(port: u16, nick: &str) -> Client {
    Client::connect("127.0.0.1", port, nick).unwrap()
}

fn ev(c: &Client) -> Event {
    c.next_event(WAIT).unwrap()
}

fn public(from: &str, text: &str) -> Event {
    Event::Public {
        from: from.into(),
        text: text.into(),
        id: 0,
        time: 0,
    }
}

#[test]
fn server_lines_become_events_in_order() {
    let (port, peer) = scripted(|mut p| {
        p.register(&["bob"]);
        p.send("PUBLIC bob :olá a todos: tudo bem?");
        p.send("PRIVATE bob :só para você");
        p.send("JOIN dani :dani entrou no chat (joined)");
        p.send("HELP :/list quem está online");
        p.send("WHATEVER this is not papo");
        p.send_raw(b"PUBLIC bob :\xff\xfe not utf-8\n");
        p.send("NICK dani Dani2 :dani agora se chama Dani2");
        p.send("ERROR 10 * :Comando desconhecido");
        p.send_raw(b"LEFT Dani2 :Dani2 saiu do chat (left)\r\n");
        p.send("PUBLIC bob :\tcom TAB");
        p.line()
    });
    let c = connect(port, "ana");
    assert_eq!(c.initial_users(), ["ana", "bob"]);
    assert_eq!(ev(&c), public("bob", "olá a todos: tudo bem?"));
    assert_eq!(
        ev(&c),
        Event::Private {
            from: "bob".into(),
            text: "só para você".into(),
            id: 0,
            time: 0,
        }
    );
    assert_eq!(
        ev(&c),
        Event::Joined {
            nick: "dani".into()
        }
    );
    assert_eq!(
        ev(&c),
        Event::NickChanged {
            old: "dani".into(),
            new: "Dani2".into()
        }
    );
    match ev(&c) {
        Event::Error { code, text } => {
            assert_eq!(code, ErrorCode::UnknownCommand);
            assert!(text.contains("Comando desconhecido"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        ev(&c),
        Event::Left {
            nick: "Dani2".into()
        }
    );
    assert_eq!(ev(&c), public("bob", "\tcom TAB"));
    assert_eq!(
        c.next_event(Duration::from_millis(50)).unwrap_err().code(),
        ErrorCode::Timeout
    );
    assert_eq!(c.nick(), "ana");
    drop(c);
    assert_eq!(peer.join().unwrap().as_deref(), Some("quit"));
}

#[test]
fn private_message_waits_for_sent_or_02() {
    let (port, peer) = scripted(|mut p| {
        p.register(&["bob"]);
        let first = p.line();
        p.send("SENT bob :Mensagem enviada (message sent)");
        let second = p.line();
        p.send("ERROR 02 zé :Destino da mensagem privada não existe");
        let third = p.line();
        (first, second, third)
    });
    let c = connect(port, "ana");
    c.send(Some("bob"), "oi bob, tudo bem?").unwrap();
    let err = c.send(Some("zé"), "alguém aí?").unwrap_err();
    assert_eq!(err.code(), ErrorCode::NoSuchUser);
    // Public: written and done, no answer awaited.
    c.send(None, "olá a todos").unwrap();
    let (a, b, p3) = peer.join().unwrap();
    assert_eq!(a.as_deref(), Some("bob:oi bob, tudo bem?"));
    assert_eq!(b.as_deref(), Some("zé:alguém aí?"));
    assert_eq!(p3.as_deref(), Some(":olá a todos"));
}

/// Answers each request line the way a papo server would, in order.
fn answer(p: &mut Peer, line: &str) {
    if line == "/list" {
        p.send("USERS 2 :ana bob");
    } else if let Some(tok) = line.strip_prefix("/ping ") {
        p.send(&format!("PONG :{tok}"));
    } else if let Some(new) = line.strip_prefix("/nick ") {
        p.send(&format!("NICK ana {new} :renamed"));
    } else if let Some((to, _)) = line.split_once(':') {
        if to == "nobody" {
            p.send("ERROR 02 nobody :Destino da mensagem privada não existe");
        } else if !to.is_empty() {
            p.send(&format!("SENT {to} :Mensagem enviada"));
        }
    }
}

#[test]
fn pipelined_requests_from_threads_get_their_own_answers() {
    const N: usize = 8;
    let (port, peer) = scripted(|mut p| {
        p.register(&["bob"]);
        // Read every thread's first request before answering any: they are
        // all in flight at once.
        let first: Vec<String> = (0..N).map(|_| p.line().unwrap()).collect();
        for l in &first {
            // Events in between must not disturb the matching.
            p.send("PUBLIC bob :noise");
            answer(&mut p, l);
        }
        for _ in 0..3 * N {
            let l = p.line().unwrap();
            p.send("PUBLIC bob :noise");
            answer(&mut p, &l);
        }
        (first, p.line())
    });
    let c = Arc::new(connect(port, "ana"));
    let threads: Vec<_> = (0..N)
        .map(|i| {
            let c = Arc::clone(&c);
            std::thread::spawn(move || {
                let r1 = c.send(Some("bob"), &format!("msg {i}"));
                let r2 = c.users();
                let r3 = c.ping();
                let r4 = c.send(Some("nobody"), "x");
                (r1, r2, r3, r4)
            })
        })
        .collect();
    for t in threads {
        let (r1, r2, r3, r4) = t.join().unwrap();
        r1.unwrap();
        assert_eq!(r2.unwrap(), ["ana", "bob"]);
        r3.unwrap();
        assert_eq!(r4.unwrap_err().code(), ErrorCode::NoSuchUser);
    }
    for _ in 0..4 * N {
        assert_eq!(ev(&c), public("bob", "noise"));
    }
    drop(c);
    let (first, last) = peer.join().unwrap();
    let mut first: Vec<&str> = first.iter().map(String::as_str).collect();
    first.sort();
    let expect: Vec<String> = (0..N).map(|i| format!("bob:msg {i}")).collect();
    assert_eq!(first, expect);
    assert_eq!(last.as_deref(), Some("quit"));
}

#[test]
fn change_nick_updates_the_nick_and_queues_the_event() {
    let (port, peer) = scripted(|mut p| {
        p.register(&["bob"]);
        let l1 = p.line().unwrap();
        // Someone else's NICK first: not the answer.
        p.send("NICK bob Bob2 :bob agora se chama Bob2");
        p.send("NICK ana Ana2 :ana agora se chama Ana2");
        let l2 = p.line().unwrap();
        p.send("ERROR 01 Bob2 :Esse apelido já está em uso");
        let l3 = p.line().unwrap();
        p.send("ERROR 06 * :Apelido inválido");
        (l1, l2, l3)
    });
    let c = connect(port, "ana");
    c.change_nick("Ana2").unwrap();
    assert_eq!(c.nick(), "Ana2");
    assert_eq!(
        c.change_nick("Bob2").unwrap_err().code(),
        ErrorCode::NickInUse
    );
    assert_eq!(
        c.change_nick("Válido").unwrap_err().code(),
        ErrorCode::InvalidNick
    );
    assert_eq!(c.nick(), "Ana2");
    // Locally invalid: nothing sent.
    assert_eq!(
        c.change_nick("a b").unwrap_err().code(),
        ErrorCode::InvalidNick
    );
    assert_eq!(
        c.change_nick("").unwrap_err().code(),
        ErrorCode::InvalidNick
    );
    assert_eq!(
        ev(&c),
        Event::NickChanged {
            old: "bob".into(),
            new: "Bob2".into()
        }
    );
    assert_eq!(
        ev(&c),
        Event::NickChanged {
            old: "ana".into(),
            new: "Ana2".into()
        }
    );
    let (l1, l2, l3) = peer.join().unwrap();
    assert_eq!(l1, "/nick Ana2");
    assert_eq!(l2, "/nick Bob2");
    assert_eq!(l3, "/nick Válido");
}

#[test]
fn invalid_messages_are_refused_locally() {
    let (port, peer) = scripted(|mut p| {
        p.send("HELLO papo/1 line=20 nick=5 :hi");
        let nick = p.line().unwrap();
        p.send(&format!("WELCOME {nick} :ok"));
        p.send(&format!("USERS 1 :{nick}"));
        // The first line after registration must be the ping.
        let l1 = p.line().unwrap();
        answer(&mut p, &l1);
        let l2 = p.line().unwrap();
        let l3 = p.line().unwrap();
        answer(&mut p, &l3);
        (l1, l2, l3)
    });
    let c = connect(port, "ana");
    assert_eq!(c.max_line_bytes(), 20);
    let code = |to: Option<&str>, text: &str| c.send(to, text).unwrap_err().code();
    assert_eq!(code(None, ""), ErrorCode::Empty);
    assert_eq!(code(Some("bob"), ""), ErrorCode::Empty);
    assert_eq!(code(None, "two\nlines"), ErrorCode::InvalidText);
    assert_eq!(code(None, "cr\r"), ErrorCode::InvalidText);
    assert_eq!(code(None, "esc\u{1b}[2J"), ErrorCode::InvalidText);
    assert_eq!(code(None, "nul\0"), ErrorCode::InvalidText);
    assert_eq!(code(Some("a b"), "hi"), ErrorCode::InvalidNick);
    assert_eq!(code(Some("a:b"), "hi"), ErrorCode::InvalidNick);
    assert_eq!(code(Some("quit"), "hi"), ErrorCode::InvalidNick);
    assert_eq!(code(Some("toolong"), "hi"), ErrorCode::InvalidNick);
    // ":" + 19 bytes = 20 fits; 20 bytes does not.
    assert_eq!(code(None, &"x".repeat(20)), ErrorCode::TooLong);
    assert_eq!(code(Some("bob"), &"x".repeat(17)), ErrorCode::TooLong);
    // Multi-byte characters count in bytes.
    assert_eq!(code(None, &"é".repeat(10)), ErrorCode::TooLong);
    c.ping().unwrap();
    c.send(None, &"x".repeat(19)).unwrap();
    c.send(Some("bob"), &"y".repeat(16)).unwrap();
    let (l1, l2, l3) = peer.join().unwrap();
    assert!(l1.starts_with("/ping"), "{l1}");
    assert_eq!(l2, format!(":{}", "x".repeat(19)));
    assert_eq!(l3, format!("bob:{}", "y".repeat(16)));
}

#[test]
fn unsolicited_error_03_ends_the_connection() {
    let (port, peer) = scripted(|mut p| {
        p.register(&[]);
        p.send("PUBLIC bob :last words");
        p.send("ERROR 03 * :Cancelamento de conexão forçado (server shutting down)");
        // Keep the socket open: the client must end on the ERROR line alone.
        p.line()
    });
    let c = connect(port, "ana");
    assert_eq!(ev(&c), public("bob", "last words"));
    match ev(&c) {
        Event::Disconnected { code, reason } => {
            assert_eq!(code, ErrorCode::ConnectionAborted);
            assert!(reason.contains("Cancelamento"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!c.is_connected());
    // Taken the final event: Closed at once, even with a long timeout.
    assert_eq!(
        c.next_event(Duration::from_secs(3600)).unwrap_err().code(),
        ErrorCode::Closed
    );
    for r in [
        c.send(None, "hi"),
        c.send(Some("bob"), "hi"),
        c.ping(),
        c.change_nick("x"),
        c.users().map(|_| ()),
    ] {
        assert_eq!(r.unwrap_err().code(), ErrorCode::ConnectionAborted);
    }
    // The client closed its socket.
    assert_eq!(peer.join().unwrap(), None);
    c.disconnect().unwrap();
    c.disconnect().unwrap();
}

#[test]
fn waiting_requests_get_03_when_the_connection_drops() {
    let (tx, rx) = mpsc::channel();
    let (port, peer) = scripted(move |mut p| {
        p.register(&[]);
        let l = p.line();
        // Close without answering, once the test says so.
        rx.recv_timeout(WAIT).unwrap();
        l
    });
    let c = Arc::new(connect(port, "ana"));
    let c2 = Arc::clone(&c);
    let waiter = std::thread::spawn(move || c2.users());
    // The peer closes only after it has read the request line.
    tx.send(()).unwrap();
    let line = peer.join().unwrap();
    assert_eq!(line.as_deref(), Some("/list"));
    assert_eq!(
        waiter.join().unwrap().unwrap_err().code(),
        ErrorCode::ConnectionAborted
    );
    match ev(&c) {
        Event::Disconnected { code, .. } => assert_eq!(code, ErrorCode::ConnectionAborted),
        other => panic!("{other:?}"),
    }
    assert!(!c.is_connected());
    assert_eq!(c.next_event(WAIT).unwrap_err().code(), ErrorCode::Closed);
}

#[test]
fn late_answer_after_timeout_keeps_answers_matched() {
    let (port, peer) = scripted(|mut p| {
        p.register(&["bob"]);
        let l1 = p.line().unwrap();
        // Say nothing until the next request arrives (after the timeout).
        let l2 = p.line().unwrap();
        answer(&mut p, &l1);
        answer(&mut p, &l2);
        let l3 = p.line().unwrap();
        answer(&mut p, &l3);
        (l1, l2, l3)
    });
    let cfg = ClientConfig {
        reply_timeout: Duration::from_millis(300),
        ..ClientConfig::default()
    };
    let c = Client::connect_with("127.0.0.1", port, "ana", cfg).unwrap();
    assert_eq!(c.users().unwrap_err().code(), ErrorCode::Timeout);
    // The late USERS answers the timed-out /list, not this ping. The ping's
    // own answer may itself come late on a loaded machine: retry.
    let mut ok = false;
    for _ in 0..2 {
        match c.ping() {
            Ok(()) => {
                ok = true;
                break;
            }
            Err(e) => assert_eq!(e.code(), ErrorCode::Timeout),
        }
    }
    if !ok {
        // Both timed out (very slow machine): still, the connection works.
        assert!(c.is_connected());
    }
    drop(c);
    let (l1, l2, _) = peer.join().unwrap();
    assert_eq!(l1, "/list");
    assert!(l2.starts_with("/ping"));
}

#[test]
fn full_event_queue_loses_nothing() {
    const N: usize = 200;
    let (port, peer) = scripted(|mut p| {
        p.register(&[]);
        for i in 0..N {
            p.send(&format!("PUBLIC bob :m{i}"));
        }
        p.line()
    });
    let cfg = ClientConfig {
        event_queue_capacity: 2,
        ..ClientConfig::default()
    };
    let c = Client::connect_with("127.0.0.1", port, "ana", cfg).unwrap();
    for i in 0..N {
        assert_eq!(ev(&c), public("bob", &format!("m{i}")));
    }
    drop(c);
    assert_eq!(peer.join().unwrap().as_deref(), Some("quit"));
}

#[test]
fn disconnect_queues_closed_after_pending_events() {
    let (port, peer) = scripted(|mut p| {
        p.register(&[]);
        p.send("PUBLIC bob :one");
        p.send("PUBLIC bob :two");
        let ping = p.line().unwrap();
        answer(&mut p, &ping);
        p.line()
    });
    let c = connect(port, "ana");
    c.ping().unwrap(); // both PUBLIC lines have been read before the PONG
    c.disconnect().unwrap();
    assert!(!c.is_connected());
    assert_eq!(ev(&c), public("bob", "one"));
    assert_eq!(ev(&c), public("bob", "two"));
    match ev(&c) {
        Event::Disconnected { code, .. } => assert_eq!(code, ErrorCode::Closed),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.next_event(WAIT).unwrap_err().code(), ErrorCode::Closed);
    assert_eq!(c.ping().unwrap_err().code(), ErrorCode::ConnectionAborted);
    assert_eq!(peer.join().unwrap().as_deref(), Some("quit"));
}

#[test]
fn wakeup_is_called_and_disconnect_inside_it_does_not_deadlock() {
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (port, peer) = scripted(move |mut p| {
        p.register(&[]);
        go_rx.recv_timeout(WAIT).unwrap();
        p.send("PUBLIC bob :wake up");
        p.send("PUBLIC bob :after");
        let quit = p.line();
        let eof = p.line();
        (quit, eof)
    });
    let c = Arc::new(connect(port, "ana"));
    let calls = Arc::new(AtomicUsize::new(0));
    let slot: Arc<Mutex<Option<Arc<Client>>>> = Arc::new(Mutex::new(Some(Arc::clone(&c))));
    let (done_tx, done_rx) = mpsc::channel();
    let done_tx = Mutex::new(done_tx);
    {
        let calls = Arc::clone(&calls);
        let slot = Arc::clone(&slot);
        c.set_wakeup(Some(Arc::new(move || {
            calls.fetch_add(1, Ordering::SeqCst);
            // Disconnect from inside the wake-up function (the reader thread).
            if let Some(me) = slot.lock().unwrap().take() {
                // A request waiting for an answer cannot be made from here.
                let ping = me.ping().map_err(|e| e.code());
                me.disconnect().unwrap();
                let _ = done_tx.lock().unwrap().send((ping, me.is_connected()));
            }
        })));
    }
    go_tx.send(()).unwrap();
    let (ping, still_connected) = done_rx.recv_timeout(WAIT).expect("disconnect returned");
    assert_eq!(ping, Err(ErrorCode::InvalidArgument));
    assert!(!still_connected);
    let (quit, eof) = peer.join().unwrap();
    assert_eq!(quit.as_deref(), Some("quit"));
    assert_eq!(eof, None);
    // From another thread now: waits for the reader thread to end.
    c.disconnect().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(ev(&c), public("bob", "wake up"));
    match ev(&c) {
        Event::Disconnected { code, .. } => assert_eq!(code, ErrorCode::Closed),
        other => panic!("{other:?}"),
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn wakeup_counts_events_and_can_be_removed() {
    let (port, peer) = scripted(|mut p| {
        p.register(&[]);
        for i in 0..3 {
            p.send(&format!("PUBLIC bob :{i}"));
        }
        let l = p.line().unwrap();
        answer(&mut p, &l);
        let l = p.line().unwrap();
        p.send("PUBLIC bob :unseen by the wake-up");
        answer(&mut p, &l);
        p.line()
    });
    let c = connect(port, "ana");
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    c.set_wakeup(Some(Arc::new(move || {
        counter.fetch_add(1, Ordering::SeqCst);
    })));
    // The three lines may have been queued before set_wakeup: count events.
    for i in 0..3 {
        assert_eq!(ev(&c), public("bob", &i.to_string()));
    }
    c.ping().unwrap();
    let before = calls.load(Ordering::SeqCst);
    assert!(before <= 3);
    c.set_wakeup(None);
    c.ping().unwrap();
    assert_eq!(ev(&c), public("bob", "unseen by the wake-up"));
    assert_eq!(calls.load(Ordering::SeqCst), before);
    drop(c);
    assert_eq!(peer.join().unwrap().as_deref(), Some("quit"));
}

/// With a server that echoes labels (`labels=1` in its `HELLO`), every
/// request goes out with a label of its own and is matched by it, whatever
/// order the answers come in; an unlabeled `ERROR` (one a public message
/// caused, say) answers no request and becomes an event.
#[test]
fn labeled_answers_match_their_requests_in_any_order() {
    let (port, peer) = scripted(|mut p| {
        p.send("HELLO papo/1 line=4096 nick=32 labels=1 :Bem-vindo ao papo!");
        let nick = p.line().expect("nickname");
        p.send(&format!("WELCOME {nick} :oi"));
        p.send(&format!("USERS 2 :{nick} bob"));
        // Three requests in flight at once (sent by three threads) and a
        // public message, in whatever order the threads wrote them.
        let lines: Vec<String> = (0..4).map(|_| p.line().unwrap()).collect();
        let public = lines.iter().find(|l| l.starts_with(':')).unwrap().clone();
        let label = |l: &str| l.split(' ').next().unwrap().to_owned();
        let (ping, list, private) = (
            lines.iter().find(|l| l.contains("/ping")).unwrap().clone(),
            lines.iter().find(|l| l.contains("/list")).unwrap().clone(),
            lines.iter().find(|l| l.contains("bob:")).unwrap().clone(),
        );
        // The public message's error first, unlabeled; then the answers in
        // the reverse of any order, with noise between them.
        p.send("ERROR 08 * :Texto inválido");
        p.send(&format!("{} SENT bob :Mensagem enviada", label(&private)));
        p.send("PUBLIC bob :noise");
        p.send(&format!("{} USERS 2 :ana bob", label(&list)));
        p.send(&format!("{} PONG :x", label(&ping)));
        (ping, list, private, public, p.line())
    });
    let c = Arc::new(connect(port, "ana"));
    let threads: Vec<_> = (0..3)
        .map(|i| {
            let c = Arc::clone(&c);
            std::thread::spawn(move || match i {
                0 => c.ping().map(|()| Vec::new()),
                1 => c.users(),
                _ => c.send(Some("bob"), "oi").map(|()| Vec::new()),
            })
        })
        .collect();
    c.send(None, "público").unwrap();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(results[0].as_ref().unwrap().is_empty());
    assert_eq!(results[1].as_ref().unwrap(), &["ana", "bob"]);
    assert!(results[2].as_ref().unwrap().is_empty());
    match ev(&c) {
        Event::Error { code, .. } => assert_eq!(code, ErrorCode::InvalidText),
        other => panic!("{other:?}"),
    }
    assert_eq!(ev(&c), public("bob", "noise"));
    drop(c);
    let (ping, list, private, public_line, last) = peer.join().unwrap();
    for (l, body) in [(&ping, "/ping "), (&list, "/list"), (&private, "bob:oi")] {
        let (label, rest) = l.split_once(' ').unwrap();
        assert!(label.starts_with('@') && label.len() > 1, "{l}");
        assert!(rest.starts_with(body), "{l}");
    }
    assert_eq!(public_line, ":público", "public messages carry no label");
    assert_eq!(last.as_deref(), Some("quit"));
}
