//! What the fuzz targets share: the fixed SSE-C objects the body targets decrypt, their plaintext,
//! and the way a text input is cut into lines.
//!
//! The fixture objects are SSE-C objects under one customer key and one name, so a target can open
//! them with no KMS and every run (and every crash input) is reproducible: an SSE-C envelope
//! carries everything but the key (and, from format version 2, the server-held verifier key, here
//! [`VERIFIER_KEY`]). The same five objects exist twice: in the current format in [`FIXTURES_DIR`],
//! written by `seeds` (`cargo run -p fuzz-seeds`) through the adapter's public API, and in format
//! version 1 in [`FIXTURES_V1_DIR`], frozen (the adapter no longer writes version 1; these are the
//! bytes `seeds` wrote before version 2), so the old-format reader is fuzzed too.

use std::sync::{Arc, OnceLock};

use storage_adapter::envelope::{FORMAT_VERSION, FORMAT_VERSION_V1};
use storage_adapter::{
    Adapter, CustomerKey, Envelope, MemoryKms, ObjectName, OpenedObject, VerifierKey,
};

/// The customer key of every fixture object (the first object-format test vector's key).
pub const CUSTOMER_KEY: &[u8; 32] = b"0123456789ABCDEF0123456789ABCDEF";
/// The server-held key of the fixtures' SSE-C verifiers (a gateway keeps one in its data
/// directory).
pub const VERIFIER_KEY: &[u8; VerifierKey::LEN] = b"fuzz-fixtures-ssec-verifier-key!";
/// The bucket every fixture object is bound to.
pub const BUCKET: &str = "examplebucket-1250000000";
/// The key every fixture object is bound to.
pub const KEY: &str = "exampleobject.txt";

/// The plaintext byte at `offset` of every fixture object (multipart offsets run across parts).
pub fn plain_byte(offset: u64) -> u8 {
    (offset % 251) as u8
}

/// The plaintext sizes of the five fixture objects of each format version, in the order of
/// [`fixtures`] (single part: empty, one segment, two segments; multipart with an empty middle
/// part; multipart completed without the key, so with no layout MAC).
pub const FIXTURE_SIZES: [u64; 5] = [0, 33, 65_543, 65_567, 30];

/// Where the current-format fixture objects are: `<n>.envelope` (the envelope's bytes) and
/// `<n>.body` (the stored body) for `n` in `0..FIXTURE_SIZES.len()`.
pub const FIXTURES_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/objects");
/// Where the format-version-1 fixture objects are, named as in [`FIXTURES_DIR`].
pub const FIXTURES_V1_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/objects-v1");

/// Each fixtures directory with the format version of its envelopes, in the order of [`fixtures`].
pub const FIXTURE_DIRS: [(&str, u8); 2] = [
    (FIXTURES_DIR, FORMAT_VERSION),
    (FIXTURES_V1_DIR, FORMAT_VERSION_V1),
];

/// The number of fixture objects: every size in every format version.
pub const FIXTURE_COUNT: usize = FIXTURE_SIZES.len() * FIXTURE_DIRS.len();

/// The plaintext size of fixture object `n` (an index into [`fixtures`]).
pub fn fixture_size(n: usize) -> u64 {
    FIXTURE_SIZES[n % FIXTURE_SIZES.len()]
}

/// The envelope format version of fixture object `n`.
pub fn fixture_version(n: usize) -> u8 {
    FIXTURE_DIRS[n / FIXTURE_SIZES.len()].1
}

/// (envelope, stored body) of each fixture object, read once: the current format's, then
/// version 1's.
pub fn fixtures() -> &'static [(Vec<u8>, Vec<u8>)] {
    static FIXTURES: OnceLock<Vec<(Vec<u8>, Vec<u8>)>> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let read = |dir: &str, n: usize, what: &str| {
            let path = format!("{dir}/{n}.{what}");
            std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e} (run fuzz-seeds)"))
        };
        FIXTURE_DIRS
            .iter()
            .flat_map(|&(dir, _)| {
                (0..FIXTURE_SIZES.len())
                    .map(move |n| (read(dir, n, "envelope"), read(dir, n, "body")))
            })
            .collect()
    })
}

/// An adapter with no KMS key anyone knows (SSE-COS and SSE-KMS envelopes never open under it)
/// and the fixtures' SSE-C verifier key.
pub fn adapter() -> &'static Adapter {
    static ADAPTER: OnceLock<Adapter> = OnceLock::new();
    ADAPTER.get_or_init(|| {
        Adapter::new(Arc::new(MemoryKms::new()))
            .with_customer_key_verifier(VerifierKey::from_bytes(VERIFIER_KEY))
    })
}

/// The customer key of the fixtures.
pub fn customer_key() -> CustomerKey {
    CustomerKey::from_bytes(CUSTOMER_KEY).expect("32 bytes")
}

/// The name every fixture object is bound to.
pub fn name() -> ObjectName<'static> {
    ObjectName::new(BUCKET, KEY)
}

/// The fixture objects, opened once.
pub fn opened() -> &'static [OpenedObject] {
    static OPENED: OnceLock<Vec<OpenedObject>> = OnceLock::new();
    OPENED.get_or_init(|| {
        fixtures()
            .iter()
            .enumerate()
            .map(|(n, (env, _))| {
                let env = Envelope::from_bytes(env).expect("the fixtures are valid envelopes");
                assert_eq!(env.version(), fixture_version(n), "fixture {n}'s format");
                let key = customer_key();
                let obj = futures::executor::block_on(adapter().open(&env, name(), Some(&key)))
                    .expect("the fixtures open under their key");
                assert_eq!(
                    obj.plain_size(),
                    fixture_size(n),
                    "fixtures and FIXTURE_SIZES disagree"
                );
                obj
            })
            .collect()
    })
}

/// The input as text lines (`\n`, an optional `\r` dropped); `None` if it is not UTF-8.
pub fn lines(data: &[u8]) -> Option<Vec<&str>> {
    let text = std::str::from_utf8(data).ok()?;
    Some(
        text.split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .collect(),
    )
}

/// The SecretId the request and form targets sign with.
pub const SECRET_ID: &str = "AKIDfuzz";
/// Its SecretKey.
pub const SECRET_KEY: &str = "fuzz-secret-key";
/// The `start;end` window the seeds are signed for (unix seconds).
pub const SIGN_WINDOW: (i64, i64) = (1_700_000_000, 1_700_000_600);
/// The time the signature targets verify at: inside [`SIGN_WINDOW`].
pub const NOW: i64 = SIGN_WINDOW.0 + 100;
/// In a `post_form` input, replaced by the form's correct `q-signature` before it is parsed.
pub const SIGNATURE_PLACEHOLDER: &str = "@SIG@";

/// The credentials the signature targets verify against: [`SECRET_ID`] and [`SECRET_KEY`].
pub fn credentials() -> &'static cos_gateway::auth::Credentials {
    static CREDS: OnceLock<cos_gateway::auth::Credentials> = OnceLock::new();
    CREDS.get_or_init(|| {
        let mut c = cos_gateway::auth::Credentials::new();
        c.insert(SECRET_ID, cos_gateway::auth::SecretKey::new(SECRET_KEY));
        c
    })
}
