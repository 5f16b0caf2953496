//! The codec of the `kms.v1` service: prost's, except for the status of a message that does not
//! decode.
//!
//! tonic's prost codec answers INTERNAL to any decode error, which tells a client that sent
//! garbage that the server is at fault and counts the client's mistake among real server faults.
//! Here a *request* that does not decode is INVALID_ARGUMENT ("request does not decode as
//! kms.v1.DecryptRequest: ..."), with the Tencent code `InvalidParameterValue` in the
//! `x-kms-error-code` metadata entry like every other refusal. The generated client uses the same
//! codec; there a *response* that does not decode stays INTERNAL (the server, not the caller, is at
//! fault). Which side a message belongs to is read from its name: every request message of the
//! service is named `...Request` and no response is (a test over the descriptor holds this).

use std::marker::PhantomData;

use kms_types::{ERROR_CODE_METADATA, ErrorCode};
use prost::{Message, Name};
use tonic::{
    Status,
    codec::{BufferSettings, Codec, DecodeBuf, Decoder},
    metadata::MetadataValue,
};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

/// Suffix of every request message name of the service.
pub const REQUEST_SUFFIX: &str = "Request";

/// [`ProstCodec`] with a request that does not decode mapped to INVALID_ARGUMENT (see the module
/// docs). `T` is the type it encodes, `U` the type it decodes.
#[derive(Debug, Clone)]
pub struct KmsCodec<T, U> {
    inner: ProstCodec<T, U>,
}

impl<T, U> Default for KmsCodec<T, U> {
    fn default() -> Self {
        Self {
            inner: ProstCodec::default(),
        }
    }
}

impl<T, U> Codec for KmsCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Name + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = KmsDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        self.inner.encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        KmsDecoder {
            inner: self.inner.decoder(),
            _message: PhantomData,
        }
    }
}

/// The decoder of [`KmsCodec`].
#[derive(Debug, Clone)]
pub struct KmsDecoder<U> {
    inner: ProstDecoder<U>,
    _message: PhantomData<U>,
}

impl<U: Message + Name + Default> Decoder for KmsDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        self.inner.decode(buf).map_err(decode_status::<U>)
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.inner.buffer_settings()
    }
}

/// The status sent for a `U` that does not decode, given the prost codec's.
fn decode_status<U: Name>(prost_status: Status) -> Status {
    if U::NAME.ends_with(REQUEST_SUFFIX) {
        undecodable_request(&U::full_name(), prost_status.message())
    } else {
        prost_status
    }
}

/// The status of a request of type `full_name` that does not decode (`detail`: prost's reason).
fn undecodable_request(full_name: &str, detail: &str) -> Status {
    let mut status =
        Status::invalid_argument(format!("request does not decode as {full_name}: {detail}"));
    status.metadata_mut().insert(
        ERROR_CODE_METADATA,
        MetadataValue::from_static(ErrorCode::InvalidParameterValue.as_str()),
    );
    status
}

#[cfg(test)]
mod tests {
    use prost::Message as _;
    use prost_types::FileDescriptorSet;
    use tonic::Code;

    use super::*;
    use crate::pb;

    /// The side of a message is read from its name, so every request must end in `Request` and no
    /// response may.
    #[test]
    fn requests_and_only_requests_are_named_request() {
        let set = FileDescriptorSet::decode(crate::FILE_DESCRIPTOR_SET).unwrap();
        let services: Vec<_> = set.file.iter().flat_map(|f| &f.service).collect();
        assert_eq!(services.len(), 1);
        let methods = &services[0].method;
        assert!(methods.len() > 20, "{}", methods.len());
        for m in methods {
            let input = m.input_type();
            let output = m.output_type();
            assert!(input.ends_with(REQUEST_SUFFIX), "{}: {input}", m.name());
            assert!(!output.ends_with(REQUEST_SUFFIX), "{}: {output}", m.name());
        }
    }

    /// Decodes `bytes` as `U` as [`KmsDecoder`] does (tonic's `DecodeBuf` cannot be built outside
    /// tonic; the end-to-end path is tested against the real server in kms-server).
    fn decode<U: Message + Name + Default>(bytes: &[u8]) -> Result<U, Status> {
        U::decode(bytes).map_err(|e| decode_status::<U>(Status::internal(e.to_string())))
    }

    #[test]
    fn an_undecodable_request_is_invalid_argument_with_the_tencent_code() {
        // Field 1 (ciphertext_blob) declares 3 bytes and carries 1.
        let status = decode::<pb::DecryptRequest>(&[0x0a, 0x03, b'a']).unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status
                .message()
                .starts_with("request does not decode as kms.v1.DecryptRequest: "),
            "{}",
            status.message()
        );
        assert_eq!(
            status.metadata().get(ERROR_CODE_METADATA).unwrap(),
            "InvalidParameterValue"
        );
        // Wire type 7 does not exist.
        let status = decode::<pb::SeedKeysRequest>(&[0x0f]).unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
    }

    #[test]
    fn an_undecodable_response_stays_internal() {
        let status = decode::<pb::DecryptResponse>(&[0x0a, 0x03, b'a']).unwrap_err();
        assert_eq!(status.code(), Code::Internal);
        assert!(status.metadata().get(ERROR_CODE_METADATA).is_none());
    }

    #[test]
    fn a_valid_request_decodes() {
        let want = pb::DecryptRequest {
            ciphertext_blob: vec![1, 2, 3],
            encryption_context: "e30=".into(),
            ..Default::default()
        };
        let got = decode::<pb::DecryptRequest>(&want.encode_to_vec()).unwrap();
        assert_eq!(got, want);
    }
}
