//! `cargo bench -p kms-server --bench blob`: sealing and opening a data key's blob in format v2
//! (XAES-256-GCM) next to format v1 (HKDF-SHA256 + AES-256-GCM), in the same run, through the
//! public `kms_server::blob` functions the KMS calls: the per-blob cost that GenerateDataKey,
//! Encrypt, Decrypt and ReEncrypt pay. Figures are recorded in `bench/BENCHMARKS.md` ("Blob format
//! v2").
//!
//! The plaintext is a 32-byte data key and the context the two-pair COS context kms-bench sends;
//! v1 is sealed with a fresh random salt and nonce per blob, as the server sealed it. Both open
//! through one long-lived `BlobKey`, as the KMS's key cache holds it.
//!
//! After criterion's groups, an interleaved cross-check that holds up on a shared machine: v2 and
//! v1 alternate in short rounds and the median round of each is printed with the ratio and the
//! spread (min-max over rounds), as Markdown table rows. `INTERLEAVED_ROUNDS=0` skips it.

mod interleave;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use kms_server::{
    EncryptionContext,
    blob::{BlobHeader, BlobKey, SALT_LEN, open_blob, seal_blob, seal_blob_v1_with},
    secret::{Key32, NONCE_LEN},
};
use rand::RngCore;
use uuid::Uuid;

const DATA_KEY: [u8; 32] = [0x17; 32];

struct Setup {
    material: Key32,
    /// The version as the KMS keeps it: built once, its XAES-256-GCM set-up kept after first use.
    key: BlobKey,
    header: BlobHeader,
    context: EncryptionContext,
}

impl Setup {
    fn new() -> Self {
        let material = Key32::random();
        Self {
            key: BlobKey::new(material.clone()),
            material,
            header: BlobHeader {
                key_id: Uuid::new_v4(),
                key_version: 1,
            },
            context: EncryptionContext::from_pairs([
                ("bucket", "examplebucket-1250000000"),
                ("object", "photos/2026/cat.jpg"),
            ]),
        }
    }

    fn seal_v2(&self) -> Vec<u8> {
        seal_blob(&self.key, self.header, &self.context, &DATA_KEY)
    }

    fn seal_v1(&self) -> Vec<u8> {
        let mut salt = [0u8; SALT_LEN];
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut salt);
        rand::rng().fill_bytes(&mut nonce);
        seal_blob_v1_with(
            &self.material,
            self.header,
            &salt,
            &nonce,
            &self.context,
            &DATA_KEY,
        )
    }

    fn open(&self, blob: &[u8]) {
        let plain = open_blob(&self.key, &self.context, blob).expect("opens");
        black_box(plain);
    }
}

/// One measured pair: the operation in v2 and in v1.
struct Case {
    name: &'static str,
    v2: Box<dyn Fn()>,
    v1: Box<dyn Fn()>,
}

fn cases() -> Vec<Case> {
    let s = std::rc::Rc::new(Setup::new());
    let (blob_v2, blob_v1) = (s.seal_v2(), s.seal_v1());
    let (a, b, c, d) = (s.clone(), s.clone(), s.clone(), s);
    vec![
        Case {
            name: "seal a 32-byte data key",
            v2: Box::new(move || {
                black_box(a.seal_v2());
            }),
            v1: Box::new(move || {
                black_box(b.seal_v1());
            }),
        },
        Case {
            name: "open it",
            v2: Box::new(move || c.open(&blob_v2)),
            v1: Box::new(move || d.open(&blob_v1)),
        },
    ]
}

fn criterion_groups(c: &mut Criterion) {
    let mut g = interleave::group(c, "blob");
    for case in cases() {
        g.bench_function(format!("{} v2", case.name), |b| b.iter(&case.v2));
        g.bench_function(format!("{} v1", case.name), |b| b.iter(&case.v1));
    }
    g.finish();
}

fn interleaved(_c: &mut Criterion) {
    let rounds = interleave::rounds(9);
    if rounds == 0 {
        return;
    }
    interleave::announce(rounds, "median ns per blob");
    eprintln!("| operation | v2 ns | v1 ns | v2 / v1 | v2 spread | v1 spread |");
    eprintln!("|---|---:|---:|---:|---:|---:|");
    for case in cases() {
        let (mut v2, mut v1) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            v2.push(1e9 / interleave::rate(&case.v2, 64));
            v1.push(1e9 / interleave::rate(&case.v1, 64));
        }
        let (m2, m1) = (interleave::median(&mut v2), interleave::median(&mut v1));
        eprintln!(
            "| {} | {m2:.0} | {m1:.0} | {:.2} | {:.0}-{:.0} | {:.0}-{:.0} |",
            case.name,
            m2 / m1,
            v2[0],
            v2[v2.len() - 1],
            v1[0],
            v1[v1.len() - 1]
        );
    }
}

criterion_group!(benches, criterion_groups, interleaved);
criterion_main!(benches);
