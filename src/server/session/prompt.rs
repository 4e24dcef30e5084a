//! The nickname prompt (PROTOCOL.md, "Registration" and "Password"): what
//! a connection may say before it has a nickname, and what is refused.

use super::{reply_error, Cx, Host, Resumption, Session, State};
use crate::error::ErrorCode;
use crate::protocol::{validate_nick, ClientLine, ServerLine};
use crate::server::ServerEvent;

impl Session {
    /// A line at the prompt, parsed with the prompt's grammar.
    pub(super) fn prompt_line<H: Host + ?Sized>(
        &mut self,
        label: Option<&str>,
        line: Result<ClientLine<'_>, ErrorCode>,
        cx: &mut Cx<'_, H>,
    ) {
        let line = match line {
            Ok(line) => line,
            // `/presence` with another argument, or a malformed label:
            // answered, but no nickname attempt.
            Err(code) => return reply_error(cx, label, code, None, None),
        };
        match line {
            ClientLine::Quit => self.close(None, "quit", cx),
            ClientLine::HttpRequest(_) => self.refuse(
                ErrorCode::UnknownCommand,
                label,
                None,
                Some("an HTTP request; this is a papo chat server (PROTOCOL.md)"),
                Some("HTTP request"),
                cx,
            ),
            ClientLine::Pass(given) => self.on_pass(label, given, cx),
            ClientLine::Presence(on) => {
                self.set_presence(on);
                ServerLine::<&str>::Presence(on).encode_labeled(label, cx.host.reply());
            }
            ClientLine::Binary(on) => {
                self.set_binary(on);
                ServerLine::<&str>::Binary(on).encode_labeled(label, cx.host.reply());
            }
            ClientLine::Tags(on) => {
                self.set_tags(on);
                ServerLine::<&str>::Tags(on).encode_labeled(label, cx.host.reply());
            }
            ClientLine::ResumeCap(on) => {
                self.set_resume(on);
                ServerLine::<&str>::ResumeCap(on).encode_labeled(label, cx.host.reply());
            }
            ClientLine::Resume { nick, token, since } => {
                self.on_resume(label, nick, token, since, cx)
            }
            ClientLine::Nickname(nick) => self.on_nickname(label, nick, cx),
            // The prompt's grammar gives nothing else; were it to, the line
            // is no nickname.
            _ => self.refuse(ErrorCode::InvalidNick, label, None, None, None, cx),
        }
    }

    fn on_nickname<H: Host + ?Sized>(
        &mut self,
        label: Option<&str>,
        nick: &str,
        cx: &mut Cx<'_, H>,
    ) {
        if matches!(self.state, State::Prompt { authed: false, .. }) {
            return self.deny(
                label,
                "password required: send /pass <password> before your nickname",
                cx,
            );
        }
        if validate_nick(nick, cx.rules.max_nick_chars).is_err() {
            return self.refuse(ErrorCode::InvalidNick, label, None, None, None, cx);
        }
        match cx.host.register(nick, self.presence(), label) {
            Err(code) => self.refuse(code, label, Some(nick), None, None, cx),
            Ok(stored) => {
                self.state = State::Registered {
                    nick: stored,
                    flags: self.flags().unwrap_or_default(),
                };
                if self.wants_resume() {
                    self.send_token(label, cx);
                }
                let (id, addr) = (cx.host.me().id, cx.host.addr());
                cx.host.event(ServerEvent::Registered {
                    id,
                    addr,
                    nick: nick.to_owned(),
                });
            }
        }
    }

    /// `/resume <nick> <token> [<since>]` (PROTOCOL.md, "Resuming a
    /// connection"): after the password, like a nickname. When the host
    /// accepts the token, this connection becomes `nick`'s held one and this
    /// session ends without a word (the other session answers `RESUMED`);
    /// otherwise `ERROR 24`, a refused attempt like a taken nickname.
    fn on_resume<H: Host + ?Sized>(
        &mut self,
        label: Option<&str>,
        nick: &str,
        token: &str,
        since: Option<u64>,
        cx: &mut Cx<'_, H>,
    ) {
        if matches!(self.state, State::Prompt { authed: false, .. }) {
            return self.deny(
                label,
                "password required: send /pass <password> before /resume",
                cx,
            );
        }
        if validate_nick(nick, cx.rules.max_nick_chars).is_err() {
            return self.refuse(ErrorCode::InvalidNick, label, None, None, None, cx);
        }
        match cx.host.resume(nick, token, since, label) {
            Err(code) => self.refuse(code, label, Some(nick), None, None, cx),
            // Moved: the socket is the held session's now.
            Ok(Resumption::Moving) => self.state = State::Closed,
            Ok(Resumption::Here(adopted)) => self.resumed_here(label, *adopted, cx),
        }
    }

    /// `/pass <password>` (PROTOCOL.md, "Password"): accepted with `PASS`
    /// (also when the server wants none), or `ERROR 19` and closed.
    fn on_pass<H: Host + ?Sized>(&mut self, label: Option<&str>, given: &str, cx: &mut Cx<'_, H>) {
        let ok = match &cx.rules.password {
            None => true,
            Some(p) => constant_time_eq(given.as_bytes(), p.as_str().as_bytes()),
        };
        if !ok {
            return self.deny(label, "wrong password", cx);
        }
        if let State::Prompt { authed, .. } = &mut self.state {
            *authed = true;
        }
        ServerLine::<&str>::PassAccepted.encode_labeled(label, cx.host.reply());
    }

    /// `ERROR 19` and close (no password, or a wrong one).
    fn deny<H: Host + ?Sized>(&mut self, label: Option<&str>, why: &str, cx: &mut Cx<'_, H>) {
        reply_error(cx, label, ErrorCode::AccessDenied, None, Some(why));
        self.close(Some(ErrorCode::AccessDenied), why, cx);
    }

    /// A refused line at the prompt: answers `code` and, at the
    /// `max_nick_attempts`-th refusal (or at once, with `close_now` as the
    /// reason), closes the connection with that answer.
    pub(super) fn refuse<H: Host + ?Sized>(
        &mut self,
        code: ErrorCode,
        label: Option<&str>,
        subject: Option<&str>,
        detail: Option<&str>,
        close_now: Option<&str>,
        cx: &mut Cx<'_, H>,
    ) {
        let max = cx.rules.max_nick_attempts;
        let State::Prompt { attempts, .. } = &mut self.state else {
            return;
        };
        *attempts = attempts.saturating_add(1);
        let over = close_now.is_some() || (max > 0 && *attempts >= max);
        if !over {
            return reply_error(cx, label, code, subject, detail);
        }
        let (why, reason) = match close_now {
            Some(reason) => (detail.unwrap_or(reason).to_owned(), reason),
            None => (
                format!("{max} failed nickname attempts; closing"),
                "too many nickname attempts",
            ),
        };
        reply_error(cx, label, code, subject, Some(&why));
        self.close(Some(code), reason, cx);
    }
}

/// Compares two secrets in time that depends only on the length of the
/// one given (`given`), never on where they first differ, so that timing
/// tells an attacker nothing about the expected password.
pub(crate) fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = u8::from(given.len() != expected.len());
    for (k, g) in given.iter().enumerate() {
        // Compare against the expected byte, or 0 past its end (the
        // length difference already counts as a mismatch).
        let e = expected
            .get(k % expected.len().max(1))
            .copied()
            .unwrap_or(0);
        diff |= g ^ e;
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn comparison() {
        assert!(constant_time_eq(b"segredo", b"segredo"));
        assert!(!constant_time_eq(b"segredO", b"segredo"));
        assert!(!constant_time_eq(b"segred", b"segredo"));
        assert!(!constant_time_eq(b"segredoo", b"segredo"));
        assert!(!constant_time_eq(b"", b"segredo"));
        assert!(!constant_time_eq(b"x", b""));
        assert!(constant_time_eq(b"", b""));
    }
}
