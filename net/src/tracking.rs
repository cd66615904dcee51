//! Client-side caching, Redis style: `CLIENT TRACKING ON` makes the server remember
//! the keys a connection reads and send it an `invalidate` push (RESP3) when one of
//! them changes, so the client can drop its cached copy.
//!
//! Two modes, as in Redis. Default: each key the client reads is tracked for that
//! client until its next change, which is announced once (the client reads it again
//! to track it again). BCAST: every change of a key under one of the client's
//! prefixes (every key, with none) is announced; nothing is remembered per key.
//!
//! And Chiral's own, VALUES: the keys a client read most recently (a window of
//! `tracking-window-keys` per client) stay tracked, and each committed change of one
//! is pushed with the new value (or its deletion), the version and the time to live,
//! in commit order, so the client updates its cache instead of dropping it. A key that leaves the
//! window, or whose new value is not a string or is larger than
//! [`MAX_PUSHED_VALUE_BYTES`], is announced with a plain `invalidate`.
//!
//! Changes come from the engine's change feed, read by one thread while any client
//! tracks (the feed costs the commit thread nothing when nobody subscribes). A key
//! is tracked *before* its read runs, so a change committed after the read is always
//! announced (at worst a change just before the read is announced too: harmless). A
//! connection's pushes wait in its bounded mailbox (REDIRECT: another connection's);
//! if it fills, the client is told to flush everything (`invalidate` with a null
//! list) once it catches up, and the commit thread never waits. The tracked keys are bounded
//! (`tracking-table-max-keys`): past the bound, keys are dropped from the table and
//! announced as invalidated, as Redis does.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use chiral::{Change, Db, FeedError, Lsn};

use crate::mailbox::{Outlet, Push};

/// The largest value a VALUES push carries; a larger one is announced as an
/// invalidation (the client reads it again if it wants it). With the queue's bound,
/// this bounds what a slow client can make the server hold.
pub(crate) const MAX_PUSHED_VALUE_BYTES: usize = 64 * 1024;

/// How a client tracks, as CLIENT TRACKING ON set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Options {
    /// What is tracked and announced.
    pub(crate) mode: Mode,
    /// NOLOOP: the client's own writes are not announced to it.
    pub(crate) no_loop: bool,
}

/// What a client tracks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The keys it reads, until they change.
    Reads,
    /// The keys it read most recently, with their new values.
    Values,
    /// Every key under these prefixes (all keys if empty).
    Broadcast(Vec<Box<[u8]>>),
}

/// What a change made of a key.
enum New {
    /// A string value, small enough to push, and when it expires (Unix ms).
    Text(Bytes, Option<u64>),
    /// Deleted (or expired).
    Deleted,
    /// Anything else: a collection, a document, a large string.
    Other,
}

/// VALUES mode: the keys a client read, least recently read first.
#[derive(Default)]
struct Window {
    ticks: HashMap<Box<[u8]>, u64>,
    order: BTreeMap<u64, Box<[u8]>>,
    next_tick: u64,
}

impl Window {
    /// Marks `key` as read now.
    fn touch(&mut self, key: &[u8]) {
        let tick = self.next_tick;
        self.next_tick += 1;
        if let Some(old) = self.ticks.insert(key.into(), tick) {
            self.order.remove(&old);
        }
        self.order.insert(tick, key.into());
    }

    fn remove(&mut self, key: &[u8]) {
        if let Some(tick) = self.ticks.remove(key) {
            self.order.remove(&tick);
        }
    }

    /// The least recently read key, removed.
    fn pop_oldest(&mut self) -> Option<Box<[u8]>> {
        let (_, key) = self.order.pop_first()?;
        self.ticks.remove(&key);
        Some(key)
    }

    fn len(&self) -> usize {
        self.ticks.len()
    }
}

struct Client {
    mode: Mode,
    /// NOLOOP: its own writes are not announced to it.
    no_loop: bool,
    /// Where its pushes go: its own mailbox, or the REDIRECT target's.
    outlet: Outlet,
    /// With REDIRECT: its own mailbox, told when the target is gone.
    own: Option<Outlet>,
    /// VALUES mode: what it read recently.
    window: Window,
}

impl Client {
    /// Whether a change written by `origin` is left out for client `id`.
    fn skips(&self, id: u64, origin: Option<u64>) -> bool {
        self.no_loop && origin == Some(id)
    }

    fn send(&self, push: Push) {
        if !self.outlet.send(push)
            && let Some(own) = &self.own
        {
            own.send(Push::RedirectBroken);
        }
    }
}

/// A CHIRAL.SYNC waiting for the feed thread to catch up.
struct Sync {
    client: u64,
    token: Bytes,
    /// The last LSN committed before the sync was asked for.
    lsn: Lsn,
}

/// The most syncs one client may have waiting.
pub(crate) const MAX_SYNCS_PER_CLIENT: usize = 16;

#[derive(Default)]
struct Table {
    clients: HashMap<u64, Client>,
    /// Default and VALUES modes: each tracked key and the clients that read it.
    keys: HashMap<Box<[u8]>, Vec<u64>>,
    /// Syncs, in the order they were asked for.
    syncs: Vec<Sync>,
    /// Whether the feed thread runs.
    feeding: bool,
}

impl Table {
    /// Announces that `key` changed (to `new`, at `version`, written by `origin`) to
    /// everyone concerned: default-mode readers are told once and forgotten, VALUES
    /// readers get the new value and keep the key, BCAST clients under a matching
    /// prefix are told. A NOLOOP client is not told of its own write (a default-mode
    /// reader still forgets the key, as in Redis).
    fn changed(
        &mut self,
        key: &[u8],
        new: &New,
        change: (Lsn, Option<u64>),
        batch: &mut HashMap<u64, Vec<Box<[u8]>>>,
    ) {
        let (version, origin) = change;
        if let Some(readers) = self.keys.remove(key) {
            let mut kept = Vec::new();
            for id in readers {
                let Some(client) = self.clients.get_mut(&id) else {
                    continue;
                };
                if client.skips(id, origin) {
                    if client.mode == Mode::Values {
                        kept.push(id);
                    }
                    continue;
                }
                match (&client.mode, new) {
                    (Mode::Values, New::Text(value, expires_at_ms)) => {
                        client.send(Push::Value {
                            key: key.into(),
                            value: Some(value.clone()),
                            version,
                            expires_at_ms: *expires_at_ms,
                        });
                        kept.push(id);
                    }
                    (Mode::Values, New::Deleted) => {
                        client.send(Push::Value {
                            key: key.into(),
                            value: None,
                            version,
                            expires_at_ms: None,
                        });
                        kept.push(id);
                    }
                    (Mode::Values, New::Other) => {
                        client.window.remove(key);
                        batch.entry(id).or_default().push(key.into());
                    }
                    (Mode::Reads, _) => batch.entry(id).or_default().push(key.into()),
                    (Mode::Broadcast(_), _) => {}
                }
            }
            if !kept.is_empty() {
                self.keys.insert(key.into(), kept);
            }
        }
        for (id, client) in &self.clients {
            if let Mode::Broadcast(prefixes) = &client.mode
                && !client.skips(*id, origin)
                && (prefixes.is_empty() || prefixes.iter().any(|p| key.starts_with(p)))
            {
                batch.entry(*id).or_default().push(key.into());
            }
        }
    }

    /// Drops `key` from the table (it is evicted), announcing it to its readers.
    fn evict(&mut self, key: &[u8], batch: &mut HashMap<u64, Vec<Box<[u8]>>>) {
        for id in self.keys.remove(key).unwrap_or_default() {
            if let Some(client) = self.clients.get_mut(&id) {
                client.window.remove(key);
                batch.entry(id).or_default().push(key.into());
            }
        }
    }

    /// Answers the syncs the feed has caught up with: those at or before `lsn`
    /// (`None`: all of them).
    fn answer_syncs(&mut self, lsn: Option<Lsn>) {
        let clients = &self.clients;
        self.syncs.retain(|sync| {
            if lsn.is_some_and(|lsn| sync.lsn > lsn) {
                return true;
            }
            if let Some(client) = clients.get(&sync.client) {
                client.send(Push::Synced(sync.token.clone()));
            }
            false
        });
    }

    /// Tells every client to flush, and forgets every tracked key.
    fn flush_all(&mut self) {
        self.keys.clear();
        for client in self.clients.values_mut() {
            client.window = Window::default();
            client.send(Push::Invalidate(None));
        }
    }
}

/// Every tracking client and tracked key.
pub(crate) struct Tracking {
    table: Arc<Mutex<Table>>,
}

fn lock(table: &Mutex<Table>) -> MutexGuard<'_, Table> {
    table.lock().unwrap_or_else(|poison| poison.into_inner())
}

impl Tracking {
    /// No client tracks yet.
    pub(crate) fn new() -> Self {
        Tracking {
            table: Arc::new(Mutex::new(Table::default())),
        }
    }

    /// Starts (or changes) tracking for client `id`; its pushes go to `outlet`
    /// (with REDIRECT, another client's, and `own` is the client's own, told when
    /// that one is gone). The feed is subscribed before this returns, so every
    /// change committed from now on is seen.
    pub(crate) fn enable(
        &self,
        db: &Db,
        id: u64,
        options: Options,
        outlet: Outlet,
        own: Option<Outlet>,
    ) {
        let mut table = lock(&self.table);
        table.clients.insert(
            id,
            Client {
                mode: options.mode,
                no_loop: options.no_loop,
                outlet,
                own,
                window: Window::default(),
            },
        );
        if !table.feeding {
            table.feeding = true;
            let subscription = db.subscribe();
            let (table, db) = (Arc::clone(&self.table), db.clone());
            std::thread::Builder::new()
                .name("chiral-tracking".into())
                .spawn(move || feed(subscription, &table, &db))
                .expect("the tracking thread starts");
        }
    }

    /// Stops tracking for client `id` (OFF, RESET, disconnect). Its entries in the
    /// key table go when their keys change or are evicted (a walk of the whole table
    /// now would hold the lock for as long as it is big).
    pub(crate) fn disable(&self, id: u64) {
        let mut table = lock(&self.table);
        table.clients.remove(&id);
        table.syncs.retain(|sync| sync.client != id);
    }

    /// Tracks `keys` for client `id` (default and VALUES modes), about to be read.
    /// Past `limits.max_keys` tracked keys, others are dropped and announced; past
    /// `limits.window_keys` for a VALUES client, its least recently read ones are.
    pub(crate) fn track<'k>(&self, id: u64, keys: impl Iterator<Item = &'k [u8]>, limits: Bounds) {
        let mut table = lock(&self.table);
        let mut evicted = HashMap::new();
        let Some(client) = table.clients.get_mut(&id) else {
            return;
        };
        let values = match client.mode {
            Mode::Reads => false,
            Mode::Values => true,
            Mode::Broadcast(_) => return,
        };
        let keys: Vec<&[u8]> = keys.collect();
        if values {
            for key in &keys {
                client.window.touch(key);
            }
            let mut left = Vec::new();
            while client.window.len() > limits.window_keys.max(1) {
                match client.window.pop_oldest() {
                    Some(key) => left.push(key),
                    None => break,
                }
            }
            for key in left {
                if let Some(readers) = table.keys.get_mut(&key) {
                    readers.retain(|reader| *reader != id);
                    if readers.is_empty() {
                        table.keys.remove(&key);
                    }
                }
                evicted.entry(id).or_insert_with(Vec::new).push(key);
            }
        }
        for key in keys {
            if !table.keys.contains_key(key) {
                // Room is made before the key goes in, so the key being read is not
                // the one evicted.
                while table.keys.len() >= limits.max_keys.max(1) {
                    let Some(old) = table.keys.keys().next().cloned() else {
                        break;
                    };
                    table.evict(&old, &mut evicted);
                }
            }
            let readers = table.keys.entry(key.into()).or_default();
            if !readers.contains(&id) {
                readers.push(id);
            }
        }
        send_all(&table, evicted);
    }

    /// Registers a CHIRAL.SYNC of client `id`: once the feed has passed every change
    /// up to `lsn` (the last commit before the sync arrived), the client is pushed
    /// `token`, behind the pushes of those changes. `false` if the client does not
    /// track or already has [`MAX_SYNCS_PER_CLIENT`] syncs waiting.
    pub(crate) fn sync(&self, id: u64, token: Bytes, lsn: Lsn) -> bool {
        let mut table = lock(&self.table);
        if !table.clients.contains_key(&id)
            || table.syncs.iter().filter(|sync| sync.client == id).count() >= MAX_SYNCS_PER_CLIENT
        {
            return false;
        }
        table.syncs.push(Sync {
            client: id,
            token,
            lsn,
        });
        true
    }

    /// How many keys are tracked (INFO).
    pub(crate) fn tracked_keys(&self) -> usize {
        lock(&self.table).keys.len()
    }
}

/// The bounds `track` keeps.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    /// Most keys tracked in all (`tracking-table-max-keys`).
    pub(crate) max_keys: usize,
    /// Most keys in one VALUES client's window (`tracking-window-keys`).
    pub(crate) window_keys: usize,
}

/// Sends each client its keys, one push per client.
fn send_all(table: &Table, batch: HashMap<u64, Vec<Box<[u8]>>>) {
    for (id, keys) in batch {
        if let Some(client) = table.clients.get(&id) {
            client.send(Push::Invalidate(Some(keys)));
        }
    }
}

/// How long the feed thread waits for a batch before it looks again at whether
/// anyone tracks and answers the syncs waiting (an empty feed has nothing more for
/// them). This is how late a sync is answered when nothing is written.
const FEED_POLL_MS: u64 = 5;

/// The feed thread: turns committed changes into invalidations until no client
/// tracks (then it unsubscribes, so the commit thread stops building the feed).
///
/// Syncs: a sync at LSN L is registered after L's batch was handed to the feed (the
/// session waits for an empty commit first), so it is answered after the batch at
/// or past L is turned into pushes, or when the feed is found empty (L's batch was
/// then handled already, or was committed before anyone subscribed).
fn feed(mut subscription: chiral::Subscription, table: &Mutex<Table>, db: &Db) {
    let poll = std::time::Duration::from_millis(FEED_POLL_MS);
    loop {
        match subscription.recv_timeout(poll) {
            Ok(Some(batch)) => {
                let mut table = lock(table);
                let mut pushes = HashMap::new();
                for change in &batch.changes {
                    match change {
                        Change::Flush => {
                            pushes.clear();
                            table.flush_all();
                        }
                        Change::Put(record) => {
                            let new = match record.str_form() {
                                Some(text) if text.len() <= MAX_PUSHED_VALUE_BYTES => {
                                    New::Text(Bytes::copy_from_slice(&text), record.expires_at_ms())
                                }
                                _ => New::Other,
                            };
                            let change = (batch.lsn, batch.origin);
                            table.changed(record.key(), &new, change, &mut pushes);
                        }
                        Change::Delete(key) => {
                            let change = (batch.lsn, batch.origin);
                            table.changed(key, &New::Deleted, change, &mut pushes);
                        }
                    }
                }
                send_all(&table, pushes);
                table.answer_syncs(Some(batch.lsn));
            }
            Ok(None) => lock(table).answer_syncs(None),
            Err(FeedError::Lagged) => {
                // Changes were missed: the feed starts again, then everyone flushes
                // (in that order, so no change falls between the two).
                subscription = db.subscribe();
                let mut table = lock(table);
                table.flush_all();
                table.answer_syncs(None);
                continue;
            }
            Err(FeedError::Closed) => {
                lock(table).feeding = false;
                return;
            }
        }
        let mut table = lock(table);
        if table.clients.is_empty() {
            table.feeding = false;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mailbox::{Delivery, MAILBOX_MESSAGES, Mailboxes};

    fn options(mode: Mode) -> Options {
        Options {
            mode,
            no_loop: false,
        }
    }

    /// A client whose mailbox fills is told to flush everything, once, and what was
    /// queued before is dropped (the flush covers it); the commit thread never waits.
    #[test]
    fn a_client_that_falls_behind_is_told_to_flush() {
        let db = Db::open_in_memory(chiral::Options::default()).unwrap();
        let tracking = Tracking::new();
        let mailboxes = Mailboxes::default();
        let mut mailbox = mailboxes.open(1);
        let outlet = mailboxes.outlet(1).unwrap();
        tracking.enable(&db, 1, options(Mode::Broadcast(Vec::new())), outlet, None);
        for i in 0..MAILBOX_MESSAGES + 10 {
            db.set(format!("k{i}").as_bytes(), b"v").unwrap();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !mailbox.has_overflowed() {
            assert!(
                std::time::Instant::now() < deadline,
                "the queue never filled"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            assert_eq!(mailbox.next().await, Delivery::Overflowed);
            // Pushes go on after the flush: a later change arrives (behind, at most,
            // the rest of the earlier ones, which the feed thread may still be sending).
            db.set(b"after", b"v").unwrap();
            loop {
                match mailbox.next().await {
                    Delivery::Push(Push::Invalidate(Some(keys)))
                        if keys == [Box::from(&b"after"[..])] =>
                    {
                        break;
                    }
                    Delivery::Push(Push::Invalidate(Some(keys))) => {
                        assert!(keys.iter().all(|k| k.starts_with(b"k")));
                    }
                    other => assert_eq!(other, Delivery::Overflowed, "a broadcast client"),
                }
            }
        });
        tracking.disable(1);
    }

    #[test]
    fn the_feed_thread_stops_when_nobody_tracks() {
        let db = Db::open_in_memory(chiral::Options::default()).unwrap();
        let tracking = Tracking::new();
        let mailboxes = Mailboxes::default();
        let _mailbox = mailboxes.open(1);
        let outlet = mailboxes.outlet(1).unwrap();
        tracking.enable(&db, 1, options(Mode::Reads), outlet.clone(), None);
        assert!(lock(&tracking.table).feeding);
        tracking.disable(1);
        db.set(b"k", b"v").unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while lock(&tracking.table).feeding {
            assert!(
                std::time::Instant::now() < deadline,
                "the feed thread never stopped"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // Tracking again starts it again.
        tracking.enable(&db, 2, options(Mode::Reads), outlet, None);
        assert!(lock(&tracking.table).feeding);
    }
}
