"""papo for asyncio: a chat client whose waits are awaitables.

    import asyncio, papo.aio

    async def main() -> None:
        async with papo.aio.Client("127.0.0.1", 18000, "ana") as ana:
            await ana.send("olá a todos")              # public
            await ana.send("oi bob", to="bob")         # private: returns once delivered
            print(await ana.users())
            async for event in ana:                    # until the connection ends
                print(event.kind, event.sender, event.text)

    asyncio.run(main())

How it works, and what it costs: :class:`Client` wraps a :class:`papo.Client`.
Its events are read when the client's descriptor (:meth:`papo.Client.fileno`,
``papo_client_fd`` in C) turns readable, through the event loop's own
``loop.add_reader``; every request to the server (:meth:`Client.send`,
:meth:`Client.users`, ...) is one of the library's asynchronous requests
(``papo_client_send_async`` and friends), whose answer comes back as a reply
event in the same queue and completes the awaiting future (matched by the
request's number, its "userdata"). So no call ever blocks the loop waiting for
the server, and this module starts no thread of its own (the library's own
reader thread is the same as for :class:`papo.Client`).

The exception: **connecting blocks**. The C API connects synchronously, so
``papo.aio.Client(...)`` (the constructor) blocks the calling thread, the
event loop's, until the server has accepted the nickname: one round trip on a
working network, at most ``connect_timeout`` seconds (5 by default) when the
server does not answer. Connect before starting other work if that matters,
or run the constructor in an executor (``await loop.run_in_executor(None,
lambda: papo.aio.Client(...))``); every other method must then be called from
the loop's thread.

Errors are the exceptions of :mod:`papo.errors`, with the library's detail
(``exc.detail``, also in ``str(exc)``). Cancelling an ``await`` (a
``next_event`` or a request, with ``task.cancel()`` or ``asyncio.wait_for``)
leaves the client usable: a cancelled ``next_event`` takes no event away (the
next call gets it), and a cancelled request was already sent (a message may
still be delivered, a nickname still changed): only its answer is dropped.

Thread safety: a :class:`Client` belongs to the event loop that first awaits
one of its methods; call it only from that loop's thread (as with every
asyncio object). Times are in seconds.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from types import TracebackType
from typing import (
    Any,
    AsyncIterator,
    Callable,
    Deque,
    Dict,
    List,
    Optional,
    Tuple,
    Type,
    TypeVar,
    Union,
)

from . import client as _client
from ._handle import check_timeout, size_arg, split_users
from .errors import Closed, ConnectionAborted, Error, error_from_code
from .events import Event, EventKind

__all__ = ["Client"]

T = TypeVar("T")

#: Events taken from the library per readable callback at most, so that one
#: busy client cannot starve the rest of the loop.
_BATCH = 256


class Client:
    """A chat client for asyncio, connected to a papo server under a nickname.

    ``async with papo.aio.Client(ip, port, nick) as client:`` connects (see
    the module's note: connecting blocks the loop for up to
    ``connect_timeout``), and closes the client at the end of the block.
    ``async for event in client`` yields every :class:`papo.Event` until the
    connection ends (the last one is DISCONNECTED) or the client is closed.

    The arguments are those of :class:`papo.Client` (``connect_timeout``,
    ``reply_timeout``, ``event_queue_capacity``, ``password``,
    ``tls_ca_file``, ``tls_server_name``, ``presence``), plus
    ``max_buffered_events`` (default 1024): events taken from the library and
    not yet awaited are kept here up to this number; past it, this client
    stops taking events (the library's queue, then the connection, hold
    them), except while a request waits for its answer, which may come after
    any number of events.

    Raises what :class:`papo.Client` raises (NickInUse, InvalidServer,
    InvalidAddress, ... with the library's detail).

    Thread safety: use it from one event loop's thread only (the first loop
    that awaits one of its methods); :meth:`close` may also be called with
    no loop running.
    """

    def __init__(
        self,
        ip: str,
        port: int,
        nick: str,
        *,
        connect_timeout: Optional[float] = None,
        reply_timeout: Optional[float] = None,
        event_queue_capacity: Optional[int] = None,
        password: Optional[str] = None,
        tls_ca_file: Optional[str] = None,
        tls_server_name: Optional[str] = None,
        presence: bool = True,
        max_buffered_events: int = 1024,
        reconnect: bool = True,
        reconnect_attempts: Optional[int] = None,
        reconnect_delay: Optional[float] = None,
        reconnect_max_delay: Optional[float] = None,
    ) -> None:
        limit = size_arg(max_buffered_events, "max_buffered_events")
        self._max_buffered = max(1, limit)
        self._client = _client.Client(
            ip,
            port,
            nick,
            connect_timeout=connect_timeout,
            reply_timeout=reply_timeout,
            event_queue_capacity=event_queue_capacity,
            password=password,
            tls_ca_file=tls_ca_file,
            tls_server_name=tls_server_name,
            presence=presence,
            reconnect=reconnect,
            reconnect_attempts=reconnect_attempts,
            reconnect_delay=reconnect_delay,
            reconnect_max_delay=reconnect_max_delay,
        )
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._fd = -1
        self._reading = False
        #: events taken from the library, not yet handed out
        self._events: Deque[Event] = deque()
        #: next_event calls waiting for an event (woken, not handed one)
        self._waiters: List["asyncio.Future[None]"] = []
        #: requests waiting for their reply: userdata -> (future, conversion)
        self._requests: Dict[int, Tuple["asyncio.Future[Any]", Callable[[Event], Any]]] = {}
        self._next_userdata = 1
        self._ended = False  # the library has no more events (DISCONNECTED taken)
        self._failure: Optional[Error] = None  # why the library stopped, if it failed
        self._end_delivered = False  # DISCONNECTED handed out
        self._closed = False

    # ---- the loop ----

    def _bind(self) -> asyncio.AbstractEventLoop:
        """The running loop, which must be this client's."""
        loop = asyncio.get_running_loop()
        if self._loop is None:
            if self._closed:
                raise Closed("this client is closed")
            self._fd = self._client.fileno()
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError("this papo.aio.Client belongs to another event loop")
        return loop

    def _update_reader(self) -> None:
        """Watches the descriptor exactly while events should be taken."""
        want = (
            not self._closed
            and not self._ended
            and (bool(self._requests) or len(self._events) < self._max_buffered)
        )
        if want == self._reading or self._loop is None:
            return
        if want:
            self._loop.add_reader(self._fd, self._on_readable)
        else:
            self._loop.remove_reader(self._fd)
        self._reading = want

    def _on_readable(self) -> None:
        self._take_events()
        self._update_reader()

    def _take_events(self) -> None:
        """Takes what the library has queued (without waiting): replies
        complete their requests, the rest is kept for next_event."""
        got = False
        for _ in range(_BATCH):
            if self._closed or self._ended:
                break
            if not self._requests and len(self._events) >= self._max_buffered:
                break
            try:
                event = self._client._poll_event()
            except Closed:
                self._end()
                break
            except Error as exc:  # the library failed (16 Panic, 20 Forked): nothing more comes
                self._failure = exc
                self._end()
                break
            if event is None:
                break
            if event.kind is EventKind.REPLY:
                self._reply(event)
                continue
            self._events.append(event)
            got = True
            if event.kind is EventKind.DISCONNECTED:
                self._end()
        if got:
            self._wake_waiters()

    def _reply(self, event: Event) -> None:
        entry = self._requests.pop(event.userdata, None)
        if entry is None:  # a cancelled request's answer
            return
        future, convert = entry
        if future.done():
            return
        if event.code:
            future.set_exception(error_from_code(event.code, event.text))
        else:
            try:
                future.set_result(convert(event))
            except Exception as exc:  # a conversion that cannot fail; keep the loop safe
                future.set_exception(exc)

    def _end(self) -> None:
        """No more events will come from the library: requests still waiting
        (the library answers them with 03 before DISCONNECTED, so only a
        broken promise leaves any) fail, the reader is dropped."""
        self._ended = True
        self._fail_requests(
            self._failure or ConnectionAborted("the connection ended before the answer came")
        )
        self._wake_waiters()

    def _fail_requests(self, error: BaseException) -> None:
        requests, self._requests = self._requests, {}
        for future, _convert in requests.values():
            if not future.done():
                future.set_exception(error)

    def _wake_waiters(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # ---- receiving ----

    async def next_event(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The next event, waiting up to ``timeout`` seconds for one (None:
        until one comes; 0: only what has arrived). Returns None if none came
        in time. Events come in the order the library queued them; the
        answers to this client's own requests never show up here (they
        complete the requests).

        Cancelling the call takes no event away: the next call gets it.

        Raises:
            Closed: (14) after the DISCONNECTED event was returned (nothing
                more can come), or once the client is closed.
            Error: what the library reported if taking events failed (16
                Panic, 20 Forked); the client is then over.
            InvalidArgument: (17) a negative timeout.
            RuntimeError: awaited from another event loop than the first.
        """
        check_timeout(timeout)
        loop = self._bind()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            if self._closed:
                raise Closed("this client is closed")
            if not self._events and not self._ended:
                self._take_events()  # what is queued already, without waiting for the loop
            if self._events:
                event = self._events.popleft()
                if event.kind is EventKind.DISCONNECTED:
                    self._end_delivered = True
                self._update_reader()
                return event
            if self._ended:
                if self._failure is not None:
                    raise self._failure
                raise Closed("the connection ended; every event has been delivered")
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return None
            waiter: "asyncio.Future[None]" = loop.create_future()
            self._waiters.append(waiter)
            timer = None
            if remaining is not None:
                timer = loop.call_later(remaining, _wake, waiter)
            self._update_reader()
            try:
                await waiter
            finally:
                if timer is not None:
                    timer.cancel()
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        """The next event (no time limit); stops after DISCONNECTED or when
        the client is closed."""
        if self._end_delivered or self._closed:
            raise StopAsyncIteration
        try:
            event = await self.next_event()
        except Closed:
            raise StopAsyncIteration from None
        assert event is not None  # no timeout: next_event returns an event or raises
        return event

    # ---- requests ----

    async def _request(self, start: Callable[[int], None], convert: Callable[[Event], T]) -> T:
        """Starts a request numbered ``userdata`` and waits for its reply."""
        loop = self._bind()
        if self._closed:
            raise Closed("this client is closed")
        userdata = self._next_userdata
        self._next_userdata += 1
        future: "asyncio.Future[Any]" = loop.create_future()
        start(userdata)  # raises for what is refused before anything is sent
        self._requests[userdata] = (future, convert)
        self._update_reader()
        try:
            result: T = await future
            return result
        finally:
            # cancelled: the answer, when it comes, is dropped
            self._requests.pop(userdata, None)
            self._update_reader()

    async def send(self, text: str, to: Optional[str] = None) -> None:
        """Sends ``text`` to everyone (``to`` None or "") or to the user
        ``to`` alone (a private message). A public message completes once
        written to the connection; a private one once the server has
        delivered it (the seed's "Mensagem enviada").

        Raises:
            NoSuchUser: (02) ``to`` is not online.
            ConnectionAborted: (03) the connection is lost.
            TooLong: (07), InvalidText: (08), Empty: (09), InvalidNick: (06)
                (``to`` cannot be a nickname): refused before sending.
            Timeout: (11) no answer within the reply timeout.
            Closed: (14) this client is closed (also when closed while
                waiting).
        """
        await self._request(lambda u: self._client._send_async(text, to, u), _nothing)

    async def send_bytes(
        self, data: Union[bytes, bytearray, memoryview], to: Optional[str] = None
    ) -> None:
        """Sends ``data`` (any bytes) as one binary message to everyone else
        (``to`` None or "") or to ``to`` alone; completes once the server has
        taken it. Raises as :meth:`papo.Client.send_bytes` (NoSuchUser,
        TooLong past the server's ``max_payload_bytes``, ConnectionAborted,
        Timeout, Closed, TypeError)."""
        await self._request(lambda u: self._client._send_bytes_async(data, to, u), _nothing)

    async def send_file(self, path: Union[str, "os.PathLike[str]"], to: Optional[str] = None) -> int:
        """Offers the file at ``path`` to everyone else (``to`` None or "")
        or to ``to`` alone, and returns the transfer's number once the server
        has accepted it; the library then streams the file from disk and
        reports FILE_SEND_PROGRESS, then FILE_SENT or FILE_SEND_FAILED, as
        events. Opening the file happens at once (IoError, InvalidArgument
        for what is not a regular file); the rest raises as
        :meth:`papo.Client.send_file` (NoSuchUser, TooLong, ServerFull, ...)."""
        return await self._request(
            lambda u: self._client._send_file_async(path, to, u), _file_id
        )

    async def set_nick(self, new_nick: str) -> None:
        """Changes this client's nickname; completes once the server has
        accepted it (everyone, this client included, then gets a
        NICK_CHANGED event). Raises NickInUse (01), InvalidNick (06),
        ConnectionAborted (03), Timeout (11), Closed (14); the old nickname
        stays on error."""
        await self._request(lambda u: self._client._set_nick_async(new_nick, u), _nothing)

    async def ping(self) -> None:
        """A round trip to the server: when it completes, the server has
        processed everything this client sent before it. Raises
        ConnectionAborted (03), Timeout (11), Closed (14)."""
        await self._request(self._client._ping_async, _nothing)

    async def users(self) -> List[str]:
        """The nicknames online, fresh from the server, sorted
        case-insensitively (this client among them). Raises
        ConnectionAborted (03), Timeout (11), Closed (14)."""
        return await self._request(self._client._users_async, _user_list)

    # ---- state ----

    @property
    def nick(self) -> str:
        """This client's current nickname (after :meth:`close`, the last one
        it had). Never waits for the server."""
        return self._client.nick

    @property
    def download_dir(self) -> str:
        """The folder where received files are saved (see
        :attr:`papo.Client.download_dir`); assignable."""
        return self._client.download_dir

    @download_dir.setter
    def download_dir(self, path: Optional[Union[str, "os.PathLike[str]"]]) -> None:
        self._client.download_dir = path

    def fileno(self) -> int:
        """The client's descriptor (readable while events are queued in the
        library); this client already watches it. Never close it."""
        return self._client.fileno()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called."""
        return self._closed

    # ---- closing ----

    def close(self) -> None:
        """Leaves the chat and frees the client (as :meth:`papo.Client.close`):
        stops watching the descriptor, ends every pending :meth:`next_event`
        and request with :class:`papo.Closed`, then disconnects (sends
        ``quit``, joins the library's reader thread: it does not wait for the
        server). Calling it again does nothing. Never raises."""
        if self._closed:
            return
        self._closed = True
        if self._reading and self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._fd)
        self._reading = False
        self._fail_requests(Closed("the client was closed while waiting for the answer"))
        self._wake_waiters()
        self._client.close()

    async def aclose(self) -> None:
        """:meth:`close`, as a coroutine."""
        self.close()

    async def __aenter__(self) -> "Client":
        self._bind()
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<papo.aio.Client {self._client.nick!r} {state}>"


def _wake(waiter: "asyncio.Future[None]") -> None:
    if not waiter.done():
        waiter.set_result(None)


def _nothing(_event: Event) -> None:
    return None


def _file_id(event: Event) -> int:
    return event.file_id


def _user_list(event: Event) -> List[str]:
    return split_users(event.text or "")
