//! One client's session: its protocol, authentication, transaction and the writes
//! of its pipeline waiting to go to the engine as one batch.
//!
//! Replies leave in request order. Consecutive writes are held in `pending` and
//! submitted together when something else comes (a read, a control command, the end
//! of what the client has sent so far): one batch, one commit-thread round trip, and
//! the session's next read sees them (the batch is acknowledged `Visible` first).

mod pushes;

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use chiral::{Ack, ByteString, Batch, Capture, OnError, Precondition, Reader, Receipt, Reply, WriteError};

use crate::acl::User;
use crate::admin;
use crate::cmd::control::{AclRequest, Client, Control};
use crate::cmd::{self, Command, Read, Shape, Spec, Write};
use crate::frame::{Frame, Protocol};
use crate::mailbox::Mailbox;
use crate::reply::{from_op_error, from_reply, from_write_error};
use crate::server::{ClientHandle, Shared};
pub(crate) use pushes::Outgoing;

/// Most operations held in one pipeline batch before it is submitted.
const MAX_PENDING_OPS: usize = 4096;
/// How many times EXEC retries when a key its queued reads looked at changed before
/// its writes committed.
const EXEC_RETRIES: usize = 64;

/// Whether the connection goes on after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Keep reading requests.
    Continue,
    /// Send what is written, then close (QUIT).
    Close,
    /// Send what is written, then close once the server, shutting down, tells this
    /// connection to go (SHUTDOWN).
    CloseWhenKilled,
}

/// What one batch does, in order: a write, or a capture of keys for a read queued
/// between writes (MULTI).
enum Step {
    Write(Write),
    Capture(Vec<ByteString>),
}

/// A command queued by MULTI.
enum Queued {
    Read(Read),
    Write(Write),
    Control(Control),
    /// A command whose arguments did not parse: its error is its reply in EXEC's,
    /// and the others run (Redis checks a command's arguments when it runs; only
    /// an unknown command, a wrong number of arguments or a refusal aborts EXEC).
    Failed(Frame),
}

/// One connection's state.
pub(crate) struct Session {
    shared: Arc<Shared>,
    client: Arc<ClientHandle>,
    reader: Reader,
    protocol: Protocol,
    /// Who the client is; `None` until it authenticates (when the default user
    /// needs a password).
    user: Option<Arc<User>>,
    /// The ACL generation `user` was read at.
    user_generation: u64,
    /// Writes not yet submitted, in order.
    pending: Vec<Write>,
    pending_ops: usize,
    /// Inside MULTI: the queued commands, and whether one was refused while queueing.
    multi: Option<(Vec<Queued>, bool)>,
    /// WATCHed keys with the version each had when watched.
    watched: Vec<(ByteString, u64)>,
    /// Its pushes: invalidations, values, Pub/Sub messages.
    mailbox: Mailbox,
    /// With CLIENT TRACKING ON: which reads are tracked.
    tracking: Option<TrackReads>,
    /// Whether its invalidations go to another client (REDIRECT).
    tracking_redirected: bool,
    /// SUBSCRIBEd channels.
    channels: BTreeSet<Bytes>,
    /// PSUBSCRIBEd patterns.
    patterns: BTreeSet<Bytes>,
    /// CLIENT CACHING's answer, for the command after it only.
    caching_next: Option<bool>,
    /// The last command run (the client's handle has heard its name): a pipeline
    /// most often repeats one command, whose name then needs no table lookup.
    last_command: Option<&'static cmd::Spec>,
}

/// Which reads a tracking client's cache holds (CLIENT TRACKING's OPTIN/OPTOUT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TrackReads {
    /// Every read (default mode).
    All,
    /// Reads right after CLIENT CACHING YES.
    OptIn,
    /// Reads except right after CLIENT CACHING NO.
    OptOut,
    /// None: BCAST mode announces by prefix.
    None,
}

impl Session {
    /// A new session for `client`.
    pub(crate) fn new(shared: Arc<Shared>, client: Arc<ClientHandle>) -> Self {
        let user_generation = shared.acl.generation();
        let user = shared.acl.default_needs_no_auth();
        Session {
            mailbox: shared.mailboxes.open(client.id),
            channels: BTreeSet::new(),
            patterns: BTreeSet::new(),
            reader: shared.db.reader(),
            shared,
            client,
            protocol: Protocol::Resp2,
            user,
            user_generation,
            pending: Vec::new(),
            pending_ops: 0,
            multi: None,
            watched: Vec::new(),
            tracking: None,
            tracking_redirected: false,
            caching_next: None,
            last_command: None,
        }
    }

    /// The protocol replies are written in.
    pub(crate) fn protocol(&self) -> Protocol {
        self.protocol
    }

    fn reply(&self, frame: &Frame, out: &mut BytesMut) {
        frame.encode(self.protocol, out);
    }

    /// A hint before `requests` run one by one: the key each names first is fetched,
    /// all together, so that the cache misses of their lookups overlap (see
    /// [`Reader::prefetch`]). A read looks its key up right after; a write does on
    /// the thread that commits it, most often this one (flat combining), in its
    /// staging lookup (INCR) or when applying it (SET). Worth it only for a pipeline.
    /// The first argument is taken as the key without looking the command up (as
    /// `handle` will): for the few commands whose first argument is not a key, the
    /// hint is wasted, never wrong.
    pub(crate) fn prefetch(&self, requests: &[Vec<Bytes>]) {
        if requests.len() < 2 {
            return;
        }
        let keys = requests.iter().filter_map(|args| args.get(1).map(|key| &key[..]));
        self.reader.prefetch(keys);
    }

    /// Handles one request (`args`, name first), appending its reply to `out` (or
    /// holding it until the pipeline's writes are submitted).
    pub(crate) async fn handle(&mut self, args: Vec<Bytes>, out: &mut BytesMut) -> Flow {
        self.shared.stats.command();
        let spec = match self.last_command {
            Some(last) if args[0].eq_ignore_ascii_case(last.name.as_bytes()) => last,
            _ => {
                let Some(spec) = cmd::lookup(&args[0]) else {
                    self.flush(out).await;
                    self.refuse_in_multi();
                    self.reply(&cmd::unknown_command(&args), out);
                    return Flow::Continue;
                };
                self.last_command = Some(spec);
                self.client.set_last_command(spec.name);
                spec
            }
        };
        let caching = self.caching_next.take();
        if let Some(refusal) = self
            .refusal_while_subscribed(spec.name)
            .or_else(|| self.permission(spec, &args))
        {
            self.flush(out).await;
            self.refuse_in_multi();
            self.reply(&refusal, out);
            return Flow::Continue;
        }
        let arg_count = args.len();
        let command = match cmd::parse(spec, args) {
            Ok(command) => command,
            Err(error) => {
                self.flush(out).await;
                match &mut self.multi {
                    // Parsing checked the arity first: asked again only on failure.
                    Some((commands, _)) if spec.arity_allows(arg_count) => {
                        commands.push(Queued::Failed(error));
                        self.reply(&Frame::Simple("QUEUED"), out);
                    }
                    _ => {
                        self.refuse_in_multi();
                        self.reply(&error, out);
                    }
                }
                return Flow::Continue;
            }
        };
        if self.multi.is_some() {
            return self.queue(command, out).await;
        }
        match command {
            Command::Write(write) => {
                self.pending_ops += write.ops.len();
                self.pending.push(write);
                if self.pending_ops >= MAX_PENDING_OPS {
                    self.flush(out).await;
                }
                Flow::Continue
            }
            Command::Read(read) => {
                self.flush(out).await;
                self.track(&read, caching);
                let frame = read.run(&self.reader);
                self.reply(&frame, out);
                Flow::Continue
            }
            Command::Control(control) => {
                self.flush(out).await;
                self.run_control(control, out).await
            }
        }
    }

    /// Why the client may not run `spec` with `args`, if it may not: it has not
    /// authenticated, or its user lacks the command or one of its keys. AUTH, HELLO,
    /// QUIT and RESET are open to everyone.
    fn permission(&mut self, spec: &'static Spec, args: &[Bytes]) -> Option<Frame> {
        if spec.has("noauth") {
            return None;
        }
        let generation = self.shared.acl.generation();
        if generation != self.user_generation {
            // A user changed: take the current version of ours (gone or off: out).
            self.user_generation = generation;
            self.user = self
                .user
                .take()
                .and_then(|user| self.shared.acl.user(&user.name))
                .filter(|user| user.enabled);
        }
        let Some(user) = &self.user else {
            return Some(Frame::error("NOAUTH Authentication required."));
        };
        let sub = args.get(1).map(|arg| &arg[..]);
        if !user.may_run(spec, sub) {
            // Redis names the subcommand of a command that has them.
            let command = match sub {
                Some(sub) if crate::acl::has_subcommands(spec.name) => {
                    format!(
                        "{}|{}",
                        spec.name,
                        String::from_utf8_lossy(sub).to_lowercase()
                    )
                }
                _ => spec.name.to_string(),
            };
            return Some(Frame::error(format!(
                "NOPERM User {} has no permissions to run the '{command}' command",
                user.name
            )));
        }
        if !spec.keys(args).all(|key| user.may_access(&key)) {
            return Some(Frame::error("NOPERM No permissions to access a key"));
        }
        None
    }

    /// Submits the pending writes as one batch and writes their replies.
    pub(crate) async fn flush(&mut self, out: &mut BytesMut) {
        if self.pending.is_empty() {
            return;
        }
        let writes = std::mem::take(&mut self.pending);
        self.pending_ops = 0;
        let count = writes.len();
        let frames = match self.apply(writes, Vec::new()).await {
            Ok(frames) => frames,
            Err(Refused::Error(error)) => vec![from_write_error(&error); count],
            Err(Refused::Precondition(_)) => {
                unreachable!("pipelined writes carry no preconditions")
            }
        };
        for frame in frames {
            self.reply(&frame, out);
        }
    }

    /// Applies `writes` in one batch under `preconditions`: one reply per write, or
    /// why the batch was refused as a whole.
    async fn apply(
        &mut self,
        writes: Vec<Write>,
        preconditions: Vec<Precondition>,
    ) -> Result<Vec<Frame>, Refused> {
        let steps = writes.into_iter().map(Step::Write).collect();
        Ok(self.apply_steps(steps, preconditions).await?.0)
    }

    /// Commits the writes of `steps` in one batch, capturing keys where the steps
    /// ask: the writes' replies, and the captures in order.
    async fn apply_steps(
        &mut self,
        steps: Vec<Step>,
        preconditions: Vec<Precondition>,
    ) -> Result<(Vec<Frame>, Vec<Capture>), Refused> {
        let ops = steps
            .iter()
            .map(|step| match step {
                Step::Write(write) => write.ops.len(),
                Step::Capture(_) => 0,
            })
            .sum();
        // Tagged with the client, so tracking can leave out its own writes (NOLOOP).
        let mut batch = Batch::with_capacity(ops)
            .on_error(OnError::Continue)
            .origin(self.client.id);
        let mut shapes = Vec::with_capacity(steps.len());
        for step in steps {
            match step {
                Step::Write(write) => {
                    shapes.push((write.shape, write.ops.len()));
                    for op in write.ops {
                        batch.push(op);
                    }
                }
                Step::Capture(keys) => {
                    batch.capture(keys);
                }
            }
        }
        for precondition in preconditions {
            batch = batch.when(precondition);
        }
        match submit(Arc::clone(&self.shared), batch, self.shared.ack).await {
            Ok(Receipt::Committed(commit)) => {
                let mut replies = commit.replies.into_iter();
                let frames = shapes
                    .into_iter()
                    .map(|(shape, count)| shaped(shape, replies.by_ref().take(count).collect()))
                    .collect();
                Ok((frames, commit.captures))
            }
            Ok(Receipt::Queued) => unreachable!("the server never writes with Ack::Eventual"),
            Err(WriteError::PreconditionFailed { index }) => Err(Refused::Precondition(index)),
            Err(error) => Err(Refused::Error(error)),
        }
    }

    /// A refusal while queueing a transaction makes EXEC abort it.
    fn refuse_in_multi(&mut self) {
        if let Some((_, refused)) = &mut self.multi {
            *refused = true;
        }
    }

    async fn queue(&mut self, command: Command, out: &mut BytesMut) -> Flow {
        let queued = match command {
            Command::Control(Control::Exec) => {
                let (frame, flow) = self.exec().await;
                self.reply(&frame, out);
                return flow;
            }
            Command::Control(Control::Discard) => {
                self.multi = None;
                self.watched.clear();
                self.reply(&Frame::OK, out);
                return Flow::Continue;
            }
            Command::Control(Control::Multi) => {
                self.reply(&Frame::error("ERR MULTI calls can not be nested"), out);
                return Flow::Continue;
            }
            Command::Control(Control::Watch(_)) => {
                self.refuse_in_multi();
                self.reply(&Frame::error("ERR WATCH inside MULTI is not allowed"), out);
                return Flow::Continue;
            }
            Command::Control(control @ (Control::Quit | Control::Reset | Control::Shutdown)) => {
                return self.run_control(control, out).await;
            }
            Command::Control(Control::Subscribe(..) | Control::Unsubscribe(..)) => {
                self.refuse_in_multi();
                self.reply(
                    &Frame::error("ERR Command not allowed inside a transaction"),
                    out,
                );
                return Flow::Continue;
            }
            Command::Read(read) => Queued::Read(read),
            Command::Write(write) => Queued::Write(write),
            Command::Control(control) => Queued::Control(control),
        };
        if let Some((commands, _)) = &mut self.multi {
            commands.push(queued);
        }
        self.reply(&Frame::Simple("QUEUED"), out);
        Flow::Continue
    }

    /// EXEC: the queued writes commit in one batch, guarded by the WATCHed keys'
    /// versions. Reads queued before the first write are answered from the reader
    /// and their keys' versions join the guard: if one changes before the batch
    /// commits, the transaction is read and tried again. A read queued after a
    /// write has its keys captured inside the batch at its place among the writes,
    /// and is answered from those records: it sees the transaction's writes before
    /// it and nothing else, as in Redis. (Reads of the whole keyspace or of
    /// documents after a write are answered once the batch is visible.)
    /// The flow says whether a queued command (CLIENT KILL of this client) closes
    /// the connection once the reply is sent.
    async fn exec(&mut self) -> (Frame, Flow) {
        let Some((mut commands, refused)) = self.multi.take() else {
            return (Frame::error("ERR EXEC without MULTI"), Flow::Continue);
        };
        let watched = std::mem::take(&mut self.watched);
        if refused {
            return (
                Frame::error("EXECABORT Transaction discarded because of previous errors."),
                Flow::Continue,
            );
        }
        match self.exec_queued(&mut commands, &watched).await {
            Ok((frames, flow)) => (Frame::Array(frames), flow),
            Err(frame) => (frame, Flow::Continue),
        }
    }

    /// Runs the queued commands of an EXEC: their replies, or the one reply that
    /// replaces them all (an aborted or refused transaction).
    async fn exec_queued(
        &mut self,
        commands: &mut Vec<Queued>,
        watched: &[(ByteString, u64)],
    ) -> Result<(Vec<Frame>, Flow), Frame> {
        let first_write = commands
            .iter()
            .position(|queued| matches!(queued, Queued::Write(_)))
            .unwrap_or(commands.len());
        let mut replies: Vec<Option<Frame>> = vec![None; commands.len()];
        if first_write == commands.len() {
            // Nothing to commit; a changed WATCHed key still aborts.
            if self.watched_changed(watched) {
                return Err(Frame::NullArray);
            }
        } else {
            let mut attempt = 0;
            loop {
                let mut guard: Vec<Precondition> = watched
                    .iter()
                    .map(|(key, version)| Precondition::Version {
                        key: key.clone(),
                        version: *version,
                    })
                    .collect();
                for (at, queued) in commands[..first_write].iter().enumerate() {
                    if let Queued::Read(read) = queued {
                        for key in read.keys() {
                            if let Ok(version) = self.reader.version(key) {
                                guard.push(Precondition::Version {
                                    key: key.into(),
                                    version,
                                });
                            }
                        }
                        self.track(read, Some(true));
                        replies[at] = Some(read.run(&self.reader));
                    }
                }
                // Only a guard from a queued read can send the transaction round
                // again; without one the writes are moved into the batch, not copied.
                let may_retry = guard.len() > watched.len();
                let mut steps = Vec::new();
                let (mut written, mut captured) = (Vec::new(), Vec::new());
                for (at, queued) in commands.iter_mut().enumerate().skip(first_write) {
                    match queued {
                        Queued::Write(write) => {
                            written.push(at);
                            steps.push(Step::Write(if may_retry {
                                write.clone()
                            } else {
                                Write::shaped(std::mem::take(&mut write.ops), write.shape)
                            }));
                        }
                        Queued::Read(read) => {
                            if let Some(keys) = read.only_keys() {
                                captured.push(at);
                                steps.push(Step::Capture(
                                    keys.into_iter().map(ByteString::new).collect(),
                                ));
                            }
                        }
                        Queued::Control(_) | Queued::Failed(_) => {}
                    }
                }
                match self.apply_steps(steps, guard).await {
                    Ok((frames, captures)) => {
                        for (at, frame) in written.into_iter().zip(frames) {
                            replies[at] = Some(frame);
                        }
                        for (at, capture) in captured.into_iter().zip(captures) {
                            let Queued::Read(read) = &commands[at] else {
                                continue;
                            };
                            self.track(read, Some(true));
                            replies[at] = Some(match capture {
                                Ok(records) => read.run(&self.reader.of_records(records)),
                                Err(error) => crate::reply::from_op_error(&error),
                            });
                        }
                        break;
                    }
                    Err(Refused::Precondition(index))
                        if index >= watched.len() && attempt < EXEC_RETRIES =>
                    {
                        attempt += 1;
                    }
                    Err(Refused::Precondition(_)) => return Err(Frame::NullArray),
                    Err(Refused::Error(error)) => return Err(from_write_error(&error)),
                }
            }
        }
        let mut frames = Vec::with_capacity(replies.len());
        let mut flow = Flow::Continue;
        for (reply, queued) in replies.into_iter().zip(commands.drain(..)) {
            frames.push(match (reply, queued) {
                (Some(frame), _) => frame,
                (None, Queued::Read(read)) => {
                    self.track(&read, Some(true));
                    read.run(&self.reader)
                }
                (None, Queued::Control(control)) => {
                    let (frame, then) = self.control(control).await;
                    if then == Flow::Close {
                        flow = Flow::Close;
                    }
                    frame
                }
                (None, Queued::Failed(error)) => error,
                (None, Queued::Write(_)) => unreachable!("every write has its reply"),
            });
        }
        Ok((frames, flow))
    }

    /// Whether a WATCHed key was written since it was watched.
    fn watched_changed(&self, watched: &[(ByteString, u64)]) -> bool {
        watched
            .iter()
            .any(|(key, version)| self.reader.version(key) != Ok(*version))
    }

    async fn run_control(&mut self, control: Control, out: &mut BytesMut) -> Flow {
        match control {
            Control::Shutdown => {
                // Redis closes the connection without a reply: clients expect that.
                // It closes once the server has stopped listening and tells every
                // connection to go, so whoever sees it close cannot connect again
                // to a server that is still closing its database.
                self.shared.shutdown();
                return Flow::CloseWhenKilled;
            }
            // One reply per channel or pattern.
            Control::Subscribe(kind, names) => {
                self.subscribe(kind, names, out);
                return Flow::Continue;
            }
            Control::Unsubscribe(kind, names) => {
                self.unsubscribe(kind, names, out);
                return Flow::Continue;
            }
            _ => {}
        }
        let (frame, flow) = self.control(control).await;
        self.reply(&frame, out);
        flow
    }

    /// Carries out a control command: its reply, and whether the connection goes on.
    async fn control(&mut self, control: Control) -> (Frame, Flow) {
        let frame = match control {
            Control::Ping(message) => self.pong(message),
            Control::Echo(message) => Frame::Bulk(message),
            Control::Quit => return (Frame::OK, Flow::Close),
            Control::Hello {
                protocol,
                auth,
                name,
            } => self.hello(protocol, auth, name),
            Control::Auth { user, password } => self.auth(user.as_deref(), &password),
            Control::Select(0) => Frame::OK,
            Control::Select(_) => Frame::error("ERR DB index is out of range"),
            Control::Reset => {
                self.stop_tracking();
                self.unsubscribe_all();
                self.multi = None;
                self.watched.clear();
                self.protocol = Protocol::Resp2;
                self.user = self.shared.acl.default_needs_no_auth();
                self.client.set_user("default");
                self.client.set_name(None);
                self.client.set_resp(2);
                Frame::Simple("RESET")
            }
            Control::Client(Client::Kill { filter, old_form }) => {
                let (killed, me) = self.shared.kill(&filter, self.client.id);
                let frame = match (old_form, killed) {
                    (true, 0) => Frame::error("ERR No such client"),
                    (true, _) => Frame::OK,
                    (false, n) => Frame::Integer(n as i64),
                };
                // A client that kills itself hears the reply first, as in Redis.
                return (frame, if me { Flow::Close } else { Flow::Continue });
            }
            Control::Client(client) => self.client_command(client),
            Control::Multi => {
                self.multi = Some((Vec::new(), false));
                Frame::OK
            }
            Control::Exec => Frame::error("ERR EXEC without MULTI"),
            Control::Discard => Frame::error("ERR DISCARD without MULTI"),
            Control::Watch(keys) => self.watch(keys),
            Control::Unwatch => {
                self.watched.clear();
                Frame::OK
            }
            Control::Info(sections) => admin::info(&self.shared, &sections),
            Control::Command(query) => admin::command(query),
            Control::Config(request) => admin::config(&self.shared, request),
            Control::Save => admin::save(&self.shared).await,
            Control::BgSave => admin::bgsave(&self.shared),
            Control::LastSave => Frame::Integer(self.shared.last_save_unix() as i64),
            Control::Time => admin::time(),
            Control::Shutdown => {
                self.shared.shutdown();
                return (Frame::OK, Flow::Close);
            }
            Control::Acl(request) => self.acl(request),
            Control::Sync(token) => self.sync(token).await,
            Control::Dataset => Frame::bulk(format!("{:016x}", self.shared.db.dataset_id())),
            Control::Publish(channel, payload) => self.publish(&channel, &payload),
            Control::PubSub(query) => self.pubsub_query(query),
            Control::Subscribe(..) | Control::Unsubscribe(..) => {
                unreachable!("answered by run_control")
            }
        };
        (frame, Flow::Continue)
    }

    /// CHIRAL.SYNC: an empty commit makes sure every change visible now has reached
    /// the change feed; the tracking thread pushes `token` once it has pushed them.
    async fn sync(&mut self, token: Bytes) -> Frame {
        if self.tracking.is_none() {
            return Frame::error("ERR CHIRAL.SYNC needs CLIENT TRACKING on");
        }
        let lsn = match submit(Arc::clone(&self.shared), Batch::new(), Ack::Visible).await {
            Ok(Receipt::Committed(commit)) => commit.lsn,
            Ok(Receipt::Queued) => unreachable!("a visible write is not queued"),
            Err(error) => return from_write_error(&error),
        };
        if self.shared.tracking.sync(self.client.id, token, lsn) {
            Frame::OK
        } else {
            Frame::error(format!(
                "ERR too many CHIRAL.SYNC in flight (at most {})",
                crate::tracking::MAX_SYNCS_PER_CLIENT
            ))
        }
    }

    fn watch(&mut self, keys: Vec<ByteString>) -> Frame {
        for key in keys {
            match self.reader.version(&key) {
                Ok(version) => self.watched.push((key, version)),
                Err(error) => return from_op_error(&error),
            }
        }
        Frame::OK
    }

    fn hello(
        &mut self,
        protocol: Option<i64>,
        auth: Option<(Bytes, Bytes)>,
        name: Option<Bytes>,
    ) -> Frame {
        let protocol = match protocol {
            None => self.protocol,
            Some(2) => Protocol::Resp2,
            Some(3) => Protocol::Resp3,
            Some(_) => return Frame::error("NOPROTO unsupported protocol version"),
        };
        if let Some((user, password)) = auth {
            let answer = self.auth(Some(&user), &password);
            if answer.is_error() {
                return answer;
            }
        }
        if self.user.is_none() {
            return Frame::error(
                "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
            );
        }
        if let Some(name) = name {
            self.client.set_name(Some(name));
        }
        if protocol != Protocol::Resp3 && !self.tracking_redirected {
            // Its own invalidations are RESP3 pushes (redirected ones go elsewhere).
            self.stop_tracking();
        }
        self.protocol = protocol;
        self.client.set_resp(protocol.number());
        admin::hello(self.client.id, protocol)
    }

    fn auth(&mut self, user: Option<&[u8]>, password: &[u8]) -> Frame {
        let wrong =
            || Frame::error("WRONGPASS invalid username-password pair or user is disabled.");
        let name = user.map_or(
            std::borrow::Cow::Borrowed("default"),
            String::from_utf8_lossy,
        );
        let Some(found) = self.shared.acl.user(&name) else {
            return wrong();
        };
        if user.is_none() && found.nopass {
            return Frame::error(
                "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
            );
        }
        // The hashes are compared in constant time (`User::password_matches`).
        if !(found.enabled && found.password_matches(password)) {
            return wrong();
        }
        self.client.set_user(&found.name);
        self.user_generation = self.shared.acl.generation();
        self.user = Some(found);
        Frame::OK
    }

    fn acl(&mut self, request: AclRequest) -> Frame {
        let acl = &self.shared.acl;
        match request {
            AclRequest::SetUser(name, rules) => match acl.set_user(&name, &rules) {
                Ok(()) => Frame::OK,
                Err(reason) => Frame::error(format!("ERR {reason}")),
            },
            AclRequest::DelUser(names) => match acl.delete_users(&names) {
                Ok(removed) => Frame::Integer(removed as i64),
                Err(reason) => Frame::error(format!("ERR {reason}")),
            },
            AclRequest::List => Frame::bulks(acl.list()),
            AclRequest::Users => Frame::bulks(acl.names()),
            AclRequest::WhoAmI => Frame::bulk(
                self.user
                    .as_ref()
                    .map_or_else(String::new, |u| u.name.clone()),
            ),
            AclRequest::GetUser(name) => match acl.user(&name) {
                None => Frame::Null,
                Some(user) => Frame::Map(
                    user.fields()
                        .into_iter()
                        .map(|(field, values)| (Frame::bulk(field), Frame::bulks(values)))
                        .collect(),
                ),
            },
            AclRequest::Cat => Frame::bulks(crate::acl::categories()),
        }
    }

    fn client_command(&mut self, client: Client) -> Frame {
        match client {
            Client::Id => Frame::Integer(self.client.id as i64),
            Client::SetName(name) => {
                self.client.set_name((!name.is_empty()).then_some(name));
                Frame::OK
            }
            Client::GetName => Frame::bulk_or_null(self.client.name()),
            Client::List => Frame::Verbatim(self.shared.client_list().into()),
            Client::Info => Frame::Verbatim(self.client.describe().into()),
            Client::Kill { .. } => unreachable!("CLIENT KILL is answered by control"),
            Client::Accepted => Frame::OK,
            Client::Tracking(request) => self.set_tracking(request),
            Client::Caching(yes) => match self.tracking {
                Some(TrackReads::OptIn | TrackReads::OptOut) => {
                    self.caching_next = Some(yes);
                    Frame::OK
                }
                _ => Frame::error(
                    "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
                ),
            },
        }
    }
}

/// Submits `batch` to the commit thread and waits for its answer. When the commit
/// queue is full, the wait for room happens in `block_in_place`, so the worker's
/// other connections move to another thread instead of stalling behind this one.
///
/// The batch is queued, then the task lets the worker's other ready tasks run once
/// before it commits: the worker's other connections with requests waiting queue
/// theirs meanwhile, and the first to resume commits them all as one group (or, for
/// `Durable` batches, wakes the commit thread to write and sync them), with one log
/// write (as Redis writes its append-only file once per event-loop turn) instead of
/// one per connection.
async fn submit(shared: Arc<Shared>, batch: Batch, ack: Ack) -> Result<Receipt, WriteError> {
    let db = &shared.db;
    let pending = match db.try_submit_deferred(batch, ack) {
        Ok(pending) => {
            after_ready_tasks().await;
            pending
        }
        Err(batch) => {
            let multi_thread = tokio::runtime::Handle::current().runtime_flavor()
                == tokio::runtime::RuntimeFlavor::MultiThread;
            if multi_thread {
                tokio::task::block_in_place(|| db.submit(batch, ack))
            } else {
                db.submit(batch, ack)
            }
        }
    };
    pending.await
}

/// Returns once the tasks that were ready to run on this worker have run. The task
/// wakes itself and is pending once, so the scheduler puts it at the back of its
/// run queue. (`tokio::task::yield_now` defers the task until after the next poll
/// of the I/O driver, tokio PR 5223: a write then also waited for that poll and for
/// the tasks it made ready.)
async fn after_ready_tasks() {
    let mut pending_once = false;
    std::future::poll_fn(|context| {
        if pending_once {
            return std::task::Poll::Ready(());
        }
        pending_once = true;
        context.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await
}

impl Drop for Session {
    /// A client that leaves stops tracking, unsubscribes, and its mailbox closes.
    fn drop(&mut self) {
        self.stop_tracking();
        self.unsubscribe_all();
        self.shared.mailboxes.close(self.client.id);
    }
}

/// Why a batch was refused as a whole.
enum Refused {
    /// Precondition number `index` failed.
    Precondition(usize),
    /// Another refusal.
    Error(WriteError),
}

/// Makes a command's reply from its operations' replies.
fn shaped(shape: Shape, replies: Vec<Result<Reply, chiral::OpError>>) -> Frame {
    if let Some(Err(error)) = replies.iter().find(|reply| reply.is_err()) {
        return from_op_error(error);
    }
    let mut replies = replies
        .into_iter()
        .map(|reply| reply.expect("errors handled above"));
    match shape {
        Shape::One => replies.next().map_or(Frame::Null, from_reply),
        Shape::OneOrNullArray => match replies.next() {
            Some(Reply::Nil) | None => Frame::NullArray,
            Some(reply) => from_reply(reply),
        },
        Shape::OkAsOne => Frame::Integer(i64::from(replies.next() == Some(Reply::Ok))),
        Shape::Sum => Frame::Integer(
            replies
                .map(|reply| match reply {
                    Reply::Int(n) => n,
                    _ => 0,
                })
                .sum(),
        ),
        Shape::Ok => Frame::OK,
    }
}
