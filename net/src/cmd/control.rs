//! Connection, transaction and server commands: parsed here, carried out by the
//! session (`session.rs`) and the server (`server.rs`), which own the state they
//! change.

use bytes::Bytes;
use chiral::ByteString;

use super::{Command, Parsed};
use crate::args::{Args, syntax_error};
use crate::frame::Frame;
use crate::pubsub::Kind;

/// A command on the connection or the server.
#[derive(Debug)]
pub(crate) enum Control {
    /// PING [message].
    Ping(Option<Bytes>),
    /// ECHO message.
    Echo(Bytes),
    /// QUIT.
    Quit,
    /// HELLO [protover [AUTH user pass] [SETNAME name]].
    Hello {
        /// The protocol version asked for.
        protocol: Option<i64>,
        /// AUTH user pass.
        auth: Option<(Bytes, Bytes)>,
        /// SETNAME name.
        name: Option<Bytes>,
    },
    /// AUTH [user] pass.
    Auth {
        /// The user (only `default` exists).
        user: Option<Bytes>,
        /// The password.
        password: Bytes,
    },
    /// SELECT index (only 0 exists).
    Select(i64),
    /// RESET.
    Reset,
    /// CLIENT subcommand.
    Client(Client),
    /// MULTI.
    Multi,
    /// EXEC.
    Exec,
    /// DISCARD.
    Discard,
    /// WATCH key [key ...].
    Watch(Vec<ByteString>),
    /// UNWATCH.
    Unwatch,
    /// INFO [section ...].
    Info(Vec<String>),
    /// COMMAND [COUNT | DOCS name... | INFO name... | LIST].
    Command(CommandQuery),
    /// CONFIG GET pattern... / SET name value... / RESETSTAT.
    Config(ConfigRequest),
    /// SAVE.
    Save,
    /// BGSAVE [SCHEDULE].
    BgSave,
    /// LASTSAVE.
    LastSave,
    /// TIME.
    Time,
    /// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE].
    Shutdown,
    /// ACL subcommand.
    Acl(AclRequest),
    /// CHIRAL.SYNC token.
    Sync(Bytes),
    /// CHIRAL.DATASET.
    Dataset,
    /// SUBSCRIBE or PSUBSCRIBE.
    Subscribe(Kind, Vec<Bytes>),
    /// UNSUBSCRIBE or PUNSUBSCRIBE (all, if none named).
    Unsubscribe(Kind, Vec<Bytes>),
    /// PUBLISH channel message.
    Publish(Bytes, Bytes),
    /// PUBSUB subcommand.
    PubSub(super::pubsub::Query),
}

/// An ACL subcommand.
#[derive(Debug)]
pub(crate) enum AclRequest {
    /// ACL SETUSER name [rule ...].
    SetUser(String, Vec<String>),
    /// ACL DELUSER name [name ...].
    DelUser(Vec<String>),
    /// ACL LIST.
    List,
    /// ACL USERS.
    Users,
    /// ACL WHOAMI.
    WhoAmI,
    /// ACL GETUSER name.
    GetUser(String),
    /// ACL CAT: the categories.
    Cat,
}

/// A CLIENT subcommand.
#[derive(Debug)]
pub(crate) enum Client {
    /// CLIENT ID.
    Id,
    /// CLIENT SETNAME name.
    SetName(Bytes),
    /// CLIENT GETNAME.
    GetName,
    /// CLIENT LIST.
    List,
    /// CLIENT INFO.
    Info,
    /// CLIENT KILL: by address (old form, answers OK) or by filters (answers a count).
    Kill {
        /// Which clients.
        filter: KillFilter,
        /// The old one-argument form.
        old_form: bool,
    },
    /// CLIENT SETINFO and other hints a client library sends: answered OK.
    Accepted,
    /// CLIENT TRACKING ON|OFF [BCAST] [PREFIX p ...] [OPTIN] [OPTOUT] [VALUES].
    Tracking(Option<TrackingRequest>),
    /// CLIENT CACHING YES|NO: whether the next command's reads are tracked.
    Caching(bool),
}

/// CLIENT TRACKING ON's options.
#[derive(Debug)]
pub(crate) struct TrackingRequest {
    /// BCAST, with its prefixes (`None`: default mode).
    pub(crate) broadcast: Option<Vec<Box<[u8]>>>,
    /// OPTIN: reads are tracked only after CLIENT CACHING YES.
    pub(crate) opt_in: bool,
    /// OPTOUT: reads are tracked unless after CLIENT CACHING NO.
    pub(crate) opt_out: bool,
    /// VALUES (Chiral's own): the keys read recently stay tracked and their new
    /// values are pushed.
    pub(crate) values: bool,
    /// NOLOOP: the client's own writes are not announced to it.
    pub(crate) no_loop: bool,
    /// REDIRECT id: the invalidations go to that client.
    pub(crate) redirect: Option<u64>,
}

/// What COMMAND asks for.
#[derive(Debug)]
pub(crate) enum CommandQuery {
    /// COMMAND: every command's info.
    All,
    /// COMMAND COUNT.
    Count,
    /// COMMAND LIST.
    List,
    /// COMMAND INFO name...
    Info(Vec<Bytes>),
    /// COMMAND DOCS [name...]
    Docs(Vec<Bytes>),
}

/// What CONFIG asks for.
#[derive(Debug)]
pub(crate) enum ConfigRequest {
    /// CONFIG GET pattern [pattern ...].
    Get(Vec<Bytes>),
    /// CONFIG SET name value [name value ...].
    Set(Vec<(Bytes, Bytes)>),
    /// CONFIG RESETSTAT.
    ResetStat,
}

pub(crate) fn control(control: Control) -> Parsed {
    Ok(Command::Control(control))
}

/// PING [message].
pub(crate) fn ping(mut args: Args) -> Parsed {
    if args.remaining() > 1 {
        return Err(super::wrong_arity("ping"));
    }
    control(Control::Ping(args.rest().pop()))
}

/// ECHO message.
pub(crate) fn echo(mut args: Args) -> Parsed {
    control(Control::Echo(args.bytes()?))
}

/// QUIT.
pub(crate) fn quit(_: Args) -> Parsed {
    control(Control::Quit)
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]].
pub(crate) fn hello(mut args: Args) -> Parsed {
    if args.is_empty() {
        return control(Control::Hello {
            protocol: None,
            auth: None,
            name: None,
        });
    }
    let protocol = args
        .int()
        .map_err(|_| Frame::error("ERR Protocol version is not an integer or out of range"))?;
    let (mut auth, mut name) = (None, None);
    while !args.is_empty() {
        match args.keyword()?.as_slice() {
            b"AUTH" if args.remaining() >= 2 => auth = Some((args.bytes()?, args.bytes()?)),
            b"SETNAME" if !args.is_empty() => name = Some(args.bytes()?),
            _ => return Err(syntax_error()),
        }
    }
    control(Control::Hello {
        protocol: Some(protocol),
        auth,
        name,
    })
}

/// AUTH [username] password.
pub(crate) fn auth(mut args: Args) -> Parsed {
    match args.remaining() {
        1 => control(Control::Auth {
            user: None,
            password: args.bytes()?,
        }),
        2 => control(Control::Auth {
            user: Some(args.bytes()?),
            password: args.bytes()?,
        }),
        _ => Err(syntax_error()),
    }
}

/// SELECT index.
pub(crate) fn select(mut args: Args) -> Parsed {
    control(Control::Select(args.int()?))
}

/// RESET.
pub(crate) fn reset(_: Args) -> Parsed {
    control(Control::Reset)
}

/// CLIENT subcommand [arguments].
pub(crate) fn client(mut args: Args) -> Parsed {
    let sub = args.keyword()?;
    // The subcommands of a fixed number of arguments count them as Redis does.
    let expect = |args: &Args, count: usize, name: &str| match args.remaining() == count {
        true => Ok(()),
        false => Err(super::wrong_arity(name)),
    };
    let client = match sub.as_slice() {
        b"ID" => {
            expect(&args, 0, "client|id")?;
            Client::Id
        }
        b"GETNAME" => {
            expect(&args, 0, "client|getname")?;
            Client::GetName
        }
        b"LIST" => Client::List,
        b"INFO" => {
            expect(&args, 0, "client|info")?;
            Client::Info
        }
        b"SETNAME" => {
            expect(&args, 1, "client|setname")?;
            let name = args.bytes()?;
            if name.iter().any(|&b| b <= b' ' || b > b'~') {
                return Err(Frame::error(
                    "ERR Client names cannot contain spaces, newlines or special characters.",
                ));
            }
            Client::SetName(name)
        }
        b"KILL" => parse_kill(&mut args)?,
        b"TRACKING" => parse_tracking(&mut args)?,
        b"CACHING" => match args.keyword()?.as_slice() {
            b"YES" => Client::Caching(true),
            b"NO" => Client::Caching(false),
            _ => return Err(syntax_error()),
        },
        b"SETINFO" | b"NO-EVICT" | b"NO-TOUCH" => {
            args.rest();
            Client::Accepted
        }
        _ => return Err(unknown_subcommand("CLIENT", &sub)),
    };
    args.finish()?;
    control(Control::Client(client))
}

/// CLIENT KILL's filters, all of which a client must match.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct KillFilter {
    /// ID id.
    pub(crate) id: Option<u64>,
    /// ADDR ip:port (the client's end).
    pub(crate) addr: Option<Bytes>,
    /// LADDR ip:port (the server's end).
    pub(crate) laddr: Option<Bytes>,
    /// USER name.
    pub(crate) user: Option<Bytes>,
    /// MAXAGE seconds: connected longer than this.
    pub(crate) max_age_secs: Option<u64>,
    /// TYPE: `false` for a type no client of this server has (master, replica,
    /// pubsub).
    pub(crate) type_matches: bool,
    /// SKIPME yes|no (yes by default): spare the client that asks.
    pub(crate) skip_me: bool,
}

fn parse_kill(args: &mut Args) -> Result<Client, Frame> {
    if args.is_empty() {
        return Err(super::wrong_arity("client|kill"));
    }
    if args.remaining() == 1 {
        return Ok(Client::Kill {
            filter: KillFilter {
                addr: Some(args.bytes()?),
                type_matches: true,
                ..KillFilter::default()
            },
            old_form: true,
        });
    }
    let mut filter = KillFilter {
        type_matches: true,
        skip_me: true,
        ..KillFilter::default()
    };
    while !args.is_empty() {
        match args.keyword()?.as_slice() {
            b"ID" => {
                let value = args.int()?;
                filter.id = Some(
                    u64::try_from(value)
                        .ok()
                        .filter(|id| *id > 0)
                        .ok_or_else(|| Frame::error("ERR client-id should be greater than 0"))?,
                );
            }
            b"ADDR" => filter.addr = Some(args.bytes()?),
            b"LADDR" => filter.laddr = Some(args.bytes()?),
            b"USER" => filter.user = Some(args.bytes()?),
            b"MAXAGE" => {
                filter.max_age_secs = Some(u64::try_from(args.int()?).map_err(|_| syntax_error())?)
            }
            b"TYPE" => {
                let kind = args.bytes()?;
                filter.type_matches = match kind.to_ascii_uppercase().as_slice() {
                    b"NORMAL" => true,
                    b"MASTER" | b"REPLICA" | b"SLAVE" | b"PUBSUB" => false,
                    _ => {
                        return Err(Frame::error(format!(
                            "ERR Unknown client type '{}'",
                            String::from_utf8_lossy(&kind)
                        )));
                    }
                }
            }
            b"SKIPME" => {
                filter.skip_me = match args.keyword()?.as_slice() {
                    b"YES" => true,
                    b"NO" => false,
                    _ => return Err(syntax_error()),
                }
            }
            _ => return Err(syntax_error()),
        }
    }
    Ok(Client::Kill {
        filter,
        old_form: false,
    })
}

fn parse_tracking(args: &mut Args) -> Result<Client, Frame> {
    let on = match args.keyword()?.as_slice() {
        b"ON" => true,
        b"OFF" => false,
        _ => return Err(syntax_error()),
    };
    let (mut bcast, mut prefixes, mut opt_in, mut opt_out) = (false, Vec::new(), false, false);
    let (mut values, mut no_loop, mut redirect) = (false, false, None);
    while !args.is_empty() {
        match args.keyword()?.as_slice() {
            b"BCAST" => bcast = true,
            b"PREFIX" => prefixes.push(args.bytes()?.as_ref().into()),
            b"OPTIN" => opt_in = true,
            b"OPTOUT" => opt_out = true,
            b"VALUES" => values = true,
            b"NOLOOP" => no_loop = true,
            b"REDIRECT" => {
                let id = args.int()?;
                redirect = Some(u64::try_from(id).map_err(|_| {
                    Frame::error("ERR The client ID you want redirect to does not exist")
                })?);
            }
            _ => return Err(syntax_error()),
        }
    }
    if !on {
        return Ok(Client::Tracking(None));
    }
    if !prefixes.is_empty() && !bcast {
        return Err(Frame::error(
            "ERR PREFIX option requires BCAST mode to be enabled",
        ));
    }
    if bcast && (opt_in || opt_out) {
        return Err(Frame::error(
            "ERR OPTIN and OPTOUT are not compatible with BCAST",
        ));
    }
    if bcast && values {
        return Err(Frame::error("ERR VALUES is not compatible with BCAST"));
    }
    if redirect.is_some() && values {
        return Err(Frame::error("ERR VALUES is not compatible with REDIRECT"));
    }
    if opt_in && opt_out {
        return Err(Frame::error("ERR You can't use both OPTIN and OPTOUT"));
    }
    Ok(Client::Tracking(Some(TrackingRequest {
        broadcast: bcast.then_some(prefixes),
        opt_in,
        opt_out,
        values,
        no_loop,
        redirect,
    })))
}

/// Redis's reply to an unknown subcommand.
pub(crate) fn unknown_subcommand(command: &str, sub: &[u8]) -> Frame {
    Frame::error(format!(
        "ERR unknown subcommand '{}'. Try {command} HELP.",
        String::from_utf8_lossy(sub)
    ))
}

/// MULTI.
pub(crate) fn multi(_: Args) -> Parsed {
    control(Control::Multi)
}

/// EXEC.
pub(crate) fn exec(_: Args) -> Parsed {
    control(Control::Exec)
}

/// DISCARD.
pub(crate) fn discard(_: Args) -> Parsed {
    control(Control::Discard)
}

/// WATCH key [key ...].
pub(crate) fn watch(mut args: Args) -> Parsed {
    control(Control::Watch(args.rest_keys()))
}

/// UNWATCH.
pub(crate) fn unwatch(_: Args) -> Parsed {
    control(Control::Unwatch)
}

/// INFO [section ...].
pub(crate) fn info(mut args: Args) -> Parsed {
    let sections = args
        .rest()
        .iter()
        .map(|section| String::from_utf8_lossy(section).to_ascii_lowercase())
        .collect();
    control(Control::Info(sections))
}

/// COMMAND [subcommand].
pub(crate) fn command(mut args: Args) -> Parsed {
    if args.is_empty() {
        return control(Control::Command(CommandQuery::All));
    }
    let sub = args.keyword()?;
    let query = match sub.as_slice() {
        b"COUNT" => CommandQuery::Count,
        b"LIST" => CommandQuery::List,
        b"INFO" => CommandQuery::Info(args.rest()),
        b"DOCS" => CommandQuery::Docs(args.rest()),
        _ => return Err(unknown_subcommand("COMMAND", &sub)),
    };
    control(Control::Command(query))
}

/// CONFIG GET | SET | RESETSTAT.
pub(crate) fn config(mut args: Args) -> Parsed {
    let sub = args.keyword()?;
    let request = match sub.as_slice() {
        b"GET" if !args.is_empty() => ConfigRequest::Get(args.rest()),
        b"SET" if !args.is_empty() && args.remaining().is_multiple_of(2) => {
            let mut pairs = Vec::new();
            while !args.is_empty() {
                pairs.push((args.bytes()?, args.bytes()?));
            }
            ConfigRequest::Set(pairs)
        }
        b"RESETSTAT" => ConfigRequest::ResetStat,
        b"GET" | b"SET" => {
            let name = String::from_utf8_lossy(&sub).to_ascii_lowercase();
            return Err(super::wrong_arity(&format!("config|{name}")));
        }
        _ => return Err(unknown_subcommand("CONFIG", &sub)),
    };
    control(Control::Config(request))
}

/// SAVE.
pub(crate) fn save(_: Args) -> Parsed {
    control(Control::Save)
}

/// BGSAVE [SCHEDULE].
pub(crate) fn bgsave(mut args: Args) -> Parsed {
    if !args.is_empty() && args.keyword()? != b"SCHEDULE" {
        return Err(syntax_error());
    }
    args.finish()?;
    control(Control::BgSave)
}

/// LASTSAVE.
pub(crate) fn lastsave(_: Args) -> Parsed {
    control(Control::LastSave)
}

/// TIME.
pub(crate) fn time(_: Args) -> Parsed {
    control(Control::Time)
}

/// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT].
///
/// Either way the log holds every acknowledged write; SAVE and NOSAVE only decide
/// whether the next start replays the log or maps a fresh snapshot, and the engine
/// takes that snapshot at a clean close when `snapshot_on_close` is set.
pub(crate) fn shutdown(mut args: Args) -> Parsed {
    for option in args.rest() {
        match option.to_ascii_uppercase().as_slice() {
            b"NOSAVE" | b"SAVE" | b"NOW" | b"FORCE" => {}
            _ => return Err(syntax_error()),
        }
    }
    control(Control::Shutdown)
}

/// ACL SETUSER | DELUSER | LIST | USERS | WHOAMI | GETUSER | CAT.
pub(crate) fn acl(mut args: Args) -> Parsed {
    let sub = args.keyword()?;
    let text = |bytes: Bytes| String::from_utf8_lossy(&bytes).into_owned();
    let request = match sub.as_slice() {
        b"SETUSER" if !args.is_empty() => {
            let name = text(args.bytes()?);
            AclRequest::SetUser(name, args.rest().into_iter().map(text).collect())
        }
        b"DELUSER" if !args.is_empty() => {
            AclRequest::DelUser(args.rest().into_iter().map(text).collect())
        }
        b"GETUSER" if args.remaining() == 1 => AclRequest::GetUser(text(args.bytes()?)),
        b"LIST" => AclRequest::List,
        b"USERS" => AclRequest::Users,
        b"WHOAMI" => AclRequest::WhoAmI,
        b"CAT" => AclRequest::Cat,
        b"SETUSER" | b"DELUSER" | b"GETUSER" => {
            let name = String::from_utf8_lossy(&sub).to_ascii_lowercase();
            return Err(super::wrong_arity(&format!("acl|{name}")));
        }
        _ => return Err(unknown_subcommand("ACL", &sub)),
    };
    args.finish()?;
    control(Control::Acl(request))
}
