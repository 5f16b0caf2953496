//! The provider behaviour suite ([`storage_adapter::suite`]) against the providers this crate holds:
//! the in-memory KMS and the embedded `kms-server` core. (The gRPC provider runs it in the
//! workspace's `tests` crate, against a real server.)

mod memory {
    storage_adapter::provider_suite!(storage_adapter::suite::MemoryFixture::new());
}

mod embedded {
    storage_adapter::provider_suite!(storage_adapter::suite::EmbeddedFixture::new());
}
