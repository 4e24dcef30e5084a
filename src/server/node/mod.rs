//! This server as a node of a cluster (PROTOCOL.md, "Clusters"; the
//! design is in `server/cluster/mod.rs`): the three threads that talk to
//! Redis, and what they tell this node's users.
//!
//! - `links.rs`: the publisher (this node's messages, in order) and the
//!   keeper (claims, heartbeats, silent nodes, healing);
//! - `inbound.rs`: the subscriber (reads the other nodes' messages) and
//!   the deliverer (hands them to this node's users);
//! - `remote.rs`: the other nodes' users in the local registry;
//! - `rooms.rs`: other nodes' room operators' changes, and a room's state
//!   read when this node starts following it.

mod inbound;
mod links;
mod remote;
mod resume;
mod rooms;

pub(crate) use resume::{forward_moved, resume_here};

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::conn::Chunk;
use super::inbox::Cmd;
use super::shared::Shared;
use super::ServerEvent;
use crate::protocol::{ClusterState, ServerLine};

/// Starts the cluster threads of the server `shared` (nothing without
/// `ServerConfig::cluster`).
pub(crate) fn start(shared: &Arc<Shared>) -> std::io::Result<()> {
    let Some(c) = shared.cluster.as_ref() else {
        return Ok(());
    };
    // Joined from the start when Redis answers now; otherwise alone
    // until it does (the keeper heals it then).
    // Cluster-wide ids from the first message: a tag drawn from the node
    // id (random) until the node holds a lease on one in Redis.
    shared
        .history
        .set_node_tag(u64::from_str_radix(c.node.get(..2).unwrap_or("0"), 16).unwrap_or(0));
    match c.connect().and_then(|mut k| {
        redis::cmd("PING").query::<String>(&mut k)?;
        links::keep_tag(shared, c, &mut k)
    }) {
        Ok(_) => c.partitioned.store(false, Ordering::Release),
        Err(e) => shared.events.push(ServerEvent::Cluster {
            partitioned: true,
            message: format!("Redis does not answer yet: {e}"),
        }),
    }
    let rx = c.out_rx.lock().take();
    let mut handles = Vec::new();
    if let Some(rx) = rx {
        let s = Arc::clone(shared);
        handles.push(
            std::thread::Builder::new()
                .name("papo-cluster-pub".into())
                .spawn(move || links::publisher(s, rx))?,
        );
    }
    let (tx, rx) = inbound::queue();
    let s = Arc::clone(shared);
    handles.push(
        std::thread::Builder::new()
            .name("papo-cluster-sub".into())
            .spawn(move || inbound::subscriber(s, tx))?,
    );
    let s = Arc::clone(shared);
    handles.push(
        std::thread::Builder::new()
            .name("papo-cluster-in".into())
            .spawn(move || inbound::deliverer(s, rx))?,
    );
    let s = Arc::clone(shared);
    handles.push(
        std::thread::Builder::new()
            .name("papo-cluster-keep".into())
            .spawn(move || links::keeper(s))?,
    );
    c.threads.lock().extend(handles);
    Ok(())
}

/// Tells every registered local user a cluster line (`CLUSTER`, `LOST`)
/// and the server's owner an event.
fn tell_everyone(shared: &Shared, line: ServerLine<&str>) {
    let mut bytes = Vec::with_capacity(96);
    line.encode(&mut bytes);
    let bytes = Chunk::new(bytes, &shared.meter);
    let seq = shared.change_seq.load(Ordering::Acquire) + 1;
    for inbox in &shared.inboxes {
        inbox.push(Cmd::Broadcast {
            bytes: bytes.clone(),
            tagged: None,
            seq,
            except: 0,
            presence: false,
        });
        inbox.notify();
    }
}

/// Marks the node partitioned (once) and says so.
pub(crate) fn set_partitioned(shared: &Shared, why: &str) {
    let Some(c) = shared.cluster.as_ref() else {
        return;
    };
    if c.stopping() || c.partitioned.swap(true, Ordering::AcqRel) {
        return;
    }
    tell_everyone(shared, ServerLine::Cluster(ClusterState::Partitioned));
    shared.events.push(ServerEvent::Cluster {
        partitioned: true,
        message: format!("cut off from the cluster: {why}"),
    });
}
