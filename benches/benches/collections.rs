//! Writes to and reads from one large hash and one large set (100k items, the shape
//! redis-benchmark's HSET and SADD build), the way the commit thread and readers
//! use them.
//!
//! A committed write never changes a value that readers may hold: it clones the
//! collection (cheap, the versions share their nodes), changes the clone, and the
//! old version is dropped once nothing holds it. `insert, old version dropped`
//! measures exactly that cycle; `get hit` and `contains hit` are reads of random
//! present items.
//!
//! Run: `cargo bench -p chiral-benches --bench collections`

use std::hint::black_box;

use bytes::Bytes;
use chiral::{Hash, Set};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Items in each collection.
const ITEMS: u64 = 100_000;

/// redis-benchmark's member and field shape: `element:` and 12 digits.
fn element(i: u64) -> Bytes {
    Bytes::from(format!("element:{:012}", i % ITEMS))
}

/// A cheap pseudo-random sequence (xorshift), so every bench visits the same items.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn hashes(c: &mut Criterion) {
    let mut hash: Hash = (0..ITEMS)
        .map(|i| (element(i), Bytes::from("xxx")))
        .collect();
    let fields: Vec<Bytes> = (0..4096).map(|i| element(i * 7919)).collect();
    let mut group = c.benchmark_group("hash of 100k fields");
    group.throughput(Throughput::Elements(1));
    let mut random = Xorshift(0x9e37_79b9_7f4a_7c15);
    group.bench_function("insert, old version dropped", |b| {
        b.iter(|| {
            let field = fields[random.next() as usize % fields.len()].clone();
            let mut next = hash.clone();
            next.insert(field, Bytes::from_static(b"yyy"));
            hash = next;
        })
    });
    group.bench_function("get hit", |b| {
        b.iter(|| {
            let field = &fields[random.next() as usize % fields.len()];
            black_box(hash.get(field));
        })
    });
    group.finish();
}

fn sets(c: &mut Criterion) {
    let mut set: Set = (0..ITEMS).map(element).collect();
    let members: Vec<Bytes> = (0..4096).map(|i| element(i * 7919)).collect();
    let mut group = c.benchmark_group("set of 100k members");
    group.throughput(Throughput::Elements(1));
    let mut random = Xorshift(0x2545_f491_4f6c_dd1d);
    group.bench_function("remove and insert, old versions dropped", |b| {
        b.iter(|| {
            let member = &members[random.next() as usize % members.len()];
            let mut next = set.clone();
            next.remove(member);
            set = next;
            let mut next = set.clone();
            next.insert(member.clone());
            set = next;
        })
    });
    group.bench_function("contains hit", |b| {
        b.iter(|| {
            let member = &members[random.next() as usize % members.len()];
            black_box(set.contains(member));
        })
    });
    group.finish();
}

criterion_group!(benches, hashes, sets);
criterion_main!(benches);
