//! Tests of the server lines: exact encodings, parsing of malformed lines,
//! and the round trip of every line (proptest).

use super::*;
use proptest::prelude::*;

fn enc(l: &ServerLine<&str>) -> String {
    let mut b = Vec::new();
    l.encode(&mut b);
    String::from_utf8(b).unwrap()
}

#[test]
fn changes_line() {
    use PresenceChange as C;
    let line = ServerLine::Changes(vec![
        C::Join("ana"),
        C::Join("bob"),
        C::Left("carl"),
        C::Nick {
            old: "dan",
            new: "dave",
        },
        C::Nick {
            old: "eve",
            new: "eva",
        },
        C::Join("fia"),
    ]);
    let text = enc(&line);
    assert_eq!(
        text,
        "CHANGES 6 :JOIN ana bob, LEFT carl, NICK dan dave, NICK eve eva, JOIN fia\n"
    );
    assert_eq!(ServerLine::parse(text.trim_end()).unwrap(), line);
    for bad in [
        "CHANGES 2 :JOIN ana",
        "CHANGES 1 :JOIN",
        "CHANGES 1 :NICK a",
        "CHANGES 1 :NICK a b c",
        "CHANGES 1 :WHO a",
        "CHANGES 2 :JOIN a,, LEFT b",
        "CHANGES x :JOIN a",
    ] {
        assert!(ServerLine::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(
        ServerLine::parse("CHANGES 0 :").unwrap(),
        ServerLine::Changes(vec![])
    );
}

#[test]
fn exact_lines() {
    let hello = ServerLine::Hello {
        protocol: PROTOCOL_NAME,
        max_line_bytes: Some(4096),
        max_nick_chars: Some(32),
        max_payload_bytes: Some(262144),
        max_file_bytes: Some(1 << 32),
        password_required: false,
        labels: true,
        binary: false,
        tags: false,
        resume: false,
    };
    assert_eq!(
        enc(&hello),
        "HELLO papo/1 line=4096 nick=32 bytes=262144 file=4294967296 labels=1 \
         :Bem-vindo ao papo! Digite seu apelido (type your nickname):\n"
    );
    assert_eq!(
        enc(&ServerLine::Error {
            code: 2,
            subject: Some("zé"),
            text: ErrorCode::NoSuchUser.text(),
        }),
        "ERROR 02 zé :Destino da mensagem privada não existe (no such user online)\n"
    );
    let mut b = Vec::new();
    ServerLine::Sent { to: "bob" }.encode_labeled(Some("7"), &mut b);
    assert_eq!(b, b"@7 SENT bob :Mensagem enviada (message sent)\n");
    assert_eq!(
        ServerLine::parse_labeled("@7 SENT bob :x"),
        Ok((Some("7"), ServerLine::Sent { to: "bob" }))
    );
    assert_eq!(
        enc(&ServerLine::Bytes {
            from: "ana",
            size: 5,
            private: true
        }),
        "BYTES ana 5 private\n"
    );
    assert_eq!(
        enc(&ServerLine::File {
            from: "ana",
            id: 4,
            size: 0,
            private: true,
            name: "x"
        }),
        "FILE ana 4 0 private :x\n"
    );
    // An older server's HELLO: what it does not say is None.
    assert_eq!(
        ServerLine::parse("HELLO papo/1 line=100 nick=8 future=x :hi"),
        Ok(ServerLine::Hello {
            protocol: "papo/1",
            max_line_bytes: Some(100),
            max_nick_chars: Some(8),
            max_payload_bytes: None,
            max_file_bytes: None,
            password_required: false,
            labels: false,
            binary: false,
            tags: false,
            resume: false,
        })
    );
}

#[test]
fn malformed_server_lines() {
    for bad in [
        "",
        "NOPE x",
        "USERS 3 :a b",
        "ERROR xx",
        "PUBLIC ana",
        "FILEOK",
        "FILEOK x",
        "CHUNK 1",
        "CHUNK 1 -2",
        "FILE ana 1 2",
        "BYTES ana",
        "PRESENCE maybe",
    ] {
        assert!(ServerLine::parse(bad).is_err(), "{bad:?}");
    }
    assert!(ServerLine::parse_labeled("@ SENT bob").is_err());
    assert_eq!(
        ServerLine::parse("CHUNK 3 7").unwrap().payload_size(),
        Some(7)
    );
    assert_eq!(
        ServerLine::parse("PUBLIC ana :CHUNK 3 4")
            .unwrap()
            .payload_size(),
        None
    );
}

/// A word: what the server puts where an argument goes (a nickname, a
/// token): no space, no control character, no leading `:` or `@`.
fn word() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_éç\\-\\[\\]{}|.]{1,12}"
}

/// Free text after ` :`: anything but control characters.
fn text() -> impl Strategy<Value = String> {
    "[^\\p{Cc}]{0,40}"
}

prop_compose! {
    fn owned_line()(k in 0..51u8, a in word(), b in word(), t in text(),
                    n in any::<u64>(), m in any::<u64>(), f in any::<bool>(), g in any::<bool>(),
                    opt in proptest::option::of(0u64..1 << 40),
                    users in proptest::collection::vec(word(), 0..5),
                    changes in proptest::collection::vec((0..3u8, word(), word()), 0..8))
        -> ServerLine<String> {
        use ServerLine as L;
        match k {
            0 => L::Hello { protocol: a, max_line_bytes: opt.map(|v| v as usize),
                max_nick_chars: Some(m as usize % 1000), max_payload_bytes: opt,
                max_file_bytes: Some(n), password_required: f, labels: g, binary: !g, tags: f, resume: g },
            1 => L::Welcome { nick: a },
            2 => L::Users(users),
            3 => L::Public { from: a, text: t },
            4 => L::Private { from: a, text: t },
            5 => L::Sent { to: a },
            6 => L::Join { nick: a },
            7 => L::Left { nick: a },
            8 => L::Nick { old: a, new: b },
            9 => L::Pong(f.then_some(t)),
            10 => L::Ping(f.then_some(t)),
            11 => L::PassAccepted,
            12 => L::Help(t),
            13 => L::Presence(f),
            14 => L::FileOk { id: n },
            15 => L::FileAck { id: n, bytes: m },
            16 => L::FileDone { id: n },
            17 => L::FileStop { id: n, reason: t },
            18 => L::File { from: a, id: n, size: m, private: f, name: t },
            19 => L::Chunk { id: n, size: m },
            20 => L::FileEnd { id: n },
            21 => L::FileFail { id: n, reason: t },
            22 => L::Bytes { from: a, size: n, private: f },
            23 => L::Error { code: (m % 100) as u32, subject: f.then_some(b), text: t },
            24 => L::Pong(None),
            25 => L::Users(vec![]),
            26 => L::Binary(f),
            27 => L::FileOffer { from: a, id: n, size: m, private: f, name: t },
            28 => L::BytesNote { from: a, size: n, private: f },
            29 => L::Changes(changes.into_iter().map(|(k, a, b)| match k {
                0 => PresenceChange::Join(a),
                1 => PresenceChange::Left(a),
                _ => PresenceChange::Nick { old: a, new: b },
            }).collect()),
            31 => L::Tags(f),
            32 => L::Room { room: format!("#{a}"), from: b, text: t },
            33 => L::RoomJoin { room: format!("#{a}"), nick: b },
            34 => L::RoomPart { room: format!("#{a}"), nick: b },
            35 => L::RoomKick { room: format!("#{a}"), by: b.clone(), nick: b },
            36 => L::RoomOp { room: format!("#{a}"), by: a.clone(), nick: b },
            37 => L::Topic { room: format!("#{a}"), by: b, text: t },
            38 => L::Members { room: format!("#{a}"), nicks: users },
            39 => L::RoomInfo { room: format!("#{a}"), members: n, topic: t },
            40 => L::RoomsEnd { count: n },
            41 => L::Oper,
            42 => L::History { target: a, kind: [HistoryKind::Public, HistoryKind::Private,
                HistoryKind::Room, HistoryKind::File, HistoryKind::Bytes][(m % 5) as usize],
                from: b, id: n, time: m, text: t },
            43 => L::HistoryEnd { target: a, count: n },
            44 => L::ResumeCap(f),
            45 => L::Token { token: a, last_id: n },
            46 => L::Resumed { nick: a, token: b, recovered: f },
            47 => L::Cluster(if f { ClusterState::Partitioned } else { ClusterState::Healed }),
            48 => L::Lost { count: n },
            49 => L::Renamed { old: a, new: b },
            _ => L::Error { code: 3, subject: None, text: t },
        }
    }
}

#[test]
fn tagged_lines() {
    let tag = Some(Tag {
        id: 42,
        time: 1_764_900_000_000,
    });
    let mut b = Vec::new();
    ServerLine::Public {
        from: "ana",
        text: "oi :)",
    }
    .encode_tagged(None, tag, &mut b);
    assert_eq!(b, b"PUBLIC ana id=42 time=1764900000000 :oi :)\n");
    let line = std::str::from_utf8(&b).unwrap().trim_end();
    assert_eq!(Tag::of_line(line), tag);
    assert_eq!(
        ServerLine::parse(line),
        Ok(ServerLine::Public {
            from: "ana",
            text: "oi :)"
        })
    );
    b.clear();
    ServerLine::Room {
        room: "#sala",
        from: "ana",
        text: "x",
    }
    .encode_tagged(Some("3"), tag, &mut b);
    assert_eq!(b, b"@3 ROOM #sala ana id=42 time=1764900000000 :x\n");
    b.clear();
    ServerLine::Bytes {
        from: "ana",
        size: 5,
        private: true,
    }
    .encode_tagged(None, tag, &mut b);
    assert_eq!(b, b"BYTES ana 5 private id=42 time=1764900000000\n");
    let line = std::str::from_utf8(&b).unwrap().trim_end();
    assert_eq!(Tag::of_line(line), tag);
    assert_eq!(
        ServerLine::parse(line),
        Ok(ServerLine::Bytes {
            from: "ana",
            size: 5,
            private: true
        })
    );
    assert_eq!(Tag::of_line("PUBLIC ana :id=1 time=2"), None);
    b.clear();
    ServerLine::Sent { to: "bob" }.encode_tagged(None, tag, &mut b);
    assert_eq!(b, b"SENT bob :Mensagem enviada (message sent)\n");
}

proptest! {
    /// Whatever the server encodes, a client reads back the same fields,
    /// labeled or not.
    #[test]
    fn encode_then_parse(line in owned_line(), label in proptest::option::of("[a-z0-9]{1,8}")) {
        let mut b = Vec::new();
        line.encode_labeled(label.as_deref(), &mut b);
        let s = String::from_utf8(b).unwrap();
        let body = s.strip_suffix('\n').unwrap();
        prop_assert!(!body.contains('\n'));
        let (got_label, parsed) = ServerLine::parse_labeled(body).unwrap();
        prop_assert_eq!(got_label, label.as_deref());
        prop_assert_eq!(parsed.to_owned_line(), line);
    }

    /// Whatever a line says, reading it never panics, and what was read
    /// is written back into a line that reads the same.
    #[test]
    fn parse_then_encode(s in "[A-Z]{2,8}( [^\\p{Cc} ]{0,6}){0,4}( :[^\\p{Cc}]{0,20})?") {
        if let Ok(parsed) = ServerLine::parse(&s) {
            let mut b = Vec::new();
            parsed.encode(&mut b);
            let again = String::from_utf8(b).unwrap();
            let reparsed = ServerLine::parse(again.trim_end_matches('\n')).unwrap();
            prop_assert_eq!(reparsed, parsed);
        }
    }
}
