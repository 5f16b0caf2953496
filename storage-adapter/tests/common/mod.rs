#![allow(dead_code)]

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt as _;
use storage_adapter::object::bytes_stream;
use storage_adapter::{
    Adapter, CustomerKey, Envelope, KmsContext, MemoryKms, ObjectName, OpenedObject, SseRequest,
};

pub const S: usize = storage_adapter::stream::SEGMENT_SIZE;

pub fn adapter() -> (Adapter, MemoryKms) {
    let kms = MemoryKms::new();
    (Adapter::new(Arc::new(kms.clone())), kms)
}

pub fn customer(byte: u8) -> CustomerKey {
    CustomerKey::from_bytes(&[byte; 32]).unwrap()
}

/// One request per mode (SSE-COS, SSE-KMS default CMK, SSE-KMS named key + context, SSE-C).
pub fn all_modes(kms: &MemoryKms) -> Vec<SseRequest> {
    kms.create_key("named-key");
    vec![
        SseRequest::Cos,
        SseRequest::Kms {
            key_id: None,
            context: None,
        },
        SseRequest::Kms {
            key_id: Some("named-key".into()),
            context: Some(KmsContext::from_base64("eyJhIjoiYXNkZmEiLCJiIjoiMTIzMzIxIn0=").unwrap()),
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

pub fn data(n: usize, seed: u8) -> Vec<u8> {
    let mut x = u64::from(seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

pub const NAME: ObjectName<'static> = ObjectName {
    bucket: "bucket-1250000000",
    key: "dir/object.bin",
};

/// PUT through the streaming API with `chunk`-sized input chunks.
pub async fn put_stream(
    a: &Adapter,
    req: &SseRequest,
    name: ObjectName<'_>,
    plain: &[u8],
    chunk: usize,
) -> (Vec<u8>, Envelope) {
    let sealer = a.begin_put(req, name).await.unwrap();
    let mut s = sealer.encrypt_stream(bytes_stream(Bytes::copy_from_slice(plain), chunk));
    let mut stored = Vec::new();
    while let Some(item) = s.next().await {
        stored.extend_from_slice(&item.unwrap());
    }
    (stored, s.finish().unwrap())
}

/// GET through the streaming API; the error if any item fails.
pub async fn get_stream(
    obj: &OpenedObject,
    range: Option<std::ops::Range<u64>>,
    stored: &[u8],
    chunk: usize,
) -> storage_adapter::Result<Vec<u8>> {
    let plan = obj.plan(range)?;
    let r = plan.stored_range();
    let input = bytes_stream(
        Bytes::copy_from_slice(&stored[r.start as usize..r.end as usize]),
        chunk,
    );
    let mut s = obj.decrypt_stream(plan, input);
    let mut out = Vec::new();
    while let Some(item) = s.next().await {
        out.extend_from_slice(&item?);
    }
    Ok(out)
}
