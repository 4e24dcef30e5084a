//! [`Server::reconfigure`]: the limits a running server can change (what a
//! server program's SIGHUP reloads), and the names of those it cannot.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::session::RELOADABLE;
use super::Server;
use crate::config::ServerConfig;
use crate::error::Result;

/// What [`Server::reconfigure`] did, by `ServerConfig` field name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconfigured {
    /// Fields whose new values are in force from now on.
    pub applied: Vec<&'static str>,
    /// Fields whose new values differ from the running ones but are fixed
    /// while the server runs; they take effect when it is started again.
    pub needs_restart: Vec<&'static str>,
}

/// The fields a running server changes besides the rules' own
/// ([`RELOADABLE`]): the acceptor reads both for each new connection;
/// connections already open stay open when a limit drops below their
/// number.
const ADMISSION: [&str; 2] = ["max_clients", "max_clients_per_ip"];

/// The names of the fields of `ServerConfig` in which `a` and `b` differ.
/// The destructuring names every field, so a field added to
/// `ServerConfig` does not compile here until it is listed (and so
/// classified by [`Server::reconfigure`]).
fn differences(a: &ServerConfig, b: &ServerConfig) -> Vec<&'static str> {
    macro_rules! compare {
        ($($f:ident),* $(,)?) => {{
            let ServerConfig {
                $($f,)*
                #[cfg(feature = "test-support")]
                    clock: _,
            } = a;
            let mut out = Vec::new();
            $( if *$f != b.$f { out.push(stringify!($f)); } )*
            out
        }};
    }
    compare!(
        max_line_bytes,
        max_discard_bytes,
        max_nick_chars,
        max_clients,
        max_clients_per_ip,
        max_queue_bytes,
        max_total_queue_bytes,
        registration_timeout,
        io_threads,
        event_queue_capacity,
        max_file_bytes,
        max_payload_bytes,
        file_stall_timeout,
        flood_lines_per_sec,
        flood_burst_lines,
        keepalive_interval,
        keepalive_timeout,
        max_nick_attempts,
        password,
        oper_password,
        history_path,
        history_limit,
        history_max_age,
        resume_grace,
        resume_backlog,
        cluster,
        cluster_lease,
        tls,
        tls_port,
        http_port,
        http_allowed_origins,
        raise_nofile_limit,
        trim_heap,
    )
}

impl Server {
    /// Changes the limits of a running server that can change while it runs
    /// (what `papo-server` does on SIGHUP): `max_clients` and
    /// `max_clients_per_ip` (for connections accepted from now on; open
    /// ones are never closed for it), `flood_lines_per_sec` and
    /// `flood_burst_lines` (for every line from now on, each client's
    /// allowance carried over), and `max_nick_attempts`. Every other field
    /// of `config` that differs from the running configuration is left as
    /// it is and named in [`Reconfigured::needs_restart`]: the line, nickname
    /// and payload limits were announced to connected clients in `HELLO`,
    /// and the rest shapes threads, sockets, queues and timers made at
    /// start.
    ///
    /// Thread safety: may be called from any thread while the server runs;
    /// calls are serialised, and each I/O thread sees either the old or the
    /// new limits for a whole line, never a mix.
    ///
    /// # Errors
    ///
    /// `config` fails [`ServerConfig::validate`] (`InvalidArgument`, the
    /// field named): nothing is changed.
    pub fn reconfigure(&self, config: &ServerConfig) -> Result<Reconfigured> {
        config.validate()?;
        let mut current = self.config.lock();
        let mut done = Reconfigured::default();
        let mut rules_changed = false;
        for field in differences(&current, config) {
            if RELOADABLE.contains(&field) {
                rules_changed = true;
                done.applied.push(field);
            } else if ADMISSION.contains(&field) {
                done.applied.push(field);
            } else {
                done.needs_restart.push(field);
            }
        }
        if rules_changed {
            let rules = self.shared.rules.load().with_reloadable(config);
            self.shared.rules.store(Arc::new(rules));
        }
        self.shared
            .max_clients
            .store(config.max_clients, Ordering::Relaxed);
        self.shared
            .max_clients_per_ip
            .store(config.max_clients_per_ip, Ordering::Relaxed);
        current.max_clients = config.max_clients;
        current.max_clients_per_ip = config.max_clients_per_ip;
        current.flood_lines_per_sec = config.flood_lines_per_sec;
        current.flood_burst_lines = config.flood_burst_lines;
        current.max_nick_attempts = config.max_nick_attempts;
        Ok(done)
    }
}
