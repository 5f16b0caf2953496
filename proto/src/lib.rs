//! The `kms.v1` gRPC API. Generated code is reached only as `kms_proto::pb::...`; it encodes and
//! decodes through [`codec::KmsCodec`].

pub mod codec;

/// Messages and the `KeyManagementService` client and server.
pub mod pb {
    #![allow(
        missing_docs,
        missing_debug_implementations,
        clippy::all,
        clippy::pedantic
    )]
    tonic::include_proto!("kms.v1");
}

/// Encoded `FileDescriptorSet` of `kms.v1`, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/kms_descriptor.bin"));
