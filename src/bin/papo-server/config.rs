//! The config file and the resolved settings: the flags over the file over
//! the defaults, turned into a `papo::ServerConfig` and the program's own
//! settings. Every error is one line naming the key, flag or file, for
//! `main` to print before it exits with code 2.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use papo::config::Password;
use papo::server::ServerTls;
use papo::ServerConfig;

use crate::args::{Cli, LogFormat, Settings};

/// A configuration that cannot be used: one line naming what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the program runs with.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The settings as merged (flags over file), before defaults: what a
    /// reload compares.
    pub given: Settings,
    /// Where to listen (empty already replaced by 127.0.0.1).
    pub address: String,
    /// The plain-text port.
    pub port: u16,
    /// The library's configuration, validated.
    pub server: ServerConfig,
    /// The log filter given by the flag or the file (`None`: `RUST_LOG`,
    /// else `info`).
    pub log_level: Option<String>,
    /// Text or JSON.
    pub log_format: LogFormat,
    /// Whether to announce on the LAN.
    pub mdns: bool,
    /// The announced instance name (`None`: "papo on <host name>").
    pub mdns_name: Option<String>,
}

impl Resolved {
    /// Takes the `[limits]` value `field` (one `Server::reconfigure`
    /// applied) from `new`, in the settings as given and in the server's
    /// configuration; false for a field it does not know.
    pub fn take_limit(&mut self, field: &str, new: &Resolved) -> bool {
        macro_rules! take {
            ($($f:ident),*) => {
                match field {
                    $( stringify!($f) => {
                        self.given.limits.$f = new.given.limits.$f;
                        self.server.$f = new.server.$f;
                        true
                    } )*
                    _ => false,
                }
            };
        }
        take!(
            max_clients,
            max_clients_per_ip,
            flood_lines_per_sec,
            flood_burst_lines,
            max_nick_attempts
        )
    }
}

/// The address used when none (or an empty one) is given (seed 000).
pub const DEFAULT_ADDRESS: &str = "127.0.0.1";

/// The library's defaults as the program uses them: a server program turns
/// on the two process-wide settings a library leaves off
/// (`ServerConfig::raise_nofile_limit`, `ServerConfig::trim_heap`), and
/// serves the browser client and metrics on the conventional HTTP port
/// (`ServerConfig::http_port`, 18080).
pub fn program_defaults() -> ServerConfig {
    ServerConfig {
        raise_nofile_limit: true,
        trim_heap: true,
        http_port: Some(papo::server::DEFAULT_HTTP_PORT),
        ..ServerConfig::default()
    }
}

/// Reads and parses a config file. Errors name the file, the line and the
/// key: `papo.toml:3: limits.max_clients: invalid type: string "x",
/// expected usize`.
pub fn read_file(path: &Path) -> Result<Settings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError(format!(
            "cannot read the config file {}: {e}",
            path.display()
        ))
    })?;
    parse(&text, &path.display().to_string())
}

/// Parses config text; `name` is how errors call the file.
pub fn parse(text: &str, name: &str) -> Result<Settings, ConfigError> {
    let one_line = |e: &toml::de::Error, key: Option<String>| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        let at = match line {
            Some(l) => format!("{name}:{l}"),
            None => name.to_owned(),
        };
        let msg = e.message().replace('\n', " ");
        match key {
            Some(k) if !k.is_empty() && k != "." => format!("{at}: {k}: {}", msg.trim()),
            _ => format!("{at}: {}", msg.trim()),
        }
    };
    let de = toml::de::Deserializer::parse(text).map_err(|e| ConfigError(one_line(&e, None)))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        ConfigError(one_line(e.inner(), Some(key)))
    })
}

/// The flags over the file (if `--config` names one) over the defaults.
pub fn load(cli: &Cli) -> Result<Resolved, ConfigError> {
    let file = match &cli.config {
        Some(p) => read_file(p)?,
        None => Settings::default(),
    };
    resolve(cli, file)
}

/// Merges `cli` over `file` and resolves the result.
pub fn resolve(cli: &Cli, file: Settings) -> Result<Resolved, ConfigError> {
    let mut given = cli.settings.clone().or(file);
    if cli.no_mdns {
        given.mdns.enabled = Some(false);
    }
    if cli.no_http {
        given.http.enabled = Some(false);
    }
    let mut server = program_defaults();
    let l = &given.limits;
    macro_rules! plain {
        ($($f:ident),*) => { $( if let Some(v) = l.$f { server.$f = v; } )* };
    }
    plain!(
        max_line_bytes,
        max_discard_bytes,
        max_nick_chars,
        max_clients,
        max_clients_per_ip,
        max_queue_bytes,
        max_total_queue_bytes,
        io_threads,
        event_queue_capacity,
        max_file_bytes,
        max_payload_bytes,
        flood_lines_per_sec,
        flood_burst_lines,
        max_nick_attempts,
        raise_nofile_limit,
        trim_heap,
        resume_backlog
    );
    macro_rules! secs {
        ($($f:ident => $field:ident),*) => {
            $( if let Some(v) = l.$f { server.$field = Duration::from_secs(v); } )*
        };
    }
    secs!(
        registration_timeout_secs => registration_timeout,
        file_stall_timeout_secs => file_stall_timeout,
        keepalive_interval_secs => keepalive_interval,
        keepalive_timeout_secs => keepalive_timeout,
        resume_grace_secs => resume_grace
    );
    server.password = given.password.as_deref().map(Password::from);
    server.oper_password = given.oper_password.as_deref().map(Password::from);
    let h = &given.history;
    server.history_path = h.path.clone();
    if let Some(n) = h.limit {
        server.history_limit = n;
    }
    if let Some(secs) = h.max_age_secs {
        server.history_max_age = Duration::from_secs(secs);
    }
    server.cluster = given.cluster.url.clone();
    if let Some(secs) = given.cluster.lease_secs {
        server.cluster_lease = Duration::from_secs(secs);
    }
    if let Some(port) = given.tls.port {
        server.tls_port = port;
    }
    if let Some(port) = given.http.port {
        server.http_port = Some(port);
    }
    if given.http.enabled == Some(false) {
        server.http_port = None;
    }
    server.http_allowed_origins = given.http.allowed_origins.clone().unwrap_or_default();
    server.tls = match (&given.tls.cert, &given.tls.key) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(ConfigError(
                "tls.cert (--tls-cert) is given without tls.key (--tls-key): TLS needs both".into(),
            ))
        }
        (None, Some(_)) => {
            return Err(ConfigError(
                "tls.key (--tls-key) is given without tls.cert (--tls-cert): TLS needs both".into(),
            ))
        }
        (Some(cert), Some(key)) => Some(load_tls(cert, key)?),
    };
    server
        .validate()
        .map_err(|e| ConfigError(invalid_value(e.detail())))?;

    let address = match given.address.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_ADDRESS.to_owned(),
        Some(a) => a.to_owned(),
    };
    Ok(Resolved {
        address,
        port: given.port.unwrap_or(papo::protocol::DEFAULT_PORT),
        server,
        log_level: given.log.level.clone(),
        log_format: given.log.format.unwrap_or(LogFormat::Text),
        mdns: given.mdns.enabled.unwrap_or(true),
        mdns_name: given.mdns.name.clone(),
        given,
    })
}

/// The certificate and key, each file named when it is what fails.
fn load_tls(cert: &PathBuf, key: &PathBuf) -> Result<ServerTls, ConfigError> {
    let read = |p: &PathBuf, key_name: &str| {
        std::fs::metadata(p)
            .map_err(|e| ConfigError(format!("{key_name}: cannot read {}: {e}", p.display())))
    };
    read(cert, "tls.cert (--tls-cert)")?;
    read(key, "tls.key (--tls-key)")?;
    ServerTls::from_pem_files(cert, key).map_err(|e| {
        let cause = std::error::Error::source(&e)
            .map(|c| format!(": {c}"))
            .unwrap_or_default();
        ConfigError(format!(
            "tls.cert/tls.key ({}, {}): {}{cause}",
            cert.display(),
            key.display(),
            e.detail()
        ))
    })
}

/// The library's validation detail (`ServerConfig::max_clients must not
/// be 0`) with the field named as the file's key and the flag.
fn invalid_value(detail: &str) -> String {
    let Some(rest) = detail.strip_prefix("ServerConfig::") else {
        return format!("invalid configuration: {detail}");
    };
    let field: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let why = rest[field.len()..].trim();
    let key = match field.as_str() {
        "password" => "password".to_owned(),
        "oper_password" => "oper_password".to_owned(),
        "history_path" => "history.path".to_owned(),
        "history_limit" => "history.limit".to_owned(),
        "history_max_age" => "history.max_age_secs".to_owned(),
        "cluster" => "cluster.url".to_owned(),
        "cluster_lease" => "cluster.lease_secs".to_owned(),
        "tls_port" => "tls.port".to_owned(),
        "http_port" => "http.port".to_owned(),
        "http_allowed_origins" => "http.allowed_origins".to_owned(),
        f if f.ends_with("_timeout") || f == "keepalive_interval" => format!("limits.{f}_secs"),
        f => format!("limits.{f}"),
    };
    // The flag: a [limits] key's own name (`--max-clients`), another
    // section's key with the section's name (`--tls-port`,
    // `--history-limit`); a list's flag names one entry and is repeated.
    let flag_name = match key.split_once('.') {
        Some(("limits", rest)) => rest.to_owned(),
        Some(("http", "allowed_origins")) => "http_allowed_origin".to_owned(),
        Some(("cluster", "url")) => "cluster".to_owned(),
        Some((section, rest)) => format!("{section}_{rest}"),
        None => key.clone(),
    };
    let flag = format!("--{}", flag_name.replace('_', "-"));
    format!("invalid value for {key} ({flag}): {why}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn cli(args: &[&str]) -> Cli {
        let mut all = vec!["papo-server"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).expect("flags parse")
    }

    /// The commented example config in the repository parses, and every
    /// value in it is the program's default.
    #[test]
    fn the_example_config_parses_and_yields_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("papo-server.example.toml");
        let file = read_file(&path).expect("the example config parses");
        // The example spells out every key of [limits] (so none is
        // forgotten in it), and nothing is left unset there.
        let keys = format!("{:?}", file.limits);
        assert!(!keys.contains("None"), "a [limits] key is missing: {keys}");
        let r = resolve(&cli(&[]), file).expect("the example config resolves");
        assert_eq!(r.server, program_defaults());
        assert_eq!(r.address, DEFAULT_ADDRESS);
        assert_eq!(r.port, 18000);
        assert_eq!(r.server.tls_port, 18001);
        assert!(r.mdns);
        assert_eq!(r.log_format, LogFormat::Text);
    }

    /// HTTP is on at 18080 unless the file or a flag says otherwise; an
    /// origin that is not one is refused naming the key.
    #[test]
    fn http_is_on_by_default_and_can_be_moved_or_turned_off() {
        let r = resolve(&cli(&[]), Settings::default()).expect("ok");
        assert_eq!(r.server.http_port, Some(papo::server::DEFAULT_HTTP_PORT));
        let file = parse("[http]\nport = 9090\n", "t.toml").expect("parses");
        let r = resolve(&cli(&[]), file).expect("ok");
        assert_eq!(r.server.http_port, Some(9090));
        let file = parse("[http]\nenabled = false\n", "t.toml").expect("parses");
        assert_eq!(resolve(&cli(&[]), file).expect("ok").server.http_port, None);
        let r = resolve(&cli(&["--no-http"]), Settings::default()).expect("ok");
        assert_eq!(r.server.http_port, None);
        let r = resolve(
            &cli(&[
                "--http-allowed-origin",
                "https://chat.example.org",
                "--http-allowed-origin",
                "http://localhost:3000",
            ]),
            Settings::default(),
        )
        .expect("ok");
        assert_eq!(
            r.server.http_allowed_origins,
            ["https://chat.example.org", "http://localhost:3000"]
        );
        let e = resolve(
            &cli(&["--http-allowed-origin", "example.org"]),
            Settings::default(),
        )
        .unwrap_err();
        assert!(
            e.0.starts_with("invalid value for http.allowed_origins"),
            "{e}"
        );
    }

    #[test]
    fn flags_override_the_file() {
        let file = parse(
            "port = 19000\naddress = \"0.0.0.0\"\n[limits]\nmax_clients = 5\nflood_lines_per_sec = 7\n",
            "t.toml",
        )
        .expect("parses");
        let r = resolve(&cli(&["--port", "19001", "--max-clients", "9"]), file).expect("ok");
        assert_eq!(r.port, 19001);
        assert_eq!(r.address, "0.0.0.0");
        assert_eq!(r.server.max_clients, 9);
        assert_eq!(r.server.flood_lines_per_sec, 7);
    }

    #[test]
    fn blank_address_means_loopback() {
        let file = parse("address = \"  \"\n", "t.toml").expect("parses");
        assert_eq!(resolve(&cli(&[]), file).expect("ok").address, "127.0.0.1");
    }

    #[test]
    fn errors_name_the_key_and_line() {
        let e = parse("port = 1\n[limits]\nmax_clints = 5\n", "t.toml").unwrap_err();
        assert!(e.0.starts_with("t.toml:3: "), "{e}");
        assert!(e.0.contains("max_clints"), "{e}");
        let e = parse("[limits]\nmax_clients = \"many\"\n", "t.toml").unwrap_err();
        assert!(e.0.starts_with("t.toml:2: limits.max_clients: "), "{e}");
        let e = resolve(&cli(&["--max-clients", "0"]), Settings::default()).unwrap_err();
        assert_eq!(
            e.0,
            "invalid value for limits.max_clients (--max-clients): must not be 0"
        );
        let e = resolve(
            &cli(&["--registration-timeout-secs", "0"]),
            Settings::default(),
        )
        .unwrap_err();
        assert!(e.0.contains("limits.registration_timeout_secs"), "{e}");
    }

    #[test]
    fn resume_settings_reach_the_server() {
        let file = parse("[limits]\nresume_grace_secs = 5\n", "t.toml").expect("parses");
        let r = resolve(&cli(&["--resume-backlog", "7"]), file).expect("ok");
        assert_eq!(r.server.resume_grace, Duration::from_secs(5));
        assert_eq!(r.server.resume_backlog, 7);
        let r = resolve(&cli(&[]), Settings::default()).expect("ok");
        assert_eq!(r.server.resume_grace, Duration::from_secs(60));
    }

    #[test]
    fn rooms_and_history_settings_reach_the_server() {
        let file = parse(
            "oper_password = \"chefe\"\n[history]\npath = \"/var/lib/papo/h.db\"\nlimit = 50\nmax_age_secs = 60\n",
            "t.toml",
        )
        .expect("parses");
        let r = resolve(&cli(&["--history-limit", "70"]), file).expect("ok");
        assert_eq!(
            r.server.oper_password.as_ref().map(|p| p.as_str()),
            Some("chefe")
        );
        assert_eq!(
            r.server.history_path.as_deref(),
            Some(Path::new("/var/lib/papo/h.db"))
        );
        assert_eq!(r.server.history_limit, 70);
        assert_eq!(r.server.history_max_age, Duration::from_secs(60));
        let e = resolve(&cli(&["--oper-password", " x"]), Settings::default()).unwrap_err();
        assert!(
            e.0.starts_with("invalid value for oper_password (--oper-password): "),
            "{e}"
        );
        let a = parse("[history]\nlimit = 5\n", "a").expect("a");
        let b = parse("oper_password = \"x\"\n[history]\nlimit = 6\n", "b").expect("b");
        assert_eq!(a.changed(&b), ["oper_password", "history.limit"]);
    }

    #[test]
    fn cluster_settings_reach_the_server_and_are_checked() {
        let r = resolve(&cli(&[]), Settings::default()).expect("ok");
        assert_eq!(r.server.cluster, None);
        assert_eq!(r.server.cluster_lease, Duration::from_secs(10));
        let file = parse(
            "[cluster]\nurl = \"redis://10.0.0.5:6379/\"\nlease_secs = 4\n",
            "t.toml",
        )
        .expect("parses");
        let r = resolve(&cli(&["--cluster-lease-secs", "6"]), file).expect("ok");
        assert_eq!(r.server.cluster.as_deref(), Some("redis://10.0.0.5:6379/"));
        assert_eq!(r.server.cluster_lease, Duration::from_secs(6));
        let r = resolve(
            &cli(&["--cluster", "redis://127.0.0.1/2"]),
            Settings::default(),
        )
        .expect("ok");
        assert_eq!(r.server.cluster.as_deref(), Some("redis://127.0.0.1/2"));
        let e = resolve(&cli(&["--cluster", "not a url"]), Settings::default()).unwrap_err();
        assert!(
            e.0.starts_with("invalid value for cluster.url (--cluster): "),
            "{e}"
        );
        assert!(!e.0.contains('\n'), "{e}");
        let e = resolve(&cli(&["--cluster-lease-secs", "0"]), Settings::default()).unwrap_err();
        assert_eq!(
            e.0,
            "invalid value for cluster.lease_secs (--cluster-lease-secs): must be at least 1 s and at most 1 hour"
        );
        let e = parse("[cluster]\nurl = 5\n", "t.toml").unwrap_err();
        assert!(e.0.starts_with("t.toml:2: cluster.url: "), "{e}");
        let e = parse("[cluster]\nlease = 5\n", "t.toml").unwrap_err();
        assert!(e.0.contains("lease"), "{e}");
        let a = parse("[cluster]\nurl = \"redis://a/\"\n", "a").expect("a");
        let b = parse("[cluster]\nurl = \"redis://b/\"\nlease_secs = 3\n", "b").expect("b");
        assert_eq!(a.changed(&b), ["cluster.url", "cluster.lease_secs"]);
    }

    #[test]
    fn a_reload_names_the_changed_keys() {
        let a = parse("[limits]\nmax_clients = 5\n", "a").expect("a");
        let b = parse("[limits]\nmax_clients = 6\n[log]\nlevel = \"debug\"\n", "b").expect("b");
        assert_eq!(a.changed(&b), ["limits.max_clients", "log.level"]);
    }
}
