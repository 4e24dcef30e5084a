//! `/metrics`: [`ServerStats`] in the Prometheus text format (version
//! 0.0.4), with the names of Prometheus' conventions (`papo_` prefix,
//! `_total` on counters, units in names).
//!
//! Written by hand rather than with the `prometheus-client` crate: its
//! model is a registry of metric objects that the program updates, while
//! papo's counters already live in atomics spread over the I/O threads and
//! are read as one [`ServerStats`] snapshot (the same one the C and Python
//! APIs return). Bridging would take a custom collector per metric, more
//! code than the twenty lines of text below, whose format is small and
//! fixed. The tests parse the output with an independent parser.

use std::fmt::Write;

use crate::server::ServerStats;

/// The text of `/metrics`.
pub(crate) fn render(s: &ServerStats) -> String {
    let mut out = String::with_capacity(4096);
    let mut one = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        let _ = writeln!(out, "{name} {value}");
    };
    one(
        "papo_connections",
        "gauge",
        "Open connections, registered or not.",
        s.connections as u64,
    );
    one(
        "papo_users",
        "gauge",
        "Registered users online.",
        s.users as u64,
    );
    one(
        "papo_rooms",
        "gauge",
        "Rooms that exist (a room lives while it has members).",
        s.rooms as u64,
    );
    one(
        "papo_cluster_partitioned",
        "gauge",
        "1 while this node of a cluster is cut off from Redis, so from the other nodes.",
        u64::from(s.cluster.partitioned),
    );
    one(
        "papo_cluster_nodes",
        "gauge",
        "Other nodes of the cluster this node hears from.",
        s.cluster.nodes as u64,
    );
    one(
        "papo_cluster_published_total",
        "counter",
        "Messages published to the other nodes of the cluster.",
        s.cluster.published,
    );
    one(
        "papo_cluster_received_total",
        "counter",
        "Messages received from the other nodes of the cluster.",
        s.cluster.received,
    );
    one(
        "papo_cluster_lost_total",
        "counter",
        "Messages from other nodes found missing (their receivers were told LOST).",
        s.cluster.lost,
    );
    one(
        "papo_connections_accepted_total",
        "counter",
        "Connections accepted (WebSocket ones included), refused ones too.",
        s.accepted,
    );
    one(
        "papo_connections_rejected_total",
        "counter",
        "Connections refused as server full (ERROR 12).",
        s.rejected,
    );
    one(
        "papo_messages_received_total",
        "counter",
        "Public, private and room chat messages accepted from clients.",
        s.messages_received,
    );
    one(
        "papo_deliveries_total",
        "counter",
        "Chat message lines queued to their receivers.",
        s.deliveries,
    );
    one(
        "papo_lines_received_total",
        "counter",
        "Protocol lines received from clients.",
        s.lines_received,
    );
    one(
        "papo_received_bytes_total",
        "counter",
        "Bytes received from clients.",
        s.bytes_received,
    );
    one(
        "papo_sent_bytes_total",
        "counter",
        "Bytes written to clients.",
        s.bytes_sent,
    );
    one(
        "papo_queued_bytes",
        "gauge",
        "Bytes queued for clients now (a broadcast counts once).",
        s.queued_bytes as u64,
    );
    one(
        "papo_slow_consumers_total",
        "counter",
        "Clients dropped as slow consumers.",
        s.slow_consumers,
    );
    one(
        "papo_file_transfers_total",
        "counter",
        "Files offered and accepted (FILEOK).",
        s.files,
    );
    one(
        "papo_server_events_dropped_total",
        "counter",
        "Server events dropped because the event queue was full.",
        s.dropped_events,
    );
    one(
        "papo_http_requests_total",
        "counter",
        "HTTP requests answered on the HTTP port, upgrades included.",
        s.http_requests,
    );
    one(
        "papo_websocket_connections_total",
        "counter",
        "WebSocket connections handed to the chat.",
        s.websocket_upgrades,
    );
    let _ = writeln!(
        out,
        "# HELP papo_disconnects_total Connections ended, by reason."
    );
    let _ = writeln!(out, "# TYPE papo_disconnects_total counter");
    for (reason, n) in &s.disconnects {
        let _ = writeln!(
            out,
            "papo_disconnects_total{{reason=\"{}\"}} {n}",
            reason.as_str()
        );
    }
    let _ = writeln!(
        out,
        "# HELP papo_io_thread_inbox_depth Commands waiting in each I/O thread's inbox."
    );
    let _ = writeln!(out, "# TYPE papo_io_thread_inbox_depth gauge");
    for (i, n) in s.inbox_depths.iter().enumerate() {
        let _ = writeln!(out, "papo_io_thread_inbox_depth{{thread=\"{i}\"}} {n}");
    }
    out
}
