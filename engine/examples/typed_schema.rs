//! The typed Rust API, as `../shared/examples/hmdb_typed.rs` uses it: tables of the
//! user's own rkyv types made by `schema!`, zero-copy reads, a transaction across
//! tables, and a V1 -> V2 migration by iterating and writing.
//!
//! ```sh
//! cargo run -p chiral --example typed_schema -- --dir /tmp/typed
//! ```
//!
//! Run it twice: the second run starts V1 afresh and finds V2 as the first left it.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chiral::rkyv::{Archive, Deserialize, Serialize};
use chiral::schema;
use clap::Parser;

/// A user name.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Hash)]
#[rkyv(crate = chiral::rkyv)]
struct Username(String);

impl From<&str> for Username {
    fn from(name: &str) -> Self {
        Username(name.to_string())
    }
}

/// A file's id.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[rkyv(crate = chiral::rkyv)]
struct Uuid([u8; 16]);

/// Version 1 of an account.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rkyv(crate = chiral::rkyv)]
struct Account {
    username: String,
    public_key: Vec<u8>,
    files: Vec<Uuid>,
}

/// Version 2 of an account: adds a storage quota.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rkyv(crate = chiral::rkyv)]
struct AccountV2 {
    username: String,
    public_key: Vec<u8>,
    files: Vec<Uuid>,
    quota_bytes: u64,
}

impl From<Account> for AccountV2 {
    fn from(account: Account) -> Self {
        AccountV2 {
            username: account.username,
            public_key: account.public_key,
            files: account.files,
            quota_bytes: 1 << 30,
        }
    }
}

/// What the server keeps of an encrypted file.
#[derive(Archive, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rkyv(crate = chiral::rkyv)]
struct EncryptedFileMetadata {
    id: Uuid,
    owner: Username,
    size_bytes: u64,
    encrypted_name: Vec<u8>,
}

schema! {
    SchemaV1 {
        accounts: <Username, Account>,
        files: <Uuid, EncryptedFileMetadata>
    }
}

schema! {
    SchemaV2 {
        accounts: <Username, AccountV2>,
        files: <Uuid, EncryptedFileMetadata>
    }
}

#[derive(Parser)]
#[command(about = "The typed API: tables of your own types, a transaction, a migration.")]
struct Args {
    /// Where the V1 and V2 databases live.
    #[arg(long, default_value = "./data-typed")]
    dir: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let summary = run(&args.dir)?;
    println!("{summary}");
    Ok(())
}

/// Runs the whole story in `dir`; returns what it found, in words.
pub fn run(dir: &Path) -> anyhow::Result<String> {
    let db = SchemaV1::init(dir.join("data.db"))?; // opens or creates; recovers from disk
    let parth = Username::from("parth");
    db.accounts.insert(
        parth.clone(),
        Account {
            username: "parth".into(),
            public_key: vec![1, 2, 3],
            files: Vec::new(),
        },
    )?;
    let account = db
        .accounts
        .get(&parth)?
        .context("parth was just inserted")?; // zero-copy view
    assert_eq!(account.username.as_str(), "parth");
    let meta = EncryptedFileMetadata {
        id: Uuid([7; 16]),
        owner: parth.clone(),
        size_bytes: 4096,
        encrypted_name: b"\x8f\x02".to_vec(),
    };
    db.files.insert(meta.id, meta.clone())?;

    // Atomic across tables: all writes become visible together, or none do.
    db.transaction(|accounts, files| {
        let mut owner = accounts.get(&parth)?.context("the account exists")?;
        let mut file = files.get(&meta.id)?.context("the file exists")?;
        file.size_bytes += 1;
        if !owner.files.contains(&file.id) {
            owner.files.push(file.id);
        }
        files.insert(file.id, file)?;
        accounts.insert(parth.clone(), owner)?;
        // Reads see the transaction's own writes.
        let seen = accounts.get(&parth)?.context("written above")?;
        anyhow::ensure!(seen.files.contains(&meta.id), "a read missed its own write");
        Ok::<_, anyhow::Error>(())
    })?;

    // Schema evolution: copy into the next schema, then delete the old data dir.
    let new = SchemaV2::init(dir.join("data-v2.db"))?;
    for entry in db.accounts.iter() {
        let (key, value) = entry?;
        new.accounts.insert(key, value.into())?;
    }
    for entry in db.files.iter() {
        let (key, value) = entry?;
        new.files.insert(key, value)?;
    }
    drop(db);
    std::fs::remove_dir_all(dir.join("data.db"))?;
    let migrated = new.accounts.get(&parth)?.context("parth was migrated")?;
    let file = new
        .files
        .get_owned(&meta.id)?
        .context("the file was migrated")?;
    Ok(format!(
        "{}: {} file(s), quota {} bytes; file size {} bytes",
        migrated.username,
        migrated.files.len(),
        migrated.quota_bytes,
        file.size_bytes
    ))
}
