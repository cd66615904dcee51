//! Users and what each may do: ACL SETUSER rules, AUTH, and the users file.
//!
//! A user has a name, is on or off, has passwords (kept as SHA-256 hashes, never as
//! text) or `nopass`, key patterns (`~pattern`, `allkeys`) and command rules
//! (`+@category`, `-@category`, `+command`, `-command`, `allcommands`,
//! `nocommands`), applied in order as Redis applies them. The `default` user always
//! exists: it is who a client is before AUTH, and `requirepass` is its password.
//!
//! Users persist in a file in Redis's ACL file format (one `user <name> <rules>`
//! line each, what ACL LIST prints), rewritten atomically after every change: write a
//! temporary file, fsync, rename, fsync the directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use sha2::{Digest, Sha256};

use crate::cmd::{Spec, TABLE};

/// One user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct User {
    /// The name.
    pub(crate) name: String,
    /// Whether the user may authenticate.
    pub(crate) enabled: bool,
    /// Any password authenticates.
    pub(crate) nopass: bool,
    /// SHA-256 hashes of the passwords.
    passwords: Vec<[u8; 32]>,
    /// Glob patterns of the keys the user may touch.
    key_patterns: Vec<Vec<u8>>,
    /// For each command of the table, whether the user may run it.
    allowed: Vec<bool>,
    /// Exceptions by subcommand (`+config|get`, `-client|kill`): command index and
    /// lower-case subcommand, and whether it is allowed.
    subcommands: BTreeMap<(usize, String), bool>,
    /// The command rules as given, in order, for ACL LIST.
    command_rules: Vec<String>,
}

/// Why a rule or a user file was refused.
pub(crate) type RuleError = String;

impl User {
    /// A new user as ACL SETUSER creates it: off, no passwords, no keys, no commands.
    fn new(name: &str) -> Self {
        User {
            name: name.to_string(),
            enabled: false,
            nopass: false,
            passwords: Vec::new(),
            key_patterns: Vec::new(),
            allowed: vec![false; TABLE.len()],
            subcommands: BTreeMap::new(),
            command_rules: Vec::new(),
        }
    }

    /// The default user of a fresh server: on, every key and command; `nopass`
    /// unless `requirepass` gives it a password.
    fn default_user(requirepass: Option<&str>) -> Self {
        let mut user = User::new("default");
        let rules: &[&str] = &["on", "~*", "+@all"];
        for rule in rules {
            user.apply(rule).expect("the default rules are valid");
        }
        match requirepass {
            Some(password) => user.passwords.push(hash(password.as_bytes())),
            None => user.nopass = true,
        }
        user
    }

    /// Applies one ACL SETUSER rule.
    fn apply(&mut self, rule: &str) -> Result<(), RuleError> {
        let lower = rule.to_ascii_lowercase();
        match lower.as_str() {
            "on" => self.enabled = true,
            "off" => self.enabled = false,
            "nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            "resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            "allkeys" => self.key_patterns = vec![b"*".to_vec()],
            "resetkeys" => self.key_patterns.clear(),
            "allcommands" => self.command_rule("+@all")?,
            "nocommands" => self.command_rule("-@all")?,
            "reset" => {
                *self = User {
                    name: std::mem::take(&mut self.name),
                    ..User::new("")
                };
            }
            _ => match rule.as_bytes()[0] {
                b'>' => {
                    let hashed = hash(&rule.as_bytes()[1..]);
                    if !self.passwords.contains(&hashed) {
                        self.passwords.push(hashed);
                    }
                    self.nopass = false;
                }
                b'<' => {
                    let hashed = hash(&rule.as_bytes()[1..]);
                    if !self.passwords.contains(&hashed) {
                        return Err("no such password".into());
                    }
                    self.passwords.retain(|p| *p != hashed);
                }
                b'#' => {
                    let hashed = parse_hash(&rule[1..])?;
                    if !self.passwords.contains(&hashed) {
                        self.passwords.push(hashed);
                    }
                    self.nopass = false;
                }
                b'~' => self.key_patterns.push(rule.as_bytes()[1..].to_vec()),
                b'+' | b'-' => self.command_rule(&lower)?,
                _ => return Err(format!("Syntax error in ACL SETUSER modifier '{rule}'")),
            },
        }
        Ok(())
    }

    /// Applies `+@category`, `-@category`, `+command`, `-command`, `+command|sub`
    /// or `-command|sub`. A rule on whole commands drops their subcommand
    /// exceptions, as in Redis.
    fn command_rule(&mut self, rule: &str) -> Result<(), RuleError> {
        let allow = rule.starts_with('+');
        let target = &rule[1..];
        if let Some((command, sub)) = target.split_once('|') {
            let index = TABLE
                .iter()
                .position(|spec| spec.name == command)
                .filter(|_| HAS_SUBCOMMANDS.contains(&command) && !sub.is_empty())
                .ok_or_else(|| format!("Unknown command '{target}'"))?;
            self.subcommands.insert((index, sub.to_string()), allow);
            self.command_rules.push(rule.to_string());
            return Ok(());
        }
        let mut matched = false;
        for (index, spec) in TABLE.iter().enumerate() {
            let hit = match target.strip_prefix('@') {
                Some("all") => true,
                Some(category) => spec.categories.contains(&category),
                None => spec.name == target,
            };
            if hit {
                self.allowed[index] = allow;
                self.subcommands.retain(|(command, _), _| *command != index);
                matched = true;
            }
        }
        if !matched {
            return Err(match target.strip_prefix('@') {
                Some(category) => format!("Unknown command category '{category}'"),
                None => format!("Unknown command '{target}'"),
            });
        }
        // A rule that covers every command makes the earlier rules moot.
        if target == "@all" {
            self.command_rules.clear();
        }
        self.command_rules.push(rule.to_string());
        Ok(())
    }

    /// Whether the user may run the command `spec` with the subcommand `sub` (its
    /// first argument, if it has one).
    pub(crate) fn may_run(&self, spec: &'static Spec, sub: Option<&[u8]>) -> bool {
        // `spec` is an element of TABLE: its index is its offset.
        let index =
            (spec as *const Spec as usize - TABLE.as_ptr() as usize) / std::mem::size_of::<Spec>();
        debug_assert!(std::ptr::eq(&TABLE[index], spec), "specs come from TABLE");
        if !self.subcommands.is_empty()
            && let Some(sub) = sub.and_then(|sub| std::str::from_utf8(sub).ok())
            && let Some(allowed) = self.subcommands.get(&(index, sub.to_ascii_lowercase()))
        {
            return *allowed;
        }
        self.allowed[index]
    }

    /// Whether the user may touch `key`.
    pub(crate) fn may_access(&self, key: &[u8]) -> bool {
        self.key_patterns
            .iter()
            .any(|pattern| chiral::glob_match(pattern, key))
    }

    /// Whether `password` is one of the user's (comparing hashes in constant time).
    pub(crate) fn password_matches(&self, password: &[u8]) -> bool {
        if self.nopass {
            return true;
        }
        let offered = hash(password);
        let mut matched = false;
        for known in &self.passwords {
            matched |= constant_time_eq(known, &offered);
        }
        matched
    }

    /// The user's rules as one ACL LIST line (also the users file's line).
    pub(crate) fn describe(&self) -> String {
        let mut parts = vec![
            format!("user {}", self.name),
            if self.enabled { "on" } else { "off" }.to_string(),
        ];
        if self.nopass {
            parts.push("nopass".into());
        }
        parts.extend(self.passwords.iter().map(|p| format!("#{}", hex(p))));
        if self.key_patterns.is_empty() {
            parts.push("resetkeys".into());
        }
        parts.extend(
            self.key_patterns
                .iter()
                .map(|p| format!("~{}", String::from_utf8_lossy(p))),
        );
        if self.command_rules.is_empty() {
            parts.push("-@all".into());
        }
        parts.extend(self.command_rules.iter().cloned());
        parts.join(" ")
    }

    /// ACL GETUSER's fields.
    pub(crate) fn fields(&self) -> Vec<(&'static str, Vec<String>)> {
        let mut flags = vec![if self.enabled { "on" } else { "off" }.to_string()];
        if self.nopass {
            flags.push("nopass".into());
        }
        vec![
            ("flags", flags),
            ("passwords", self.passwords.iter().map(|p| hex(p)).collect()),
            ("commands", vec![self.command_rules.join(" ")]),
            (
                "keys",
                vec![
                    self.key_patterns
                        .iter()
                        .map(|p| format!("~{}", String::from_utf8_lossy(p)))
                        .collect::<Vec<_>>()
                        .join(" "),
                ],
            ),
        ]
    }
}

/// The commands whose first argument is a subcommand that rules can name
/// (`+config|get`).
const HAS_SUBCOMMANDS: &[&str] = &["acl", "client", "command", "config", "pubsub"];

/// Whether ACL rules can name subcommands of `command`.
pub(crate) fn has_subcommands(command: &str) -> bool {
    HAS_SUBCOMMANDS.contains(&command)
}

/// Every category, sorted (ACL CAT).
pub(crate) fn categories() -> Vec<&'static str> {
    let mut all: Vec<&'static str> = TABLE
        .iter()
        .flat_map(|spec| spec.categories.iter().copied())
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}

fn hash(password: &[u8]) -> [u8; 32] {
    Sha256::digest(password).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_hash(text: &str) -> Result<[u8; 32], RuleError> {
    let invalid = || {
        "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters".to_string()
    };
    if text.len() != 64
        || !text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(invalid());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| invalid())?;
    }
    Ok(out)
}

/// Whether `a` and `b` are equal, comparing every byte whatever the first
/// difference, so the time taken does not tell how much of a guess was right.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut difference = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        difference |= usize::from(x ^ y);
    }
    std::hint::black_box(difference) == 0
}

/// Every user, and where they are kept.
pub(crate) struct Acl {
    users: RwLock<BTreeMap<String, Arc<User>>>,
    /// Bumped on every change, so sessions know their cached user may be stale.
    generation: AtomicU64,
    file: Option<PathBuf>,
    /// The text of `requirepass`, for CONFIG GET.
    requirepass: RwLock<Option<String>>,
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Acl {
    /// The users of `file` (if it exists), with the default user's password set to
    /// `requirepass` if given.
    pub(crate) fn load(file: Option<PathBuf>, requirepass: Option<String>) -> Result<Acl, String> {
        let mut users = BTreeMap::new();
        users.insert(
            "default".to_string(),
            Arc::new(User::default_user(requirepass.as_deref())),
        );
        if let Some(path) = &file {
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    for (number, line) in text.lines().enumerate() {
                        let line = line.trim();
                        if line.is_empty() || line.starts_with('#') {
                            continue;
                        }
                        let user = parse_line(line).map_err(|reason| {
                            format!("{}:{}: {reason}", path.display(), number + 1)
                        })?;
                        users.insert(user.name.clone(), Arc::new(user));
                    }
                }
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(format!("reading {}: {error}", path.display())),
            }
        }
        if let Some(password) = &requirepass {
            let mut default = User::clone(&users["default"]);
            default.nopass = false;
            default.passwords = vec![hash(password.as_bytes())];
            users.insert("default".into(), Arc::new(default));
        }
        Ok(Acl {
            users: RwLock::new(users),
            generation: AtomicU64::new(0),
            file,
            requirepass: RwLock::new(requirepass),
        })
    }

    /// The current generation: changes whenever a user does.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The user named `name`.
    pub(crate) fn user(&self, name: &str) -> Option<Arc<User>> {
        read(&self.users).get(name).cloned()
    }

    /// Every user's ACL LIST line.
    pub(crate) fn list(&self) -> Vec<String> {
        read(&self.users)
            .values()
            .map(|user| user.describe())
            .collect()
    }

    /// Every user's name.
    pub(crate) fn names(&self) -> Vec<String> {
        read(&self.users).keys().cloned().collect()
    }

    /// ACL SETUSER: applies `rules` to the user (created if new); all or nothing.
    pub(crate) fn set_user(&self, name: &str, rules: &[String]) -> Result<(), RuleError> {
        let mut users = write(&self.users);
        let mut user = users
            .get(name)
            .map_or_else(|| User::new(name), |user| User::clone(user));
        for rule in rules {
            user.apply(rule)
                .map_err(|reason| format!("Error in ACL SETUSER modifier '{rule}': {reason}"))?;
        }
        let previous = users.insert(name.to_string(), Arc::new(user));
        if let Err(error) = self.save(&users) {
            match previous {
                Some(previous) => users.insert(name.to_string(), previous),
                None => users.remove(name),
            };
            return Err(error);
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// ACL DELUSER: how many of `names` existed and were removed.
    pub(crate) fn delete_users(&self, names: &[String]) -> Result<usize, RuleError> {
        if names.iter().any(|name| name == "default") {
            return Err("The 'default' user cannot be removed".into());
        }
        let mut users = write(&self.users);
        let removed: Vec<(String, Arc<User>)> = names
            .iter()
            .filter_map(|name| users.remove(name).map(|user| (name.clone(), user)))
            .collect();
        if let Err(error) = self.save(&users) {
            users.extend(removed);
            return Err(error);
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(removed.len())
    }

    /// CONFIG SET requirepass: the default user's only password (empty: nopass).
    pub(crate) fn set_requirepass(&self, password: &str) -> Result<(), RuleError> {
        let rules = if password.is_empty() {
            vec!["nopass".to_string()]
        } else {
            vec!["resetpass".to_string(), format!(">{password}")]
        };
        self.set_user("default", &rules)?;
        *write(&self.requirepass) = (!password.is_empty()).then(|| password.to_string());
        Ok(())
    }

    /// CONFIG GET requirepass.
    pub(crate) fn requirepass(&self) -> String {
        read(&self.requirepass).clone().unwrap_or_default()
    }

    /// Whether a new connection is authenticated as `default` without AUTH.
    pub(crate) fn default_needs_no_auth(&self) -> Option<Arc<User>> {
        self.user("default")
            .filter(|user| user.enabled && user.nopass)
    }

    /// Rewrites the users file from `users`, atomically.
    fn save(&self, users: &BTreeMap<String, Arc<User>>) -> Result<(), RuleError> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        let text: String = users.values().map(|user| user.describe() + "\n").collect();
        write_atomically(path, text.as_bytes())
            .map_err(|error| format!("saving the users file {}: {error}", path.display()))
    }
}

/// One `user <name> <rules...>` line.
fn parse_line(line: &str) -> Result<User, RuleError> {
    let mut words = line.split_whitespace();
    if words.next() != Some("user") {
        return Err("a line must start with 'user'".into());
    }
    let name = words.next().ok_or("a user line needs a name")?;
    let mut user = User::new(name);
    for rule in words {
        user.apply(rule)?;
    }
    Ok(user)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let temporary = path.with_extension("tmp");
    {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, path)?;
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::lookup;

    #[test]
    fn rules_apply_in_order() {
        let mut user = User::new("alice");
        for rule in ["on", ">pw", "~cache:*", "+@read", "-@dangerous", "+set"] {
            user.apply(rule).unwrap();
        }
        assert!(user.may_run(lookup(b"get").unwrap(), None));
        assert!(user.may_run(lookup(b"set").unwrap(), None));
        assert!(!user.may_run(lookup(b"del").unwrap(), None));
        assert!(
            !user.may_run(lookup(b"keys").unwrap(), None),
            "read but dangerous"
        );
        assert!(user.may_access(b"cache:1") && !user.may_access(b"secret"));
        assert!(user.password_matches(b"pw") && !user.password_matches(b"pW"));
        assert_eq!(
            user.describe(),
            format!(
                "user alice on #{} ~cache:* +@read -@dangerous +set",
                hex(&hash(b"pw"))
            )
        );
        // The line reads back as the same user.
        assert_eq!(parse_line(&user.describe()).unwrap(), user);
    }

    #[test]
    fn subcommand_rules_make_exceptions_until_a_whole_command_rule() {
        let mut user = User::new("ops");
        for rule in ["on", "+@all", "-config", "+config|get", "-client|kill"] {
            user.apply(rule).unwrap();
        }
        let config = lookup(b"config").unwrap();
        let client = lookup(b"client").unwrap();
        assert!(user.may_run(config, Some(b"GET")));
        assert!(!user.may_run(config, Some(b"set")));
        assert!(!user.may_run(config, None));
        assert!(user.may_run(client, Some(b"id")));
        assert!(!user.may_run(client, Some(b"KILL")));
        assert_eq!(parse_line(&user.describe()).unwrap(), user);
        // A rule on the whole command ends its exceptions.
        user.apply("+client").unwrap();
        assert!(user.may_run(client, Some(b"kill")));
        assert!(user.apply("+get|x").is_err(), "GET has no subcommands");
        assert!(user.apply("+config|").is_err());
        assert!(user.apply("+nosuch|x").is_err());
    }

    #[test]
    fn bad_rules_are_refused() {
        let mut user = User::new("bob");
        assert!(user.apply("+nosuchcommand").is_err());
        assert!(user.apply("+@nosuchcategory").is_err());
        assert!(user.apply("<notapassword").is_err());
        assert!(user.apply("#abc").is_err());
        assert!(user.apply("whatever").is_err());
    }

    #[test]
    fn the_users_file_round_trips_and_a_failed_save_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("users.acl");
        let acl = Acl::load(Some(path.clone()), None).unwrap();
        acl.set_user(
            "app",
            &["on".into(), ">s".into(), "~*".into(), "+@all".into()],
        )
        .unwrap();
        let again = Acl::load(Some(path.clone()), None).unwrap();
        assert_eq!(again.list(), acl.list());
        assert!(again.user("app").unwrap().password_matches(b"s"));
        // A file in a directory that does not exist: saving fails, nothing changes.
        let blocked = Acl::load(Some(dir.path().join("missing/users.acl")), None).unwrap();
        assert!(blocked.set_user("x", &["on".into()]).is_err());
        assert!(blocked.user("x").is_none());
    }
}
