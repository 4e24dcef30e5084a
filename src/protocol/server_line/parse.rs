//! Parsing a server line: [`ServerLine::parse`] and
//! [`ServerLine::parse_labeled`], the one reader of every line a server
//! sends (the client's, the test clients' and the fuzz harness's).

use super::super::names::{parse_number, split_label};
use super::*;

impl<'a> ServerLine<&'a str> {
    /// Reads one server line (without its line ending) and its label, if
    /// it has one (PROTOCOL.md, "Labels").
    pub fn parse_labeled(line: &'a str) -> Result<(Option<&'a str>, Self), LineParseError> {
        let (label, rest) = split_label(line)
            .map_err(|_| LineParseError(format!("malformed label in {line:?}")))?;
        Ok((label, ServerLine::parse(rest)?))
    }

    /// Reads one server line without a label (without its line ending).
    pub fn parse(line: &'a str) -> Result<Self, LineParseError> {
        let (head, trailing) = split_trailing(line);
        let mut words = head.split(' ').filter(|w| !w.is_empty());
        let keyword = words
            .next()
            .ok_or_else(|| LineParseError("empty line".into()))?;
        let bad = || LineParseError(format!("malformed {keyword} line: {line:?}"));
        let number = |w: &str| parse_number(w).ok_or_else(bad);
        let mut arg = || words.next().ok_or_else(bad);
        Ok(match keyword {
            "HELLO" => {
                let protocol = arg()?;
                let (mut line_b, mut nick_c, mut payload, mut file) = (None, None, None, None);
                let (mut password_required, mut labels, mut binary) = (false, false, false);
                let (mut tags, mut resume) = (false, false);
                for w in words {
                    match w.split_once('=') {
                        Some(("line", v)) => line_b = v.parse().ok(),
                        Some(("nick", v)) => nick_c = v.parse().ok(),
                        Some(("bytes", v)) => payload = parse_number(v),
                        Some(("file", v)) => file = parse_number(v),
                        Some(("pass", v)) => password_required = v == "required",
                        Some(("labels", v)) => labels = v == "1",
                        Some(("binary", v)) => binary = v == "1",
                        Some(("tags", v)) => tags = v == "1",
                        Some(("resume", v)) => resume = v == "1",
                        _ => {}
                    }
                }
                ServerLine::Hello {
                    protocol,
                    max_line_bytes: line_b,
                    max_nick_chars: nick_c,
                    max_payload_bytes: payload,
                    max_file_bytes: file,
                    password_required,
                    labels,
                    binary,
                    tags,
                    resume,
                }
            }
            "WELCOME" => ServerLine::Welcome { nick: arg()? },
            "USERS" => {
                let count: usize = arg()?.parse().map_err(|_| bad())?;
                let nicks: Vec<&str> = trailing
                    .unwrap_or("")
                    .split(' ')
                    .filter(|w| !w.is_empty())
                    .collect();
                if nicks.len() != count {
                    return Err(bad());
                }
                ServerLine::Users(nicks)
            }
            "PUBLIC" => ServerLine::Public {
                from: arg()?,
                text: trailing.ok_or_else(bad)?,
            },
            "PRIVATE" => ServerLine::Private {
                from: arg()?,
                text: trailing.ok_or_else(bad)?,
            },
            "SENT" => ServerLine::Sent { to: arg()? },
            "JOIN" => ServerLine::Join { nick: arg()? },
            "LEFT" => ServerLine::Left { nick: arg()? },
            "NICK" => {
                let old = arg()?;
                let new = arg()?;
                ServerLine::Nick { old, new }
            }
            "CHANGES" => {
                let count: usize = arg()?.parse().map_err(|_| bad())?;
                let changes = parse_changes(trailing.unwrap_or("")).ok_or_else(bad)?;
                if changes.len() != count {
                    return Err(bad());
                }
                ServerLine::Changes(changes)
            }
            "PONG" => ServerLine::Pong(trailing.or_else(|| words.next())),
            "PING" => ServerLine::Ping(trailing.or_else(|| words.next())),
            "PASS" => ServerLine::PassAccepted,
            "HELP" => ServerLine::Help(trailing.unwrap_or("")),
            "PRESENCE" => match arg()? {
                "on" => ServerLine::Presence(true),
                "off" => ServerLine::Presence(false),
                _ => return Err(bad()),
            },
            "BINARY" => match arg()? {
                "on" => ServerLine::Binary(true),
                "off" => ServerLine::Binary(false),
                _ => return Err(bad()),
            },
            "FILEOFFER" => {
                let from = arg()?;
                let id = number(arg()?)?;
                let size = number(arg()?)?;
                let private = words.next() == Some("private");
                // The fixed text holds the first `): ` (a nickname has no
                // `:`); the name is everything after it.
                let text = trailing.ok_or_else(bad)?;
                let (_, name) = text.split_once("): ").ok_or_else(bad)?;
                ServerLine::FileOffer {
                    from,
                    id,
                    size,
                    private,
                    name,
                }
            }
            "BYTESNOTE" => {
                let from = arg()?;
                let size = number(arg()?)?;
                ServerLine::BytesNote {
                    from,
                    size,
                    private: words.next() == Some("private"),
                }
            }
            "TAGS" => match arg()? {
                "on" => ServerLine::Tags(true),
                "off" => ServerLine::Tags(false),
                _ => return Err(bad()),
            },
            "ROOM" => {
                let room = arg()?;
                ServerLine::Room {
                    room,
                    from: arg()?,
                    text: trailing.ok_or_else(bad)?,
                }
            }
            "ROOMJOIN" | "ROOMPART" => {
                let (room, nick) = (arg()?, arg()?);
                if keyword == "ROOMJOIN" {
                    ServerLine::RoomJoin { room, nick }
                } else {
                    ServerLine::RoomPart { room, nick }
                }
            }
            "ROOMKICK" | "ROOMOP" => {
                let (room, by, nick) = (arg()?, arg()?, arg()?);
                if keyword == "ROOMKICK" {
                    ServerLine::RoomKick { room, by, nick }
                } else {
                    ServerLine::RoomOp { room, by, nick }
                }
            }
            "TOPIC" => {
                let (room, by) = (arg()?, arg()?);
                ServerLine::Topic {
                    room,
                    by,
                    text: trailing.unwrap_or(""),
                }
            }
            "MEMBERS" => {
                let room = arg()?;
                let count: usize = arg()?.parse().map_err(|_| bad())?;
                let nicks: Vec<&str> = trailing
                    .unwrap_or("")
                    .split(' ')
                    .filter(|w| !w.is_empty())
                    .collect();
                if nicks.len() != count {
                    return Err(bad());
                }
                ServerLine::Members { room, nicks }
            }
            "ROOMINFO" => {
                let room = arg()?;
                ServerLine::RoomInfo {
                    room,
                    members: number(arg()?)?,
                    topic: trailing.unwrap_or(""),
                }
            }
            "ROOMS" => ServerLine::RoomsEnd {
                count: number(arg()?)?,
            },
            "OPER" => ServerLine::Oper,
            "RESUME" => match arg()? {
                "on" => ServerLine::ResumeCap(true),
                "off" => ServerLine::ResumeCap(false),
                _ => return Err(bad()),
            },
            "CLUSTER" => ServerLine::Cluster(match arg()? {
                "partitioned" => ClusterState::Partitioned,
                "healed" => ClusterState::Healed,
                _ => return Err(bad()),
            }),
            "LOST" => ServerLine::Lost {
                count: number(arg()?)?,
            },
            "RENAMED" => {
                let old = arg()?;
                ServerLine::Renamed { old, new: arg()? }
            }
            "TOKEN" => {
                let token = arg()?;
                ServerLine::Token {
                    token,
                    last_id: number(arg()?)?,
                }
            }
            "RESUMED" => {
                let (nick, token) = (arg()?, arg()?);
                let recovered = match arg()? {
                    "1" => true,
                    "0" => false,
                    _ => return Err(bad()),
                };
                ServerLine::Resumed {
                    nick,
                    token,
                    recovered,
                }
            }
            "HISTORY" => {
                let target = arg()?;
                let kind = HistoryKind::parse(arg()?).ok_or_else(bad)?;
                let from = arg()?;
                let id = number(arg()?)?;
                ServerLine::History {
                    target,
                    kind,
                    from,
                    id,
                    time: number(arg()?)?,
                    text: trailing.unwrap_or(""),
                }
            }
            "HISTEND" => {
                let target = arg()?;
                ServerLine::HistoryEnd {
                    target,
                    count: number(arg()?)?,
                }
            }
            "ERROR" => {
                let code: u32 = arg()?.parse().map_err(|_| bad())?;
                let subject = words.next().filter(|s| *s != "*");
                ServerLine::Error {
                    code,
                    subject,
                    text: trailing.unwrap_or(""),
                }
            }
            "FILEOK" => ServerLine::FileOk {
                id: number(arg()?)?,
            },
            "FILEACK" => {
                let id = number(arg()?)?;
                ServerLine::FileAck {
                    id,
                    bytes: number(arg()?)?,
                }
            }
            "FILEDONE" => ServerLine::FileDone {
                id: number(arg()?)?,
            },
            "FILESTOP" => ServerLine::FileStop {
                id: number(arg()?)?,
                reason: trailing.unwrap_or(""),
            },
            "FILE" => {
                let from = arg()?;
                let id = number(arg()?)?;
                let size = number(arg()?)?;
                let private = words.next() == Some("private");
                ServerLine::File {
                    from,
                    id,
                    size,
                    private,
                    name: trailing.ok_or_else(bad)?,
                }
            }
            "CHUNK" => {
                let id = number(arg()?)?;
                ServerLine::Chunk {
                    id,
                    size: number(arg()?)?,
                }
            }
            "FILEEND" => ServerLine::FileEnd {
                id: number(arg()?)?,
            },
            "FILEFAIL" => ServerLine::FileFail {
                id: number(arg()?)?,
                reason: trailing.unwrap_or(""),
            },
            "BYTES" => {
                let from = arg()?;
                let size = number(arg()?)?;
                ServerLine::Bytes {
                    from,
                    size,
                    private: words.next() == Some("private"),
                }
            }
            _ => return Err(LineParseError(format!("unknown keyword in {line:?}"))),
        })
    }
}
