//! The server over real loopback sockets, spoken to as `nc` would: text
//! lines on raw `TcpStream`s. PROTOCOL.md is the specification; seed 000
//! ("Protocolo para bate-papo") gives the scenario.

mod common_server;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::time::Duration;

use common_server::{cfg, eventually, start, users_of, wait_event, Raw, WAIT};
use papo::{ErrorCode, Server, ServerConfig, ServerEvent};

fn is_left(l: &str, nick: &str) -> bool {
    l.starts_with(&format!("LEFT {nick} :"))
}

/// Seed 000 end to end: HELLO, user list, public, private with SENT, 02,
/// 01 (also Ana vs ana), /nick, /list, /help, quit, dropped socket, shutdown.
#[test]
fn seed_000_scenario() {
    let server = start(cfg(2));
    let addr = server.local_addr();

    let (mut ana, users) = Raw::join(addr, "ana");
    assert_eq!(users, ["ana"]);
    let (mut bob, users) = Raw::join(addr, "bob");
    assert_eq!(users, ["ana", "bob"]);
    assert_eq!(ana.line(), "JOIN bob :bob entrou no chat (joined)");

    // carla first tries taken nicknames, on the same connection.
    let mut carla = Raw::connect(addr);
    carla.label = "carla".into();
    let hello = carla.line();
    assert!(
        hello.starts_with("HELLO papo/1 line=4096 nick=32 :"),
        "{hello}"
    );
    carla.send("ana");
    assert!(carla
        .line()
        .starts_with("ERROR 01 ana :Esse apelido já está em uso"));
    carla.send("Ana");
    assert!(carla.line().starts_with("ERROR 01 Ana :"));
    carla.send("BOB");
    assert!(carla.line().starts_with("ERROR 01 BOB :"));
    carla.send("carla");
    assert!(carla.line().starts_with("WELCOME carla :"));
    assert_eq!(users_of(&carla.line()), ["ana", "bob", "carla"]);
    assert!(ana.line().starts_with("JOIN carla :"));
    assert!(bob.line().starts_with("JOIN carla :"));

    // Public: everyone else, with the sender's nick; not echoed.
    carla.send(":olá a todos");
    assert_eq!(ana.line(), "PUBLIC carla :olá a todos");
    assert_eq!(bob.line(), "PUBLIC carla :olá a todos");
    carla.sync_quiet();

    // Private: SENT to the sender, PRIVATE to the receiver only.
    carla.send("bob:oi bob, tudo bem?");
    assert_eq!(carla.line(), "SENT bob :Mensagem enviada (message sent)");
    assert_eq!(bob.line(), "PRIVATE carla :oi bob, tudo bem?");
    ana.sync_quiet();
    // Spaces around the destination are ignored; text is verbatim.
    bob.send(" carla : tudo ótimo ");
    assert!(bob.line().starts_with("SENT carla :"));
    assert_eq!(carla.line(), "PRIVATE bob : tudo ótimo ");

    // 02: nobody by that name.
    carla.send("zé:alguém aí?");
    assert_eq!(
        carla.line(),
        "ERROR 02 zé :Destino da mensagem privada não existe (no such user online)"
    );

    // /nick: everyone sees NICK; the old name is free, the new reachable.
    carla.send("/nick Carla2");
    let nick_line = "NICK carla Carla2 :carla agora se chama Carla2 (renamed)";
    assert_eq!(carla.line(), nick_line);
    assert_eq!(ana.line(), nick_line);
    assert_eq!(bob.line(), nick_line);
    ana.send("carla:ainda aí?");
    assert!(ana.line().starts_with("ERROR 02 carla :"));
    ana.send("carla2:oi Carla2");
    assert!(ana.line().starts_with("SENT carla2 :"));
    assert_eq!(carla.line(), "PRIVATE ana :oi Carla2");
    let (mut carla_new, users) = Raw::join(addr, "carla");
    // Sorted case-insensitively: "carla" < "carla2".
    assert_eq!(users, ["ana", "bob", "carla", "Carla2"]);
    carla_new.send("quit");
    carla_new.expect_eof();
    for c in [&mut ana, &mut bob, &mut carla] {
        assert!(c.line().starts_with("JOIN carla :"));
        assert!(is_left(&c.line(), "carla"));
    }

    // /list, /help, /ping.
    carla.send("/list");
    assert_eq!(carla.line(), "USERS 3 :ana bob Carla2");
    carla.send("/help");
    let help: Vec<String> = (0..7).map(|_| carla.line()).collect();
    assert!(help.iter().all(|l| l.starts_with("HELP :")), "{help:?}");
    assert!(help.iter().any(|l| l.contains("/nick")));
    carla.send("/ping");
    assert_eq!(carla.line(), "PONG");
    carla.send("/ping 42");
    assert_eq!(carla.line(), "PONG :42");
    // An empty line is ignored.
    carla.send("");
    carla.sync_quiet();

    // Leaving by `quit`: others get LEFT.
    bob.send("quit");
    bob.expect_eof();
    assert!(is_left(&ana.line(), "bob"));
    assert!(is_left(&carla.line(), "bob"));
    eventually("bob's nick freed", || server.users() == ["ana", "Carla2"]);

    // Leaving by dropping the socket.
    drop(carla);
    assert_eq!(ana.line(), "LEFT Carla2 :Carla2 saiu do chat (left)");

    // Shutdown: every client, registered or not, gets ERROR 03, then end.
    let mut waiting = Raw::connect_hello(addr);
    ana.sync_quiet();
    server.shutdown();
    for c in [&mut ana, &mut waiting] {
        let l = c.line();
        assert!(
            l.starts_with("ERROR 03 * :Cancelamento de conexão forçado"),
            "{l:?}"
        );
        assert!(l.contains("server shutting down"), "{l:?}");
        c.expect_eof();
    }
    assert_eq!(server.connection_count(), 0);
    assert_eq!(server.user_count(), 0);
}
