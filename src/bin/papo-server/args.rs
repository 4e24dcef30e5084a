//! The program's settings as they are written: one set of types serves both
//! the command-line flags (clap) and the config file (serde + TOML), so a
//! setting cannot exist in one and be forgotten in the other. Every field
//! is an `Option`: `None` means "not given here", and `config.rs` merges
//! the flags over the file over the defaults.
//!
//! In the file the settings sit in sections (`[limits]`, `[tls]`,
//! `[history]`, `[cluster]`, `[log]`, `[mdns]`); on the command line they
//! are flat (`--max-clients`, `--tls-cert`, `--history-path`, `--cluster`,
//! `--log-level`, `--mdns-name`). Unknown keys are refused
//! (`deny_unknown_fields`), so a misspelt limit is an error, not a default.

use std::path::PathBuf;

use clap::{Args, Parser, ValueEnum};
use serde::Deserialize;

/// Defines a settings section: the struct (with its clap and serde
/// attributes), `or` (take each value from `self`, else from `base`) and
/// `changed` (the names of the keys whose values differ).
macro_rules! section {
    (
        $(#[$m:meta])*
        pub struct $name:ident {
            $( $(#[$fm:meta])* pub $f:ident : Option<$t:ty>, )*
        }
    ) => {
        $(#[$m])*
        pub struct $name {
            $( $(#[$fm])* pub $f: Option<$t>, )*
        }

        impl $name {
            /// Each value from `self` when given there, else from `base`.
            pub fn or(self, base: $name) -> $name {
                $name { $( $f: self.$f.or(base.$f), )* }
            }

            /// The keys (`prefix` + field name) whose values differ.
            pub fn changed(&self, other: &$name, prefix: &str, out: &mut Vec<String>) {
                $( if self.$f != other.$f {
                    out.push(format!("{prefix}{}", stringify!($f)));
                } )*
            }
        }
    };
}

/// `papo-server`: the papo chat server (PROTOCOL.md), with its limits from
/// flags and a TOML config file.
#[derive(Parser, Debug)]
#[command(
    name = "papo-server",
    version,
    about = "The papo chat server: nc, the C client, the Python clients and the GUI connect to it.",
    after_help = "Flags override the config file, which overrides the defaults. \
                  papo-server.example.toml lists every key with its default. \
                  SIGINT/SIGTERM stop the server (every client gets ERROR 03); \
                  SIGHUP reloads the config file."
)]
pub struct Cli {
    /// The TOML config file (see papo-server.example.toml); flags override it.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Do not announce the server on the LAN with mDNS/DNS-SD (`[mdns] enabled = false`).
    #[arg(long)]
    pub no_mdns: bool,

    /// Do not serve the browser client, /metrics and /healthz over HTTP (`[http] enabled = false`).
    #[arg(long)]
    pub no_http: bool,

    #[command(flatten)]
    pub settings: Settings,
}

/// Everything settable, as in the file's top level.
#[derive(Args, Deserialize, Debug, Default, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// IP address or host name to listen on; empty means 127.0.0.1 (seed 000);
    /// 0.0.0.0 or :: listen on every interface [default: 127.0.0.1]
    #[arg(long, short = 'a', value_name = "ADDRESS")]
    pub address: Option<String>,

    /// TCP port of the plain-text chat; 0 picks a free one [default: 18000]
    #[arg(long, short = 'p', value_name = "PORT")]
    pub port: Option<u16>,

    /// Server password clients must send with /pass before their nickname
    /// (PROTOCOL.md "Password"); prefer the file or PAPO_PASSWORD: flags show in `ps`
    #[arg(
        long,
        env = "PAPO_PASSWORD",
        hide_env_values = true,
        value_name = "PASSWORD"
    )]
    pub password: Option<String>,

    /// Password that makes a client a server operator with /oper (it may then
    /// /kick anyone off the server; PROTOCOL.md "Rooms"); prefer the file or
    /// PAPO_OPER_PASSWORD: flags show in `ps` [default: none, nobody can be one]
    #[arg(
        long,
        env = "PAPO_OPER_PASSWORD",
        hide_env_values = true,
        value_name = "PASSWORD"
    )]
    pub oper_password: Option<String>,

    #[command(flatten)]
    #[serde(default)]
    pub limits: Limits,

    #[command(flatten)]
    #[serde(default)]
    pub history: History,

    #[command(flatten)]
    #[serde(default)]
    pub cluster: Cluster,

    #[command(flatten)]
    #[serde(default)]
    pub tls: Tls,

    #[command(flatten)]
    #[serde(default)]
    pub log: Log,

    #[command(flatten)]
    #[serde(default)]
    pub mdns: Mdns,

    #[command(flatten)]
    #[serde(default)]
    pub http: Http,
}

impl Settings {
    /// Each value from `self` when given there, else from `base`.
    pub fn or(self, base: Settings) -> Settings {
        Settings {
            address: self.address.or(base.address),
            port: self.port.or(base.port),
            password: self.password.or(base.password),
            oper_password: self.oper_password.or(base.oper_password),
            limits: self.limits.or(base.limits),
            history: self.history.or(base.history),
            cluster: self.cluster.or(base.cluster),
            tls: self.tls.or(base.tls),
            log: self.log.or(base.log),
            mdns: self.mdns.or(base.mdns),
            http: self.http.or(base.http),
        }
    }

    /// The keys, as written in the file (`limits.max_clients`), whose
    /// values differ.
    pub fn changed(&self, other: &Settings) -> Vec<String> {
        let mut out = Vec::new();
        for (key, differs) in [
            ("address", self.address != other.address),
            ("port", self.port != other.port),
            ("password", self.password != other.password),
            ("oper_password", self.oper_password != other.oper_password),
        ] {
            if differs {
                out.push(key.to_owned());
            }
        }
        self.limits.changed(&other.limits, "limits.", &mut out);
        self.tls.changed(&other.tls, "tls.", &mut out);
        self.history.changed(&other.history, "history.", &mut out);
        self.cluster.changed(&other.cluster, "cluster.", &mut out);
        self.log.changed(&other.log, "log.", &mut out);
        self.mdns.changed(&other.mdns, "mdns.", &mut out);
        self.http.changed(&other.http, "http.", &mut out);
        out
    }
}

section! {
    /// `[limits]`: every limit of `papo::ServerConfig` (PROTOCOL.md "Limits").
    #[derive(Args, Deserialize, Debug, Default, Clone, PartialEq)]
    #[serde(deny_unknown_fields)]
    pub struct Limits {
        /// Longest line a client may send, in bytes [default: 4096]
        #[arg(long, value_name = "BYTES")]
        pub max_line_bytes: Option<usize>,
        /// A line longer than this drops the connection, in bytes [default: 65536]
        #[arg(long, value_name = "BYTES")]
        pub max_discard_bytes: Option<usize>,
        /// Longest nickname, in characters [default: 32]
        #[arg(long, value_name = "CHARS")]
        pub max_nick_chars: Option<usize>,
        /// Most connections at once [default: 16384]
        #[arg(long, value_name = "N")]
        pub max_clients: Option<usize>,
        /// Most connections at once from one IP address; 0 = no limit [default: 0]
        #[arg(long, value_name = "N")]
        pub max_clients_per_ip: Option<usize>,
        /// Bytes that may wait in one client's queue before it is a slow consumer [default: 67108864]
        #[arg(long, value_name = "BYTES")]
        pub max_queue_bytes: Option<usize>,
        /// Bytes that may wait in all queues together [default: 1073741824]
        #[arg(long, value_name = "BYTES")]
        pub max_total_queue_bytes: Option<usize>,
        /// Seconds a connection has to register a nickname [default: 30]
        #[arg(long, value_name = "SECONDS")]
        pub registration_timeout_secs: Option<u64>,
        /// I/O threads; 0 = one per core, at most 4 [default: 0]
        #[arg(long, value_name = "N")]
        pub io_threads: Option<usize>,
        /// Server events kept for the log before new ones are dropped [default: 65536]
        #[arg(long, value_name = "N")]
        pub event_queue_capacity: Option<usize>,
        /// Largest file a client may send, in bytes [default: 4294967296]
        #[arg(long, value_name = "BYTES")]
        pub max_file_bytes: Option<u64>,
        /// Largest binary message, in bytes [default: 262144]
        #[arg(long, value_name = "BYTES")]
        pub max_payload_bytes: Option<usize>,
        /// Seconds a file receiver may take nothing before it is dropped [default: 30]
        #[arg(long, value_name = "SECONDS")]
        pub file_stall_timeout_secs: Option<u64>,
        /// Flood limit: lines per second for ever; 0 = no limit [default: 100]
        #[arg(long, value_name = "N")]
        pub flood_lines_per_sec: Option<u32>,
        /// Flood limit: lines at once before the rate applies [default: 1000]
        #[arg(long, value_name = "N")]
        pub flood_burst_lines: Option<u32>,
        /// Seconds of silence before the server sends PING; 0 = no keepalive [default: 120]
        #[arg(long, value_name = "SECONDS")]
        pub keepalive_interval_secs: Option<u64>,
        /// Seconds to answer a PING before being dropped [default: 60]
        #[arg(long, value_name = "SECONDS")]
        pub keepalive_timeout_secs: Option<u64>,
        /// Refused nicknames before the connection is closed; 0 = no limit [default: 10]
        #[arg(long, value_name = "N")]
        pub max_nick_attempts: Option<u32>,
        /// Seconds a dropped client that can resume is held (nickname, rooms,
        /// messages; nobody sees it leave); 0 = none [default: 60]
        #[arg(long, value_name = "SECONDS")]
        pub resume_grace_secs: Option<u64>,
        /// Most missed messages a resumed client is sent [default: 1000]
        #[arg(long, value_name = "N")]
        pub resume_backlog: Option<usize>,
        /// Raise the process's open-file limit to its hard limit at start [default: true]
        #[arg(long, value_name = "BOOL")]
        pub raise_nofile_limit: Option<bool>,
        /// Hand freed heap memory back to the system after bursts (glibc) [default: true]
        #[arg(long, value_name = "BOOL")]
        pub trim_heap: Option<bool>,
    }
}

section! {
    /// `[tls]`: TLS on its own port, with a certificate and key in PEM
    /// (PROTOCOL.md "TLS"); on when both files are given.
    #[derive(Args, Deserialize, Debug, Default, Clone, PartialEq)]
    #[serde(deny_unknown_fields)]
    pub struct Tls {
        /// PEM file with the server's certificate chain (TLS is on with --tls-key too)
        #[arg(long = "tls-cert", id = "tls_cert", value_name = "FILE")]
        #[serde(rename = "cert")]
        pub cert: Option<PathBuf>,
        /// PEM file with the server's private key
        #[arg(long = "tls-key", id = "tls_key", value_name = "FILE")]
        #[serde(rename = "key")]
        pub key: Option<PathBuf>,
        /// TLS port, same address; 0 picks a free one [default: 18001]
        #[arg(long = "tls-port", id = "tls_port", value_name = "PORT")]
        #[serde(rename = "port")]
        pub port: Option<u16>,
    }
}

section! {
    /// `[history]`: what the server keeps of past messages for `/history`
    /// (PROTOCOL.md "History").
    #[derive(Args, Deserialize, Debug, Default, Clone, PartialEq)]
    #[serde(deny_unknown_fields)]
    pub struct History {
        /// SQLite database that keeps history (and message ids) across restarts;
        /// created if missing [default: none, history in memory only]
        #[arg(long = "history-path", id = "history_path", value_name = "FILE")]
        #[serde(rename = "path")]
        pub path: Option<PathBuf>,
        /// Most messages kept per room, for the public chat and per private
        /// conversation; 0 keeps none [default: 1000]
        #[arg(long = "history-limit", id = "history_limit", value_name = "N")]
        #[serde(rename = "limit")]
        pub limit: Option<usize>,
        /// Messages older than this many seconds are forgotten [default: 2592000, 30 days]
        #[arg(long = "history-max-age-secs", id = "history_max_age_secs", value_name = "SECONDS")]
        #[serde(rename = "max_age_secs")]
        pub max_age_secs: Option<u64>,
    }
}

section! {
    /// `[cluster]`: several servers as one chat over Redis or Valkey
    /// (PROTOCOL.md "Clusters"). Off unless `url` is given.
    #[derive(Args, Deserialize, Debug, Default, Clone, PartialEq)]
    #[serde(deny_unknown_fields)]
    pub struct Cluster {
        /// Redis (or Valkey) URL every server of the chat uses, redis://host:port/
        /// (or redis://host:port/db, unix:///path); every server started with the
        /// same URL serves one chat [default: none, a chat of its own]
        #[arg(long = "cluster", id = "cluster_url", value_name = "URL")]
        #[serde(rename = "url")]
        pub url: Option<String>,
        /// Seconds a server's claim on its users' nicknames lasts unrenewed: a
        /// server that stops without a goodbye has its users gone from the
        /// others within it; at least 1 [default: 10]
        #[arg(long = "cluster-lease-secs", id = "cluster_lease_secs", value_name = "SECONDS")]
        #[serde(rename = "lease_secs")]
        pub lease_secs: Option<u64>,
    }
}

section! {
    /// `[log]`: what is logged, and how.
    #[derive(Args, Deserialize, Debug, Default, Clone, PartialEq)]
    #[serde(deny_unknown_fields)]
    pub struct Log {
        /// Log level or tracing filter (error, warn, info, debug, trace; or
        /// "papo_server=debug"); RUST_LOG is used when neither flag nor file sets it [default: info]
        #[arg(long = "log-level", id = "log_level", value_name = "FILTER")]
        #[serde(rename = "level")]
        pub level: Option<String>,
        /// Log lines as text or one JSON object per line [default: text]
        #[arg(long = "log-format", id = "log_format", value_name = "FORMAT")]
        #[serde(rename = "format")]
        pub format: Option<LogFormat>,
    }
}

section! {
    /// `[mdns]`: the announcement on the LAN (mDNS/DNS-SD, `_papo._tcp`).
    #[derive(Args, Deserialize, Debug, Default, Clone, PartialEq)]
    #[serde(deny_unknown_fields)]
    pub struct Mdns {
        /// Announce the server on the LAN (a server on a loopback address is never announced) [default: true]
        #[arg(skip)]
        pub enabled: Option<bool>,
        /// The name the server is announced under [default: "papo on <host name>"]
        #[arg(long = "mdns-name", id = "mdns_name", value_name = "NAME")]
        #[serde(rename = "name")]
        pub name: Option<String>,
    }
}

section! {
    /// `[http]`: the HTTP port, same address (PROTOCOL.md "HTTP"): the
    /// browser chat client at `/`, its WebSocket at `/ws`, Prometheus
    /// metrics at `/metrics`, a health check at `/healthz`.
    #[derive(Args, Deserialize, Debug, Default, Clone, PartialEq)]
    #[serde(deny_unknown_fields)]
    pub struct Http {
        /// Serve HTTP [default: true]
        #[arg(skip)]
        pub enabled: Option<bool>,
        /// HTTP port, same address; 0 picks a free one [default: 18080]
        #[arg(long = "http-port", id = "http_port", value_name = "PORT")]
        #[serde(rename = "port")]
        pub port: Option<u16>,
        /// Origins (scheme://host[:port]) of other pages allowed to open the
        /// WebSocket, besides the server's own page; repeat the flag for more [default: none]
        #[arg(long = "http-allowed-origin", id = "http_allowed_origins", value_name = "ORIGIN")]
        #[serde(rename = "allowed_origins")]
        pub allowed_origins: Option<Vec<String>>,
    }
}

/// How log lines are written.
#[derive(ValueEnum, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line (for journald, Loki, jq ...).
    Json,
}
