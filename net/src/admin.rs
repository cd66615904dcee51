//! Server commands' replies: HELLO, INFO, COMMAND, CONFIG, SAVE, BGSAVE, TIME.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::cmd::control::{CommandQuery, ConfigRequest};
use crate::cmd::{self, Spec, TABLE};
use crate::frame::{Frame, Protocol};
use crate::server::Shared;
use crate::settings::SETTINGS;

/// The Redis version the server answers as: clients enable features by it (redis-py
/// enables its client-side cache from 7.4).
pub(crate) const REDIS_VERSION: &str = "7.4.0";

/// HELLO's reply.
pub(crate) fn hello(client_id: u64, protocol: Protocol) -> Frame {
    let text = |s: &'static str| Frame::bulk(s);
    Frame::Map(vec![
        (text("server"), text("redis")),
        (text("version"), text(REDIS_VERSION)),
        (text("proto"), Frame::Integer(protocol.number())),
        (text("id"), Frame::Integer(client_id as i64)),
        (text("mode"), text("standalone")),
        (text("role"), text("master")),
        (text("modules"), Frame::Array(Vec::new())),
    ])
}

/// The resident memory of the process, in bytes (Linux), for INFO.
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|pages| pages.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// INFO [section ...]: `server`, `clients`, `memory`, `persistence`, `stats`,
/// `keyspace`; none, `all`, `default` or `everything` give them all.
pub(crate) fn info(shared: &Arc<Shared>, sections: &[String]) -> Frame {
    let wants = |name: &str| {
        sections.is_empty()
            || sections
                .iter()
                .any(|s| s == name || s == "all" || s == "default" || s == "everything")
    };
    let mut text = String::new();
    let uptime_s = shared.started.elapsed().as_secs();
    if wants("server") {
        let _ = write!(
            text,
            "# Server\r\nredis_version:{REDIS_VERSION}\r\nchiral_version:{}\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:{}\r\nprocess_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{uptime_s}\r\nuptime_in_days:{}\r\n\r\n",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH,
            usize::BITS,
            std::process::id(),
            shared.tcp_port,
            uptime_s / 86_400,
        );
    }
    if wants("clients") {
        let _ = write!(
            text,
            "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:0\r\n\r\n",
            shared.client_count(),
            shared.settings.max_clients.load(Ordering::Relaxed),
        );
    }
    if wants("memory") {
        let rss = resident_bytes();
        let lazy_free = shared.db.lazy_free_stats();
        let _ = write!(
            text,
            "# Memory\r\nused_memory:{rss}\r\nused_memory_rss:{rss}\r\nused_memory_note:resident set size of the process\r\nlazyfree_pending_objects:{}\r\nlazyfreed_objects:{}\r\n\r\n",
            lazy_free.pending_objects,
            lazy_free.freed_objects,
        );
    }
    if wants("persistence") {
        let _ = write!(
            text,
            "# Persistence\r\nloading:0\r\naof_enabled:{}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\ndir:{}\r\n\r\n",
            u8::from(shared.dir.is_some()),
            u8::from(shared.bgsave_running.load(Ordering::Relaxed)),
            shared.last_save_unix(),
            shared
                .dir
                .as_ref()
                .map(|dir| dir.display().to_string())
                .unwrap_or_default(),
        );
    }
    if wants("stats") {
        let (connections, commands, rejected) = shared.stats.read();
        let tracked = shared.tracking.tracked_keys();
        let channels = shared.pubsub.channels(None).len();
        let patterns = shared.pubsub.patterns();
        let _ = write!(
            text,
            "# Stats\r\ntotal_connections_received:{connections}\r\ntotal_commands_processed:{commands}\r\nrejected_connections:{rejected}\r\npubsub_channels:{channels}\r\npubsub_patterns:{patterns}\r\ntracking_total_keys:{tracked}\r\n\r\n"
        );
    }
    if wants("keyspace") {
        let keys = shared.db.reader().len();
        text.push_str("# Keyspace\r\n");
        if keys > 0 {
            let _ = write!(text, "db0:keys={keys},expires=0,avg_ttl=0\r\n");
        }
    }
    Frame::Verbatim(text.into())
}

/// COMMAND and its subcommands.
pub(crate) fn command(query: CommandQuery) -> Frame {
    let named = |names: Vec<bytes::Bytes>| -> Vec<Option<&'static Spec>> {
        names.iter().map(|name| cmd::lookup(name)).collect()
    };
    match query {
        CommandQuery::All => Frame::Array(TABLE.iter().map(command_info).collect()),
        CommandQuery::Count => Frame::Integer(TABLE.len() as i64),
        CommandQuery::List => Frame::bulks(TABLE.iter().map(|spec| spec.name)),
        CommandQuery::Info(names) => Frame::Array(
            named(names)
                .into_iter()
                .map(|spec| spec.map_or(Frame::NullArray, command_info))
                .collect(),
        ),
        CommandQuery::Docs(names) => {
            let specs: Vec<&Spec> = if names.is_empty() {
                TABLE.iter().collect()
            } else {
                named(names).into_iter().flatten().collect()
            };
            Frame::Map(specs.into_iter().map(command_docs).collect())
        }
    }
}

fn command_info(spec: &Spec) -> Frame {
    Frame::Array(vec![
        Frame::bulk(spec.name),
        Frame::Integer(i64::from(spec.arity)),
        Frame::Set(spec.flags.iter().map(|flag| Frame::Simple(flag)).collect()),
        Frame::Integer(spec.first_key),
        Frame::Integer(spec.last_key),
        Frame::Integer(spec.key_step),
        Frame::Set(
            spec.categories
                .iter()
                .map(|category| Frame::bulk(format!("@{category}")))
                .collect(),
        ),
        Frame::Set(Vec::new()),
        Frame::Array(Vec::new()),
        Frame::Array(Vec::new()),
    ])
}

fn command_docs(spec: &Spec) -> (Frame, Frame) {
    let group = spec
        .categories
        .iter()
        .find(|c| {
            [
                "string",
                "list",
                "set",
                "hash",
                "keyspace",
                "connection",
                "transaction",
            ]
            .contains(c)
        })
        .map_or("server", |c| if *c == "keyspace" { "generic" } else { c });
    (
        Frame::bulk(spec.name),
        Frame::Map(vec![
            (
                Frame::bulk("summary"),
                Frame::bulk(format!("The {} command.", spec.name.to_uppercase())),
            ),
            (Frame::bulk("since"), Frame::bulk("1.0.0")),
            (Frame::bulk("group"), Frame::bulk(group)),
        ]),
    )
}

/// CONFIG GET, SET, RESETSTAT.
pub(crate) fn config(shared: &Arc<Shared>, request: ConfigRequest) -> Frame {
    match request {
        ConfigRequest::Get(patterns) => Frame::Map(
            SETTINGS
                .iter()
                .filter(|setting| {
                    patterns.iter().any(|pattern| {
                        chiral::glob_match(&pattern.to_ascii_lowercase(), setting.name.as_bytes())
                    })
                })
                .map(|setting| {
                    (
                        Frame::bulk(setting.name),
                        Frame::bulk((setting.get)(shared)),
                    )
                })
                .collect(),
        ),
        ConfigRequest::Set(pairs) => {
            // Check every name first, so that a bad one changes nothing.
            let mut changes = Vec::with_capacity(pairs.len());
            for (name, value) in &pairs {
                let name = String::from_utf8_lossy(name).to_ascii_lowercase();
                let Some(setting) = SETTINGS.iter().find(|setting| setting.name == name) else {
                    return Frame::error(format!(
                        "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
                    ));
                };
                let Some(set) = setting.set else {
                    return Frame::error(format!(
                        "ERR CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config"
                    ));
                };
                changes.push((
                    setting.name,
                    set,
                    String::from_utf8_lossy(value).into_owned(),
                ));
            }
            for (name, set, value) in changes {
                if let Err(reason) = set(shared, &value) {
                    return Frame::error(format!(
                        "ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}"
                    ));
                }
            }
            Frame::OK
        }
        ConfigRequest::ResetStat => {
            shared.stats.reset();
            Frame::OK
        }
    }
}

/// SAVE: a snapshot now; answers when it is on disk.
pub(crate) async fn save(shared: &Arc<Shared>) -> Frame {
    let db = shared.db.clone();
    match tokio::task::spawn_blocking(move || db.snapshot()).await {
        Ok(Ok(_)) => {
            shared.saved_now();
            Frame::OK
        }
        Ok(Err(error)) => Frame::error(format!("ERR {error}")),
        Err(error) => Frame::error(format!("ERR snapshot task failed: {error}")),
    }
}

/// BGSAVE: a snapshot in the background.
pub(crate) fn bgsave(shared: &Arc<Shared>) -> Frame {
    if shared.bgsave_running.swap(true, Ordering::AcqRel) {
        return Frame::error("ERR Background save already in progress");
    }
    let shared = Arc::clone(shared);
    tokio::task::spawn_blocking(move || {
        match shared.db.snapshot() {
            Ok(info) => {
                shared.saved_now();
                tracing::info!(path = %info.path.display(), "background save done");
            }
            Err(error) => tracing::warn!(%error, "background save failed"),
        }
        shared.bgsave_running.store(false, Ordering::Release);
    });
    Frame::Simple("Background saving started")
}

/// TIME: seconds and microseconds since the epoch.
pub(crate) fn time() -> Frame {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Frame::Array(vec![
        Frame::bulk(now.as_secs().to_string()),
        Frame::bulk(now.subsec_micros().to_string()),
    ])
}
