#![allow(dead_code)]

use std::sync::Arc;

use storage_adapter::{Adapter, CustomerKey, KmsContext, MemoryKms, ObjectName, SseRequest};

// The helpers the provider suite also uses: written once, in the suite (each test file uses
// a different subset of them).
#[allow(unused_imports)]
pub use storage_adapter::suite::{customer, data, get_stream, put_stream};

pub const S: usize = storage_adapter::stream::SEGMENT_SIZE;

/// The verifier key of every [`adapter`]: one server's key, so a fresh adapter opens what another
/// wrote (as a restarted server does with its persisted key).
pub const VERIFIER_KEY: [u8; 32] = [0x5a; 32];

pub fn adapter() -> (Adapter, MemoryKms) {
    let kms = MemoryKms::new();
    (
        Adapter::new(Arc::new(kms.clone()))
            .with_customer_key_verifier(storage_adapter::VerifierKey::from_bytes(&VERIFIER_KEY)),
        kms,
    )
}

/// One request per mode (SSE-COS, SSE-KMS default CMK, SSE-KMS named key + context, SSE-C).
pub fn all_modes(kms: &MemoryKms) -> Vec<SseRequest> {
    kms.create_key("named-key");
    vec![
        SseRequest::Cos,
        SseRequest::Kms {
            key_id: None,
            context: None,
            bucket_key: false,
        },
        SseRequest::Kms {
            key_id: Some("named-key".into()),
            context: Some(KmsContext::from_base64("eyJhIjoiYXNkZmEiLCJiIjoiMTIzMzIxIn0=").unwrap()),
            bucket_key: false,
        },
        SseRequest::Customer(customer(0x42)),
    ]
}

pub fn customer_of(req: &SseRequest) -> Option<CustomerKey> {
    match req {
        SseRequest::Customer(k) => Some(k.clone()),
        _ => None,
    }
}

pub const NAME: ObjectName<'static> = ObjectName {
    bucket: "bucket-1250000000",
    key: "dir/object.bin",
};
