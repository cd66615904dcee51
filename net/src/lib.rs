//! Chiral over the network: `chiral-server` speaks RESP2 and RESP3, so redis-cli,
//! redis-benchmark and Redis client libraries work with it unchanged.
//!
//! The map of the code, from the socket inward: [`server`](Server) listens, admits
//! clients within `maxclients` and keeps their registry; `connection` reads requests
//! and writes replies within the buffer limits; `parse` reads RESP and inline
//! requests; `session` runs one client's commands (pipelined writes in one batch,
//! transactions, AUTH); `cmd` is the command table and one file per command family;
//! `admin` answers the server commands and `settings` names what CONFIG reaches; `acl` keeps
//! the users and what each may do; `tracking` remembers what clients cache and tells
//! them when it changes; `pubsub` keeps the subscriptions; `mailbox` queues each
//! connection's pushes; [`frame`] writes replies in either protocol;
//! `reply` words the engine's answers and errors as Redis does; [`config`] holds the
//! settings and limits. [`boutique`] parses the Boutique language that `chiral-cli`
//! runs. On the client side, [`Client`] is a plain blocking RESP3 client,
//! [`SmartClient`] answers reads of recently used keys from a local cache the server
//! keeps fresh, and [`reply_parse`] reads replies within limits.

/// Marks items as the server side, left out of the `--cfg loom` build (the smart
/// client's loom models): tokio has no sockets under loom.
macro_rules! server_side {
    ($($item:item)*) => { $( #[cfg(not(loom))] $item )* };
}

server_side! {
    mod acl;
    mod admin;
    mod args;
    pub(crate) mod cmd;
    mod connection;
    mod mailbox;
    mod pubsub;
    mod reply;
    mod server;
    mod session;
    mod settings;
    mod tracking;
    pub use server::{Server, ShutdownHandle, StartError};
}

pub mod boutique;
pub mod client;
pub mod config;
pub mod frame;
pub mod parse;
pub mod reply_parse;
mod smart;
mod stream;

pub use client::{Client, ClientError};
pub use config::{Config, LimitsConfig};
pub use reply_parse::{ReplyError, ReplyLimits, Value};
pub use smart::{
    Consistency, OnRejection, Rejection, SmartClient, SmartError, SmartOptions, SmartStats,
};
