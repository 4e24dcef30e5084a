//! The servers of one run: one papo server as before, or several papo
//! nodes that are one chat over a Redis (issue 13, `ServerConfig::cluster`).
//!
//! `papo-bench run --nodes N` (N > 1) starts a `redis-server` of its own
//! (persistence off, a temporary working folder, a free loopback port:
//! [`ServerProcess::start`] for [`System::Redis`]) and then N
//! `papo-bench serve --cluster redis://127.0.0.1:PORT/` processes; the load
//! generator spreads its clients over the nodes round-robin (client i on
//! node i mod N). Every process is separate so that the CPU time and memory
//! of each node and of redis-server can be read from `/proc` apart
//! ([`Deployment::cpu`]); Redis's own counters (`INFO stats` and `INFO
//! commandstats`: commands, their CPU time, bytes in and out) say what the
//! nodes asked of it ([`RedisStats`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::servers::{self, PapoOptions, ServerProcess, System};
use crate::sys;

/// The server processes of one run. Dropping it stops them (each
/// [`ServerProcess`] stops itself); [`Deployment::stop`] does it in order,
/// the nodes before their Redis.
pub struct Deployment {
    /// The papo nodes (or the one server of any system), in the order the
    /// clients are spread over them.
    pub nodes: Vec<ServerProcess>,
    /// The cluster's redis-server, when the nodes form a cluster.
    pub redis: Option<ServerProcess>,
}

/// CPU seconds used so far by each process of a [`Deployment`] (from
/// `/proc/<pid>/task/*/schedstat`, all threads, user and kernel time).
#[derive(Debug, Clone, Default)]
pub struct CpuSample {
    /// Each node, in node order.
    pub nodes: Vec<f64>,
    /// redis-server, when there is one.
    pub redis: Option<f64>,
    /// Each node's threads, grouped by name ([`sys::thread_cpu_seconds`]:
    /// `papo-io` for the I/O threads, `papo-accept`, the main thread
    /// `papo-bench`, and the cluster's threads as the kernel shortens their
    /// names to 15 bytes: `papo-cluster-pu` (publisher), `papo-cluster-su`
    /// (subscriber), `papo-cluster-ke` (keeper)).
    pub node_threads: Vec<BTreeMap<String, f64>>,
}

impl CpuSample {
    /// `self - earlier`, process by process: the CPU used in between.
    pub fn since(&self, earlier: &CpuSample) -> CpuSample {
        CpuSample {
            nodes: self
                .nodes
                .iter()
                .zip(&earlier.nodes)
                .map(|(a, b)| a - b)
                .collect(),
            redis: match (self.redis, earlier.redis) {
                (Some(a), Some(b)) => Some(a - b),
                _ => None,
            },
            node_threads: self
                .node_threads
                .iter()
                .zip(&earlier.node_threads)
                .map(|(now, before)| {
                    now.iter()
                        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
                        .collect()
                })
                .collect(),
        }
    }

    /// Every process together (nodes and redis-server), seconds.
    pub fn total(&self) -> f64 {
        self.nodes.iter().sum::<f64>() + self.redis.unwrap_or(0.0)
    }
}

impl Deployment {
    /// Starts the servers of a run: with `nodes` <= 1 and `with_redis`
    /// false, one server of `system` exactly as before clusters; else (papo
    /// only) a redis-server and `nodes.max(1)` papo nodes with
    /// `ServerConfig::cluster` set to its URL. Whatever started is stopped
    /// again when a later start fails.
    pub fn start(
        system: System,
        nodes: usize,
        with_redis: bool,
        papo: &PapoOptions,
    ) -> Result<Deployment, String> {
        let nodes = nodes.max(1);
        if nodes == 1 && !with_redis {
            return Ok(Deployment {
                nodes: vec![ServerProcess::start(system, papo)?],
                redis: None,
            });
        }
        if system != System::Papo {
            return Err(format!(
                "--nodes and --cluster are for papo only ({} was asked)",
                system.name()
            ));
        }
        let redis = ServerProcess::start(System::Redis, papo)?;
        let opts = PapoOptions {
            cluster: Some(format!("redis://{}/", redis.addr)),
            ..papo.clone()
        };
        let mut started = Vec::with_capacity(nodes);
        for _ in 0..nodes {
            // On an error, `started` and `redis` drop here: stopped.
            started.push(ServerProcess::start(System::Papo, &opts)?);
        }
        Ok(Deployment {
            nodes: started,
            redis: Some(redis),
        })
    }

    /// The `redis://` URL the nodes share (None: one server, no Redis).
    pub fn cluster_url(&self) -> Option<String> {
        self.redis.as_ref().map(|r| format!("redis://{}/", r.addr))
    }

    /// Kills node `i` with SIGKILL (a crash: no shutdown, no goodbye to
    /// Redis) and waits for it; the dead process stays in its slot until
    /// [`Deployment::restart_node`]. Does nothing for a slot out of range.
    pub fn crash_node(&mut self, i: usize) {
        if let Some(n) = self.nodes.get_mut(i) {
            n.kill();
        }
    }

    /// Starts a fresh papo node in slot `i` (a new process, a new node
    /// id, the same Redis), stopping whatever ran there before. Errors:
    /// no Redis (not a cluster), `i` out of range, or the node did not
    /// start.
    pub fn restart_node(&mut self, i: usize, papo: &PapoOptions) -> Result<(), String> {
        let url = self
            .cluster_url()
            .ok_or("not a cluster: no node to restart")?;
        if i >= self.nodes.len() {
            return Err(format!("no node {i}"));
        }
        let opts = PapoOptions {
            cluster: Some(url),
            ..papo.clone()
        };
        let fresh = ServerProcess::start(System::Papo, &opts)?;
        // The old process (dead, or stopped by its drop here) is replaced.
        self.nodes[i] = fresh;
        Ok(())
    }

    /// Where the nodes listen, in node order.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.nodes.iter().map(|n| n.addr).collect()
    }

    /// CPU seconds used so far by every process.
    pub fn cpu(&self) -> CpuSample {
        CpuSample {
            nodes: self.nodes.iter().map(|n| n.cpu_seconds()).collect(),
            redis: self.redis.as_ref().map(|r| r.cpu_seconds()),
            node_threads: self
                .nodes
                .iter()
                .map(|n| sys::thread_cpu_seconds(n.pid))
                .collect(),
        }
    }

    /// Resident memory of each node, KiB.
    pub fn node_rss_kib(&self) -> Vec<u64> {
        self.nodes.iter().map(|n| n.rss_kib()).collect()
    }

    /// Resident memory of redis-server, KiB (None: no Redis).
    pub fn redis_rss_kib(&self) -> Option<u64> {
        self.redis.as_ref().map(|r| r.rss_kib())
    }

    /// Resident memory of every process together, KiB.
    pub fn rss_kib(&self) -> u64 {
        self.node_rss_kib().iter().sum::<u64>() + self.redis_rss_kib().unwrap_or(0)
    }

    /// Peak resident memory (`VmHWM`) of every process, summed, KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        self.nodes.iter().map(|n| n.peak_rss_kib()).sum::<u64>()
            + self.redis.as_ref().map(|r| r.peak_rss_kib()).unwrap_or(0)
    }

    /// The process ids, nodes first, then redis-server (for `--hold`).
    pub fn pids(&self) -> Vec<u32> {
        self.nodes
            .iter()
            .chain(self.redis.as_ref())
            .map(|p| p.pid)
            .collect()
    }

    /// Redis's counters now (None: no Redis, or it did not answer).
    pub fn redis_stats(&self) -> Option<RedisStats> {
        RedisStats::read(self.redis.as_ref()?.addr)
    }

    /// Stops the nodes (each in turn: stdin closed, `Server::shutdown`),
    /// then redis-server (SIGTERM).
    pub fn stop(self) {
        for n in self.nodes {
            n.stop();
        }
        if let Some(r) = self.redis {
            r.stop();
        }
    }
}

/// Calls and CPU time of one Redis command (`INFO commandstats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CommandUse {
    /// Times it was called.
    pub calls: u64,
    /// Microseconds Redis spent executing it (for PUBLISH, including the
    /// fan-out into the subscribers' output buffers; not the writes to
    /// their sockets, which Redis does afterwards).
    pub usec: u64,
}

/// What Redis counted (`INFO stats` and `INFO commandstats`), as read, or
/// as a difference over a run ([`RedisStats::since`]).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct RedisStats {
    /// Per command, lower case (`publish`, `spublish`, `set`, `xadd`, ...).
    pub commands: BTreeMap<String, CommandUse>,
    /// `total_commands_processed`.
    pub total_commands: u64,
    /// `total_net_input_bytes`: bytes the nodes sent to Redis.
    pub net_input_bytes: u64,
    /// `total_net_output_bytes`: bytes Redis sent to the nodes (replies
    /// and pub/sub messages).
    pub net_output_bytes: u64,
    /// `pubsub_channels`: channels with at least one subscriber (a gauge,
    /// the value at the end in a difference).
    pub pubsub_channels: u64,
    /// `pubsub_shardchannels` (sharded pub/sub; a gauge as above).
    pub pubsub_shardchannels: u64,
}

impl RedisStats {
    /// Reads `INFO stats` and `INFO commandstats` from the Redis at `addr`.
    pub fn read(addr: SocketAddr) -> Option<RedisStats> {
        let mut s = RedisStats::default();
        let stats = servers::redis_bulk(addr, &["INFO", "stats"])?;
        for line in stats.lines() {
            let Some((k, v)) = line.trim_end().split_once(':') else {
                continue;
            };
            let v: u64 = match v.parse() {
                Ok(v) => v,
                Err(_) => continue,
            };
            match k {
                "total_commands_processed" => s.total_commands = v,
                "total_net_input_bytes" => s.net_input_bytes = v,
                "total_net_output_bytes" => s.net_output_bytes = v,
                "pubsub_channels" => s.pubsub_channels = v,
                "pubsub_shardchannels" => s.pubsub_shardchannels = v,
                _ => {}
            }
        }
        let cmds = servers::redis_bulk(addr, &["INFO", "commandstats"])?;
        for line in cmds.lines() {
            // cmdstat_publish:calls=12,usec=34,usec_per_call=2.83,...
            let Some((name, fields)) = line.trim_end().split_once(':') else {
                continue;
            };
            let Some(name) = name.strip_prefix("cmdstat_") else {
                continue;
            };
            let mut u = CommandUse::default();
            for f in fields.split(',') {
                match f.split_once('=') {
                    Some(("calls", v)) => u.calls = v.parse().unwrap_or(0),
                    Some(("usec", v)) => u.usec = v.parse().unwrap_or(0),
                    _ => {}
                }
            }
            s.commands.insert(name.to_string(), u);
        }
        Some(s)
    }

    /// What happened between `earlier` and `self`: counters subtracted,
    /// gauges (channels) as in `self`; commands that were not called in
    /// between are left out, and so are the harness's own `INFO` calls
    /// (from `commands` and from `total_commands`; its bytes stay in the
    /// byte counts, about 1.5 KB a reading).
    pub fn since(&self, earlier: &RedisStats) -> RedisStats {
        let info = |s: &RedisStats| s.commands.get("info").map_or(0, |u| u.calls);
        let own_info = info(self).saturating_sub(info(earlier));
        let commands = self
            .commands
            .iter()
            .filter(|(k, _)| k.as_str() != "info")
            .filter_map(|(k, now)| {
                let before = earlier.commands.get(k).copied().unwrap_or_default();
                let d = CommandUse {
                    calls: now.calls.saturating_sub(before.calls),
                    usec: now.usec.saturating_sub(before.usec),
                };
                (d.calls > 0).then(|| (k.clone(), d))
            })
            .collect();
        RedisStats {
            commands,
            total_commands: self
                .total_commands
                .saturating_sub(earlier.total_commands)
                .saturating_sub(own_info),
            net_input_bytes: self.net_input_bytes.saturating_sub(earlier.net_input_bytes),
            net_output_bytes: self
                .net_output_bytes
                .saturating_sub(earlier.net_output_bytes),
            pubsub_channels: self.pubsub_channels,
            pubsub_shardchannels: self.pubsub_shardchannels,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a real redis-server (scripts/install-deps.sh installs it):
    /// a PUBLISH between two readings is counted, the readings' own INFO
    /// calls are not.
    #[test]
    fn redis_stats_count_commands_between_readings() {
        let redis = ServerProcess::start(System::Redis, &PapoOptions::default())
            .expect("redis-server starts");
        let before = RedisStats::read(redis.addr).expect("INFO answers");
        // PUBLISH answers an integer, not a bulk string: None, but it ran.
        assert_eq!(
            servers::redis_bulk(redis.addr, &["PUBLISH", "bench.all", "x"]),
            None
        );
        let after = RedisStats::read(redis.addr).expect("INFO answers");
        let d = after.since(&before);
        assert_eq!(d.commands.get("publish").map(|u| u.calls), Some(1));
        assert!(!d.commands.contains_key("info"));
        assert_eq!(d.total_commands, 1);
        assert!(d.net_input_bytes > 0);
        redis.stop();
    }
}
