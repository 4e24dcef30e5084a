//! `papo-server`: the papo chat server as a program (README, "Run a
//! server"). Flags and a TOML config file (`args.rs`, `config.rs`), logs
//! through `tracing` (`logging.rs`), the LAN announcement (`announce.rs`),
//! and signals:
//!
//! - SIGINT, SIGTERM: `Server::shutdown`'s two steps (every private message
//!   already answered `SENT` is delivered, then every client gets
//!   `ERROR 03` and is closed); exit 0.
//! - SIGHUP: the config file is read again. `log.level` and the limits a
//!   running server can change (`Server::reconfigure`: `max_clients`,
//!   `max_clients_per_ip`, `flood_lines_per_sec`, `flood_burst_lines`,
//!   `max_nick_attempts`) take effect at once; any other changed key
//!   (the limits announced in `HELLO`, address, ports, password, TLS
//!   files, ...) is logged by name as needing a restart.
//!
//! Exit codes: 0 after a signal's clean shutdown; 2 for a configuration
//! that cannot work (unknown key, wrong type, invalid value, unreadable
//! file or certificate, port taken, address not of this machine), said in
//! one line on standard error naming the key, flag or file; 1 for anything
//! else that stops it (signals cannot be caught).

mod announce;
mod args;
mod config;
mod logging;

use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use papo::{ErrorCode, Server};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use tracing::{error, info, warn};

use args::Cli;
use config::{ConfigError, Resolved};

/// Exit code of a configuration that cannot work (as clap's for bad flags).
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // clap's first line names the flag ("error: invalid value 'x'
            // for '--port <PORT>': ..."); the usage lines after it are left
            // out so that a bad start is one line.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            eprintln!("papo-server: {}", first.trim_start_matches("error: "));
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Stop::Config(e)) => {
            eprintln!("papo-server: {e}");
            ExitCode::from(EXIT_CONFIG)
        }
        Err(Stop::Other(e)) => {
            eprintln!("papo-server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Why the program stops before serving.
enum Stop {
    Config(ConfigError),
    Other(String),
}

impl From<ConfigError> for Stop {
    fn from(e: ConfigError) -> Stop {
        Stop::Config(e)
    }
}

fn run(cli: &Cli) -> Result<(), Stop> {
    let settings = config::load(cli)?;
    let logging = logging::init(settings.log_level.as_deref(), settings.log_format)?;
    // Registered before the server starts, so that a signal arriving while
    // it starts is not lost (and never kills the process halfway).
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| Stop::Other(format!("cannot handle signals: {e}")))?;

    let server = Server::start(&settings.address, settings.port, settings.server.clone())
        .map_err(|e| start_error(&settings, &e))?;
    let server = Arc::new(server);
    let addr = server.local_addr();
    info!(
        address = %addr,
        tls = server.tls_port().map(|p| p.to_string()).unwrap_or_else(|| "off".into()),
        http = server.http_port().map(|p| p.to_string()).unwrap_or_else(|| "off".into()),
        password = settings.server.password.is_some(),
        cluster = settings
            .server
            .cluster
            .as_deref()
            .map(shown_url)
            .unwrap_or_else(|| "off".into()),
        version = env!("CARGO_PKG_VERSION"),
        "papo-server listening"
    );

    print!(
        "{}",
        how_to_join(addr, server.http_port(), settings.server.cluster.as_deref())
    );
    let _ = std::io::Write::flush(&mut std::io::stdout());

    let announcement = if settings.mdns {
        announce(
            &settings,
            addr.ip(),
            addr.port(),
            server.tls_port(),
            server.http_port(),
        )
    } else {
        info!("not announced on the LAN (mdns.enabled = false / --no-mdns)");
        None
    };

    // The server's events, logged as they come until the server has shut
    // down and its queue is empty.
    let stopping = Arc::new(AtomicBool::new(false));
    let events = {
        let server = Arc::clone(&server);
        let stopping = Arc::clone(&stopping);
        std::thread::Builder::new()
            .name("papo-log".into())
            .spawn(move || loop {
                match server.next_event(Duration::MAX) {
                    Some(ev) => logging::event(&ev),
                    None if stopping.load(Ordering::Acquire) => break,
                    None => {}
                }
            })
            .map_err(|e| Stop::Other(format!("cannot start the log thread: {e}")))?
    };

    let mut current = settings;
    for signal in signals.forever() {
        match signal {
            SIGHUP => current = reload(cli, current, &logging, &server),
            _ => {
                let name = if signal == SIGINT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                };
                info!(signal = name, "shutting down: every client gets ERROR 03");
                break;
            }
        }
    }
    if let Some(a) = announcement {
        a.stop();
    }
    stopping.store(true, Ordering::Release);
    server.shutdown();
    if events.join().is_err() {
        error!("the log thread panicked");
    }
    let stats = server.stats();
    info!(
        accepted = stats.accepted,
        lines_received = stats.lines_received,
        dropped_events = stats.dropped_events,
        "papo-server stopped"
    );
    Ok(())
}

/// What standard output shows once the server listens: how to join it
/// from a browser, `nc`, the C and Python clients and the GUI (the
/// commands of the README), with the real address and ports. A server on
/// every interface (`0.0.0.0`, `::`) is shown through the loopback
/// address, which works on this machine; others use this machine's
/// address on the LAN. With a cluster, its Redis URL (password hidden).
fn how_to_join(
    addr: std::net::SocketAddr,
    http_port: Option<u16>,
    cluster: Option<&str>,
) -> String {
    let mut shown = addr;
    let everywhere = addr.ip().is_unspecified();
    if everywhere {
        shown.set_ip(match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        });
    }
    let (ip, port) = (shown.ip(), shown.port());
    let mut out = format!(
        "papo-server {} is listening on {addr}. Join the chat:\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(h) = http_port {
        let mut web = shown;
        web.set_port(h);
        out += &format!("  from a browser:      http://{web}/\n");
    }
    out += &format!(
        "  with nc:             nc {ip} {port}   (a nickname, then :text to everyone, Nick:text to one, /help)\n\
         \x20 with the C client:   build/bin/cliente {ip} {port} <nickname>   (built by make)\n\
         \x20 with the Python GUI: PYTHONPATH=bindings/python/src python3 examples/python/gui.py --host {ip} --port {port}\n"
    );
    if let Some(h) = http_port {
        let mut web = shown;
        web.set_port(h);
        out += &format!("  metrics:             curl http://{web}/metrics\n");
    }
    if everywhere {
        out += "  (from other machines, use this machine's address on the LAN instead)\n";
    }
    if let Some(url) = cluster {
        out += &format!(
            "  cluster:             {}   (one chat with every server on it)\n",
            shown_url(url)
        );
    }
    out += "Ctrl-C stops the server.\n";
    out
}

/// A cluster URL as shown on standard output and in the log: a password in
/// it (`redis://user:secret@host/`) as `***`, and its query (which may
/// hold one too) left out.
fn shown_url(url: &str) -> String {
    let url = url.split_once('?').map_or(url, |(u, _)| u);
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{path}")
        }
        None => url.to_owned(),
    }
}

/// A failed `Server::start` as one line: an address or port that cannot be
/// used is a configuration error (exit 2), named by its key and flag.
fn start_error(settings: &Resolved, e: &papo::Error) -> Stop {
    // The detail usually ends with the system's words already.
    let detail = match std::error::Error::source(e) {
        Some(c) if !e.detail().contains(&c.to_string()) => format!("{}: {c}", e.detail()),
        _ => e.detail().to_owned(),
    };
    match e.code() {
        ErrorCode::InvalidAddress => Stop::Config(ConfigError(format!(
            "address (--address) {:?}: {detail}",
            settings.address
        ))),
        ErrorCode::Io if detail.contains("for TLS") => Stop::Config(ConfigError(format!(
            "tls.port (--tls-port) {}: {detail}",
            settings.server.tls_port
        ))),
        ErrorCode::Io if detail.contains("for HTTP") => Stop::Config(ConfigError(format!(
            "http.port (--http-port) {}: {detail}",
            settings.server.http_port.unwrap_or_default()
        ))),
        ErrorCode::Io if detail.contains("cannot listen") => Stop::Config(ConfigError(format!(
            "port (--port) {}: {detail}",
            settings.port
        ))),
        ErrorCode::InvalidArgument => Stop::Config(ConfigError(detail)),
        _ => Stop::Other(format!("cannot start the server: {detail}")),
    }
}

fn announce(
    settings: &Resolved,
    ip: IpAddr,
    port: u16,
    tls_port: Option<u16>,
    http_port: Option<u16>,
) -> Option<announce::Announcement> {
    let what = announce::What {
        name: settings.mdns_name.as_deref(),
        ip,
        port,
        tls_port,
        // The browser client's port, announced when the server has one.
        http_port,
        password: settings.server.password.is_some(),
    };
    match announce::start(&what) {
        Ok(Some(a)) => {
            info!(
                name = a.fullname(),
                "announced on the LAN (mDNS, {})",
                papo::discover::SERVICE_TYPE
            );
            Some(a)
        }
        Ok(None) => {
            info!(
                address = %ip,
                "not announced on the LAN: a loopback address is reachable from this machine only"
            );
            None
        }
        Err(e) => {
            warn!("not announced on the LAN: {e}");
            None
        }
    }
}

/// SIGHUP: reads the config file again. What changed is logged by key:
/// the log level and the limits the running server can change
/// (`Server::reconfigure`) are applied, everything else needs a restart.
/// A file that does not parse or resolve is logged and changes nothing.
fn reload(cli: &Cli, current: Resolved, logging: &logging::Logging, server: &Server) -> Resolved {
    let Some(path) = &cli.config else {
        info!("SIGHUP: no config file (--config) to reload");
        return current;
    };
    let new = match config::read_file(path).and_then(|f| config::resolve(cli, f)) {
        Ok(n) => n,
        Err(e) => {
            error!("SIGHUP: config not reloaded, nothing changed: {e}");
            return current;
        }
    };
    let changed = current.given.changed(&new.given);
    if changed.is_empty() {
        info!(file = %path.display(), "SIGHUP: config reloaded, nothing changed");
        return current;
    }
    // The library applies what it can of the whole new configuration and
    // names the fields it applied; the keys of those fields are in force.
    let live = match server.reconfigure(&new.server) {
        Ok(done) => done.applied,
        Err(e) => {
            error!("SIGHUP: the limits were not changed: {e}");
            Vec::new()
        }
    };
    let mut kept = current;
    let mut applied = Vec::new();
    let mut restart = Vec::new();
    for key in changed {
        if key == "log.level" {
            match logging.set_level(new.log_level.as_deref()) {
                Ok(()) => {
                    kept.given.log.level = new.given.log.level.clone();
                    kept.log_level = new.log_level.clone();
                    applied.push(key);
                }
                Err(e) => error!("SIGHUP: {e}"),
            }
        } else if key
            .strip_prefix("limits.")
            .is_some_and(|f| live.contains(&f) && kept.take_limit(f, &new))
        {
            applied.push(key);
        } else {
            restart.push(key);
        }
    }
    if !applied.is_empty() {
        info!(keys = applied.join(", "), "SIGHUP: applied");
    }
    if !restart.is_empty() {
        warn!(
            keys = restart.join(", "),
            "SIGHUP: changed in the file but the running server cannot change them; they take effect at the next restart"
        );
    }
    // What runs is what was applied: the next reload compares against it.
    kept
}

#[cfg(test)]
mod tests {
    use super::shown_url;

    #[test]
    fn a_cluster_url_is_shown_without_its_password() {
        assert_eq!(
            shown_url("redis://10.0.0.5:6379/"),
            "redis://10.0.0.5:6379/"
        );
        assert_eq!(
            shown_url("redis://:s3cr3t@h:6379/2"),
            "redis://:***@h:6379/2"
        );
        assert_eq!(shown_url("redis://ana:s3cr3t@h/"), "redis://ana:***@h/");
        assert_eq!(shown_url("redis://ana@h/"), "redis://ana@h/");
        assert_eq!(shown_url("redis://h/?password=x"), "redis://h/");
        assert_eq!(
            shown_url("unix:///run/redis.sock"),
            "unix:///run/redis.sock"
        );
    }
}
