//! What the nodes of a cluster say to each other over Redis pub/sub
//! (PROTOCOL.md, "Clusters"): one message per `PUBLISH` payload, encoded
//! and parsed here, with no I/O.
//!
//! A message is one line of UTF-8 words:
//!
//! ```text
//! <node> <seq> <KIND> <arg>... [:<text>]
//! ```
//!
//! `node` is the sending node's id (16 hexadecimal digits, new at each
//! start); `seq` numbers the node's messages on one channel, from 1, so
//! that a receiver sees a gap when Redis dropped some (its subscription
//! cut as a slow consumer, or the link lost); 0 marks a control message
//! (heartbeats and state exchanges), which is not numbered. Arguments are
//! nicknames and room names, which hold no space (`validate_nick`,
//! `validate_room`); the text, last, may hold anything but a line break.

use std::fmt::Write as _;

use crate::protocol::Tag;

/// One message between nodes, borrowing from the payload it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bus<'a> {
    /// `HB`: the node is alive (every third of the lease, on the public
    /// channel).
    Heartbeat,
    /// `BYE`: the node is shutting down; its users are gone.
    Bye,
    /// `SYNC`: a node (new, or back from a partition) asks every other
    /// for its users; each answers [`Bus::Users`] on the asker's channel.
    Sync,
    /// `USERS <nick>...`: every user of the sending node now.
    Users(Vec<&'a str>),
    /// `JOIN <nick>`: a user of the node registered.
    Join(&'a str),
    /// `LEFT <nick>`: a user of the node left.
    Left(&'a str),
    /// `NICK <old> <new>`: a user of the node changed nickname.
    Nick(&'a str, &'a str),
    /// `MOVED <nick>`: a user of another node resumed its connection on
    /// the sending node (PROTOCOL.md, "Resuming on another node"): it is
    /// the sending node's user from now on, without leaving; its old node
    /// ends the old connection without a word.
    Moved(&'a str),
    /// `MOVEDOK <nick>`: on the new node's channel, from the old node of a
    /// user that moved there ([`Bus::Moved`]): the old node no longer
    /// delivers to it, and every message its users sent it before is in
    /// the shared history (queued before this), so the new node can read
    /// what the user missed.
    MovedOk(&'a str),
    /// `PUB <from> :<text>`: a public message.
    Public { from: &'a str, text: &'a str },
    /// `PRIV <to> <from> :<text>`: a private message for a user of the
    /// node whose channel it is published on.
    Private {
        to: &'a str,
        from: &'a str,
        text: &'a str,
    },
    /// `ROOM <room> <from> :<text>`: a room message, on the room's channel.
    Room {
        room: &'a str,
        from: &'a str,
        text: &'a str,
    },
    /// `TPUB <from> <id> <time> :<text>`: a public message with the id
    /// and time its node gave it (cluster-wide ids), which every node
    /// records and delivers it with.
    PublicTagged {
        from: &'a str,
        tag: Tag,
        text: &'a str,
    },
    /// `TPRIV <to> <from> <id> <time> :<text>`: [`Bus::Private`] with its
    /// id and time.
    PrivateTagged {
        to: &'a str,
        from: &'a str,
        tag: Tag,
        text: &'a str,
    },
    /// `TROOM <room> <from> <id> <time> :<text>`: [`Bus::Room`] with its id
    /// and time.
    RoomTagged {
        room: &'a str,
        from: &'a str,
        tag: Tag,
        text: &'a str,
    },
    /// `RJOIN <room> <nick>`: a user of the node joined the room.
    RoomJoin { room: &'a str, nick: &'a str },
    /// `RPART <room> <nick>`: a user of the node left the room.
    RoomPart { room: &'a str, nick: &'a str },
    /// `RSYNC <room>`: a node that just subscribed to the room's channel
    /// asks for its members; each node with members answers
    /// [`Bus::RoomMembers`] on the room's channel.
    RoomSync(&'a str),
    /// `RMEMBERS <room> <nick>...`: the sending node's members of the room.
    RoomMembers { room: &'a str, nicks: Vec<&'a str> },
    /// `RTOPIC <room> <by> <ver> :<text>`: `by`, a room operator of the
    /// node, set the room's topic; `ver` is its number in Redis
    /// (`papo:roominfo:<key>`), so that an older topic arriving late from
    /// another node replaces no newer one.
    RoomTopic {
        room: &'a str,
        by: &'a str,
        ver: u64,
        text: &'a str,
    },
    /// `ROP <room> <by> <nick>`: `by`, a room operator of the node, made
    /// `nick` (a member on any node) an operator.
    RoomOp {
        room: &'a str,
        by: &'a str,
        nick: &'a str,
    },
    /// `RKICK <room> <by> <nick>`: `by`, a room operator of the node, put
    /// `nick` (a member on any node) out of the room; Redis already says
    /// so, and `nick`'s node puts it out of its copy too.
    RoomKick {
        room: &'a str,
        by: &'a str,
        nick: &'a str,
    },
    /// `UKICK <to> <by>`: the server operator `by` put `to`, a user of the
    /// node whose channel it is published on, off the server.
    UserKick { to: &'a str, by: &'a str },
    /// `FRAME <to|*> :<frame>`: a binary message's whole frame
    /// (`BYTES from n [private]` + LF + payload + LF), for `to` on the
    /// node whose channel it is published on, or for everyone. The only
    /// message whose end is bytes, not text.
    Frame {
        to: Option<&'a str>,
        frame: &'a [u8],
    },
    /// `FILEF <id> <to|*> <sent> :<frame>`: one frame of the sending
    /// node's file transfer `id` (its `FILE` header, a `CHUNK` with its
    /// payload, `FILEEND` or `FILEFAIL`, as the sender's node encoded it,
    /// with its own number), for `to` on the node whose channel it is
    /// published on, or for everyone (on the public channel). `sent`: the
    /// bytes of the transfer's `CHUNK` frames published so far, this one
    /// included (so that a receiving node that missed one still reports
    /// progress the sender's node can match). The receiving node gives the
    /// transfer a number of its own. Binary-safe like [`Bus::Frame`].
    FileFrame {
        id: u64,
        to: Option<&'a str>,
        sent: u64,
        frame: &'a [u8],
    },
    /// `FPROG <id> <bytes>`: of the file transfer `id` of the node whose
    /// channel it is published on, the receivers on the sending node have
    /// taken (written to their sockets, or left) the first `bytes` bytes
    /// of its frames, counted as the sender's node encoded them.
    /// Cumulative; the sender's node gives back that much of the
    /// transfer's flow control.
    FileProgress { id: u64, bytes: u64 },
    /// `FGONE <id> <left|text>`: the one receiver of the private file
    /// transfer `id` (of the node whose channel it is published on) will
    /// not get it: it left, or takes no binary frames.
    FileGone { id: u64, text_only: bool },
}

/// A message with its envelope: who sent it, and its number on the
/// channel (0: not numbered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Envelope<'a> {
    pub node: &'a str,
    pub seq: u64,
    pub msg: Bus<'a>,
}

impl Bus<'_> {
    /// Whether the message is numbered on its channel (data, whose loss a
    /// receiver must notice), or a control message, sent again when lost.
    pub(crate) fn numbered(&self) -> bool {
        !matches!(
            self,
            Bus::Heartbeat
                | Bus::Bye
                | Bus::Sync
                | Bus::Users(_)
                | Bus::RoomSync(_)
                | Bus::RoomMembers { .. }
        )
    }

    /// Encodes the message with its envelope, into `out`.
    #[cfg(test)]
    pub(crate) fn encode(&self, node: &str, seq: u64, out: &mut Vec<u8>) {
        envelope(node, seq, out);
        self.encode_body(out);
    }

    /// Encodes the message without its envelope (the publisher puts it
    /// before: [`envelope`]), into `out`.
    pub(crate) fn encode_body(&self, out: &mut Vec<u8>) {
        let mut s = String::with_capacity(64);
        let words = |s: &mut String, kind: &str, words: &[&str]| {
            s.push_str(kind);
            for w in words {
                s.push(' ');
                s.push_str(w);
            }
        };
        match self {
            Bus::Heartbeat => s.push_str("HB"),
            Bus::Bye => s.push_str("BYE"),
            Bus::Sync => s.push_str("SYNC"),
            Bus::Users(nicks) => words(&mut s, "USERS", nicks),
            Bus::Join(n) => words(&mut s, "JOIN", &[n]),
            Bus::Left(n) => words(&mut s, "LEFT", &[n]),
            Bus::Nick(a, b) => words(&mut s, "NICK", &[a, b]),
            Bus::Moved(n) => words(&mut s, "MOVED", &[n]),
            Bus::MovedOk(n) => words(&mut s, "MOVEDOK", &[n]),
            Bus::Public { from, text } => {
                words(&mut s, "PUB", &[from]);
                s.push_str(" :");
                s.push_str(text);
            }
            Bus::Private { to, from, text } => {
                words(&mut s, "PRIV", &[to, from]);
                s.push_str(" :");
                s.push_str(text);
            }
            Bus::Room { room, from, text } => {
                words(&mut s, "ROOM", &[room, from]);
                s.push_str(" :");
                s.push_str(text);
            }
            Bus::PublicTagged { from, tag, text } => {
                words(&mut s, "TPUB", &[from]);
                let _ = write!(s, " {} {} :", tag.id, tag.time);
                s.push_str(text);
            }
            Bus::PrivateTagged {
                to,
                from,
                tag,
                text,
            } => {
                words(&mut s, "TPRIV", &[to, from]);
                let _ = write!(s, " {} {} :", tag.id, tag.time);
                s.push_str(text);
            }
            Bus::RoomTagged {
                room,
                from,
                tag,
                text,
            } => {
                words(&mut s, "TROOM", &[room, from]);
                let _ = write!(s, " {} {} :", tag.id, tag.time);
                s.push_str(text);
            }
            Bus::RoomJoin { room, nick } => words(&mut s, "RJOIN", &[room, nick]),
            Bus::RoomPart { room, nick } => words(&mut s, "RPART", &[room, nick]),
            Bus::RoomSync(room) => words(&mut s, "RSYNC", &[room]),
            Bus::RoomMembers { room, nicks } => {
                words(&mut s, "RMEMBERS", &[room]);
                for n in nicks {
                    s.push(' ');
                    s.push_str(n);
                }
            }
            Bus::RoomTopic {
                room,
                by,
                ver,
                text,
            } => {
                words(&mut s, "RTOPIC", &[room, by, &ver.to_string()]);
                s.push_str(" :");
                s.push_str(text);
            }
            Bus::RoomOp { room, by, nick } => words(&mut s, "ROP", &[room, by, nick]),
            Bus::RoomKick { room, by, nick } => words(&mut s, "RKICK", &[room, by, nick]),
            Bus::UserKick { to, by } => words(&mut s, "UKICK", &[to, by]),
            Bus::Frame { to, .. } => {
                words(&mut s, "FRAME", &[to.unwrap_or("*")]);
                s.push_str(" :");
            }
            Bus::FileFrame { id, to, sent, .. } => {
                let _ = write!(s, "FILEF {id} {} {sent} :", to.unwrap_or("*"));
            }
            Bus::FileProgress { id, bytes } => {
                let _ = write!(s, "FPROG {id} {bytes}");
            }
            Bus::FileGone { id, text_only } => {
                let why = if *text_only { "text" } else { "left" };
                let _ = write!(s, "FGONE {id} {why}");
            }
        }
        out.extend_from_slice(s.as_bytes());
        if let Bus::Frame { frame, .. } | Bus::FileFrame { frame, .. } = self {
            out.extend_from_slice(frame);
        }
    }
}

/// Writes a message's envelope, `node seq `, into `out`.
pub(crate) fn envelope(node: &str, seq: u64, out: &mut Vec<u8>) {
    let mut s = String::with_capacity(32);
    let _ = write!(s, "{node} {seq} ");
    out.extend_from_slice(s.as_bytes());
}

/// Reads a message; `None` for anything malformed (a node of another
/// version, or not papo's: it is ignored and counted, never trusted).
pub(crate) fn parse(payload: &[u8]) -> Option<Envelope<'_>> {
    // The words come before the first ` :` (no nickname or room name holds
    // a `:`); what follows is text, or a frame's bytes.
    let (head, rest) = match payload.windows(2).position(|w| w == b" :") {
        Some(i) => (&payload[..i], Some(&payload[i + 2..])),
        None => (payload, None),
    };
    let head = std::str::from_utf8(head).ok()?;
    if head.contains(['\n', '\r']) {
        return None;
    }
    if let Some(env) = parse_frame(head, rest) {
        return Some(env);
    }
    if let Some(env) = parse_file_frame(head, rest) {
        return Some(env);
    }
    let text = match rest {
        Some(r) => {
            let t = std::str::from_utf8(r).ok()?;
            if t.contains(['\n', '\r']) {
                return None;
            }
            Some(t)
        }
        None => None,
    };
    let mut w = head.split(' ');
    let node = w.next().filter(|n| !n.is_empty())?;
    let seq: u64 = w.next()?.parse().ok()?;
    let kind = w.next()?;
    let args: Vec<&str> = w.collect();
    if args.iter().any(|a| a.is_empty()) {
        return None;
    }
    let one = |i: usize| args.get(i).copied();
    let exact = |n: usize| (args.len() == n).then_some(());
    let msg = match (kind, text) {
        ("HB", None) => exact(0).map(|_| Bus::Heartbeat)?,
        ("BYE", None) => exact(0).map(|_| Bus::Bye)?,
        ("SYNC", None) => exact(0).map(|_| Bus::Sync)?,
        ("USERS", None) => Bus::Users(args),
        ("JOIN", None) => exact(1).and(one(0)).map(Bus::Join)?,
        ("LEFT", None) => exact(1).and(one(0)).map(Bus::Left)?,
        ("MOVED", None) => exact(1).and(one(0)).map(Bus::Moved)?,
        ("MOVEDOK", None) => exact(1).and(one(0)).map(Bus::MovedOk)?,
        ("NICK", None) => {
            exact(2)?;
            Bus::Nick(one(0)?, one(1)?)
        }
        ("PUB", Some(text)) => {
            exact(1)?;
            Bus::Public {
                from: one(0)?,
                text,
            }
        }
        ("PRIV", Some(text)) => {
            exact(2)?;
            Bus::Private {
                to: one(0)?,
                from: one(1)?,
                text,
            }
        }
        ("ROOM", Some(text)) => {
            exact(2)?;
            Bus::Room {
                room: one(0)?,
                from: one(1)?,
                text,
            }
        }
        ("TPUB", Some(text)) => {
            exact(3)?;
            Bus::PublicTagged {
                from: one(0)?,
                tag: tag_at(&args, 1)?,
                text,
            }
        }
        ("TPRIV", Some(text)) => {
            exact(4)?;
            Bus::PrivateTagged {
                to: one(0)?,
                from: one(1)?,
                tag: tag_at(&args, 2)?,
                text,
            }
        }
        ("TROOM", Some(text)) => {
            exact(4)?;
            Bus::RoomTagged {
                room: one(0)?,
                from: one(1)?,
                tag: tag_at(&args, 2)?,
                text,
            }
        }
        ("RJOIN", None) => {
            exact(2)?;
            Bus::RoomJoin {
                room: one(0)?,
                nick: one(1)?,
            }
        }
        ("RPART", None) => {
            exact(2)?;
            Bus::RoomPart {
                room: one(0)?,
                nick: one(1)?,
            }
        }
        ("RSYNC", None) => exact(1).and(one(0)).map(Bus::RoomSync)?,
        ("FPROG", None) => {
            exact(2)?;
            Bus::FileProgress {
                id: one(0)?.parse().ok()?,
                bytes: one(1)?.parse().ok()?,
            }
        }
        ("FGONE", None) => {
            exact(2)?;
            Bus::FileGone {
                id: one(0)?.parse().ok()?,
                text_only: match one(1)? {
                    "text" => true,
                    "left" => false,
                    _ => return None,
                },
            }
        }
        ("RMEMBERS", None) => {
            let room = one(0)?;
            Bus::RoomMembers {
                room,
                nicks: args[1..].to_vec(),
            }
        }
        ("RTOPIC", Some(text)) => {
            exact(3)?;
            Bus::RoomTopic {
                room: one(0)?,
                by: one(1)?,
                ver: one(2)?.parse().ok()?,
                text,
            }
        }
        ("ROP", None) => {
            exact(3)?;
            Bus::RoomOp {
                room: one(0)?,
                by: one(1)?,
                nick: one(2)?,
            }
        }
        ("RKICK", None) => {
            exact(3)?;
            Bus::RoomKick {
                room: one(0)?,
                by: one(1)?,
                nick: one(2)?,
            }
        }
        ("UKICK", None) => {
            exact(2)?;
            Bus::UserKick {
                to: one(0)?,
                by: one(1)?,
            }
        }
        _ => return None,
    };
    if msg.numbered() != (seq != 0) {
        return None;
    }
    Some(Envelope { node, seq, msg })
}

/// The id and time at `args[i]` and `args[i + 1]`.
fn tag_at(args: &[&str], i: usize) -> Option<Tag> {
    Some(Tag {
        id: args.get(i)?.parse().ok()?,
        time: args.get(i + 1)?.parse().ok()?,
    })
}

/// A `FRAME` message, whose end is bytes.
fn parse_frame<'a>(head: &'a str, rest: Option<&'a [u8]>) -> Option<Envelope<'a>> {
    let mut w = head.split(' ');
    let node = w.next().filter(|n| !n.is_empty())?;
    let seq: u64 = w.next()?.parse().ok()?;
    if w.next()? != "FRAME" || seq == 0 {
        return None;
    }
    let to = w.next().filter(|t| !t.is_empty())?;
    if w.next().is_some() {
        return None;
    }
    Some(Envelope {
        node,
        seq,
        msg: Bus::Frame {
            to: (to != "*").then_some(to),
            frame: rest?,
        },
    })
}

/// A `FILEF` message, whose end is bytes.
fn parse_file_frame<'a>(head: &'a str, rest: Option<&'a [u8]>) -> Option<Envelope<'a>> {
    let mut w = head.split(' ');
    let node = w.next().filter(|n| !n.is_empty())?;
    let seq: u64 = w.next()?.parse().ok()?;
    if w.next()? != "FILEF" || seq == 0 {
        return None;
    }
    let id: u64 = w.next()?.parse().ok()?;
    let to = w.next().filter(|t| !t.is_empty())?;
    let sent: u64 = w.next()?.parse().ok()?;
    if w.next().is_some() {
        return None;
    }
    Some(Envelope {
        node,
        seq,
        msg: Bus::FileFrame {
            id,
            to: (to != "*").then_some(to),
            sent,
            frame: rest?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(msg: Bus<'_>) {
        let seq = if msg.numbered() { 7 } else { 0 };
        let mut out = Vec::new();
        msg.encode("00ff00ff00ff00ff", seq, &mut out);
        let back = parse(&out).expect("parses");
        assert_eq!(back.node, "00ff00ff00ff00ff");
        assert_eq!(back.seq, seq);
        assert_eq!(back.msg, msg);
    }

    #[test]
    fn every_kind_round_trips() {
        round_trip(Bus::Heartbeat);
        round_trip(Bus::Bye);
        round_trip(Bus::Sync);
        round_trip(Bus::Users(vec![]));
        round_trip(Bus::Users(vec!["ana", "bia"]));
        round_trip(Bus::Join("ana"));
        round_trip(Bus::Left("ana"));
        round_trip(Bus::Moved("ana"));
        round_trip(Bus::MovedOk("ana"));
        round_trip(Bus::Nick("ana", "bia"));
        round_trip(Bus::Public {
            from: "ana",
            text: "olá : com dois pontos :)",
        });
        round_trip(Bus::Public {
            from: "ana",
            text: "",
        });
        round_trip(Bus::Private {
            to: "bia",
            from: "ana",
            text: "oi",
        });
        round_trip(Bus::Room {
            room: "#sala",
            from: "ana",
            text: "oi sala",
        });
        let tag = Tag {
            id: 1 << 52,
            time: 1_767_225_600_123,
        };
        round_trip(Bus::PublicTagged {
            from: "ana",
            tag,
            text: "olá : 1 2",
        });
        round_trip(Bus::PrivateTagged {
            to: "bia",
            from: "ana",
            tag,
            text: "oi",
        });
        round_trip(Bus::RoomTagged {
            room: "#sala",
            from: "ana",
            tag,
            text: "",
        });
        round_trip(Bus::RoomJoin {
            room: "#sala",
            nick: "ana",
        });
        round_trip(Bus::RoomPart {
            room: "#sala",
            nick: "ana",
        });
        round_trip(Bus::RoomSync("#sala"));
        round_trip(Bus::RoomMembers {
            room: "#sala",
            nicks: vec!["ana", "bia"],
        });
        round_trip(Bus::RoomTopic {
            room: "#sala",
            by: "ana",
            ver: 3,
            text: "tema : com dois pontos",
        });
        round_trip(Bus::RoomTopic {
            room: "#sala",
            by: "ana",
            ver: 4,
            text: "",
        });
        round_trip(Bus::RoomOp {
            room: "#sala",
            by: "ana",
            nick: "bia",
        });
        round_trip(Bus::RoomKick {
            room: "#sala",
            by: "ana",
            nick: "bia",
        });
        round_trip(Bus::UserKick {
            to: "bia",
            by: "ana",
        });
        round_trip(Bus::Frame {
            to: Some("bia"),
            frame: b"BYTES ana 4 private\n\x00\xff :\n\n",
        });
        round_trip(Bus::Frame {
            to: None,
            frame: b"",
        });
    }

    #[test]
    fn file_kinds_round_trip() {
        round_trip(Bus::FileFrame {
            id: 42,
            to: Some("bia"),
            sent: 65536,
            frame: b"CHUNK 42 3\n\x00 :\n",
        });
        round_trip(Bus::FileFrame {
            id: 1,
            to: None,
            sent: 0,
            frame: b"FILE ana 1 9 :a b :c.txt\n",
        });
        round_trip(Bus::FileProgress { id: 7, bytes: 0 });
        round_trip(Bus::FileProgress {
            id: 7,
            bytes: u64::MAX,
        });
        round_trip(Bus::FileGone {
            id: 3,
            text_only: false,
        });
        round_trip(Bus::FileGone {
            id: 3,
            text_only: true,
        });
        for bad in [
            &b"n 1 FILEF x bia 0 :CHUNK"[..],
            b"n 0 FILEF 1 bia 0 :CHUNK",
            b"n 1 FILEF 1 bia :CHUNK",
            b"n 1 FILEF 1 bia 0",
            b"n 1 FPROG 1",
            b"n 1 FPROG 1 -2",
            b"n 0 FPROG 1 2",
            b"n 1 FGONE 1 maybe",
        ] {
            assert_eq!(parse(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn malformed_is_refused() {
        for bad in [
            &b""[..],
            b"n",
            b"n x PUB a :t",
            b"n 1 PUB :t",
            b"n 1 PUB a b :t",
            b"n 0 PUB a :t",
            b"n 3 HB",
            b"n 1 JOIN",
            b"n 1 JOIN a  b",
            b"n 1 WHAT a",
            b"n 1 TPUB a 12 :t",
            b"n 1 TPUB a x 12 :t",
            b"n 1 TPRIV b a 1 -2 :t",
            b"n 0 TROOM #s a 1 2 :t",
            b"n 1 PUB a :t\nx",
            b"\xff 1 JOIN a",
            b"n 1 RTOPIC #s a x :t",
            b"n 1 ROP #s a",
            b"n 0 RKICK #s a b",
        ] {
            assert_eq!(parse(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
