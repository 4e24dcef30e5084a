//! The client's rooms and history requests (PROTOCOL.md, "Rooms" and
//! "History"): join, part, list, members, topic, operators, kicks, `/oper`
//! and `/history`, each with its checks made locally first.

use super::*;

/// 23 `InvalidRoom` unless `room` can be a room's name.
fn check_room(room: &str) -> Result<()> {
    validate_room(room)
        .map_err(|code| Error::new(code, format!("{room:?} cannot be a room's name")))
}

impl Client {
    /// Joins `room` (`/join`, PROTOCOL.md "Rooms"), creating it (with this
    /// client as its operator) if nobody is in it. Returns the room's name
    /// as the server keeps it (its creator's spelling; rooms are unique
    /// case-insensitively). An [`Event::RoomJoined`] for this client
    /// follows, and [`Event::TopicChanged`] if the room has a topic; the
    /// room's messages come as [`Event::Room`] from then on. Fetch what was
    /// said before with [`Client::history`].
    ///
    /// Errors: 23 `InvalidRoom` (checked locally: `#` and 1 to 32
    /// characters without whitespace, control characters, `:` or `,`); 03,
    /// 11; 17 inside a wake-up function. Since: 1.1.
    pub fn join(&self, room: &str) -> Result<String> {
        check_room(room)?;
        match self.request(&ClientLine::Join(room), Request::Join)? {
            Reply::Joined(name) => Ok(name),
            other => Err(unexpected(Some(other))),
        }
    }

    /// Leaves `room` (`/part`). Errors: 21 `NotInRoom`; 23; 03, 11; 17
    /// inside a wake-up function. Since: 1.1.
    pub fn part(&self, room: &str) -> Result<()> {
        check_room(room)?;
        match self.request(&ClientLine::Part(room), Request::Part)? {
            Reply::Parted => Ok(()),
            other => Err(unexpected(Some(other))),
        }
    }

    /// Every room on the server with its member count and topic
    /// (`/rooms`). Errors: 03, 11; 17 inside a wake-up function.
    /// Since: 1.1.
    pub fn rooms(&self) -> Result<Vec<RoomInfo>> {
        match self.request(&ClientLine::Rooms, Request::Rooms)? {
            Reply::Rooms(rooms) => Ok(rooms),
            other => Err(unexpected(Some(other))),
        }
    }

    /// A room's members, sorted case-insensitively (`/who`). Errors: 21
    /// `NotInRoom` when no such room exists; 23; 03, 11; 17 inside a
    /// wake-up function. Since: 1.1.
    pub fn who(&self, room: &str) -> Result<Vec<RoomMember>> {
        check_room(room)?;
        match self.request(&ClientLine::Who(room), Request::Who)? {
            Reply::Members(members) => Ok(members),
            other => Err(unexpected(Some(other))),
        }
    }

    /// Sets `room`'s topic (`/topic`; an empty text clears it); room
    /// operators only. Errors: 21 `NotInRoom`, 22 `NotOperator`, 23, 08
    /// `InvalidText` (checked locally); 03, 11; 17 inside a wake-up
    /// function. Since: 1.1.
    pub fn set_topic(&self, room: &str, text: &str) -> Result<()> {
        check_room(room)?;
        validate_text(text)
            .map_err(|code| Error::new(code, "the topic contains a control character"))?;
        let text = text.trim();
        match self.request(&ClientLine::Topic { room, text }, Request::Operator)? {
            Reply::Done => Ok(()),
            other => Err(unexpected(Some(other))),
        }
    }

    /// Makes member `nick` an operator of `room` (`/op`); room operators
    /// only. Errors: 21 (`nick` is not in the room, or this client is
    /// not), 22, 23; 03, 11; 17 inside a wake-up function. Since: 1.1.
    pub fn make_operator(&self, room: &str, nick: &str) -> Result<()> {
        check_room(room)?;
        match self.request(&ClientLine::Op { room, nick }, Request::Operator)? {
            Reply::Done => Ok(()),
            other => Err(unexpected(Some(other))),
        }
    }

    /// Puts `nick` out of `room` (`/kick #room Nick`, room operators only),
    /// or off the server when `room` is `None` (`/kick Nick`, server
    /// operators only: see [`Client::oper`]). Errors: 21, 22, 23; 02
    /// `NoSuchUser` (off the server: nobody has that nickname); 03, 11; 17
    /// inside a wake-up function. Since: 1.1.
    pub fn kick(&self, room: Option<&str>, nick: &str) -> Result<()> {
        if let Some(room) = room {
            check_room(room)?;
        }
        let line = ClientLine::Kick { room, nick };
        let request = if room.is_some() {
            Request::Operator
        } else {
            Request::Sent
        };
        match self.request(&line, request)? {
            Reply::Done | Reply::Sent => Ok(()),
            other => Err(unexpected(Some(other))),
        }
    }

    /// Becomes a server operator with the server's operator password
    /// (`/oper`; `ServerConfig::oper_password`). Errors: 22 `NotOperator`
    /// (a wrong password, or the server has none); 03, 11; 17 inside a
    /// wake-up function. Since: 1.1.
    pub fn oper(&self, password: &str) -> Result<()> {
        match self.request(&ClientLine::Oper(password.trim()), Request::Operator)? {
            Reply::Done => Ok(()),
            other => Err(unexpected(Some(other))),
        }
    }

    /// Messages from history (`/history`, PROTOCOL.md "History"), oldest
    /// first: `target` is `#room` (a room this client is in), `*` (the
    /// public messages) or a nickname (this client's own private
    /// conversation with it); at most `count` of them (the server's
    /// default, 50, when `None`; the server caps it at 500), with an id
    /// below `before` when given (to page back, pass the oldest id of the
    /// previous answer). Errors: 21 `NotInRoom`; 23; 06 for a nickname
    /// that cannot be one; 03, 11; 17 inside a wake-up function.
    /// Since: 1.1.
    pub fn history(
        &self,
        target: &str,
        count: Option<u64>,
        before: Option<u64>,
    ) -> Result<Vec<HistoryEntry>> {
        let line = self.history_line(target, count, before)?;
        match self.request(&line, Request::History)? {
            Reply::History(entries) => Ok(entries),
            other => Err(unexpected(Some(other))),
        }
    }

    /// The `/history` line after the local checks.
    fn history_line<'a>(
        &self,
        target: &'a str,
        count: Option<u64>,
        before: Option<u64>,
    ) -> Result<ClientLine<'a>> {
        if target.starts_with(ROOM_MARK) {
            check_room(target)?;
        } else if target != "*" {
            validate_nick(target, self.inner.max_nick_chars)
                .map_err(|code| Error::new(code, format!("{target:?} cannot be a nickname")))?;
        }
        Ok(ClientLine::History {
            target,
            count,
            before,
        })
    }

    /// [`Client::join`] without waiting: the answer comes as an
    /// [`Event::Reply`] with `userdata` (`Ok(`[`Reply::Joined`]`)`, or the
    /// server's error). Errors (nothing sent, no reply): 23 for a name that
    /// cannot be a room's; 03 once the connection has ended. Since: 1.1.
    pub fn join_async(&self, room: &str, userdata: u64) -> Result<()> {
        check_room(room)?;
        self.inner
            .send_async(&ClientLine::Join(room), &[], Request::Join, userdata, None)
    }

    /// [`Client::part`] without waiting (`Ok(`[`Reply::Parted`]`)`, or
    /// 21). As [`Client::join_async`]. Since: 1.1.
    pub fn part_async(&self, room: &str, userdata: u64) -> Result<()> {
        check_room(room)?;
        self.inner
            .send_async(&ClientLine::Part(room), &[], Request::Part, userdata, None)
    }

    /// [`Client::rooms`] without waiting (`Ok(`[`Reply::Rooms`]`)`).
    /// Errors (nothing sent, no reply): 03 once the connection has ended.
    /// Since: 1.1.
    pub fn rooms_async(&self, userdata: u64) -> Result<()> {
        self.inner
            .send_async(&ClientLine::Rooms, &[], Request::Rooms, userdata, None)
    }

    /// [`Client::history`] without waiting (`Ok(`[`Reply::History`]`)`,
    /// or 21 ...). Errors (nothing sent, no reply): 23, 06 as
    /// [`Client::history`]; 03 once the connection has ended. Since: 1.1.
    pub fn history_async(
        &self,
        target: &str,
        count: Option<u64>,
        before: Option<u64>,
        userdata: u64,
    ) -> Result<()> {
        let line = self.history_line(target, count, before)?;
        self.inner
            .send_async(&line, &[], Request::History, userdata, None)
    }
}
