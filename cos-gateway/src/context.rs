//! One request's context, routed: what every operation reads (method, headers, bucket and key,
//! transport, request id). Its query string is the [`crate::endpoint::Endpoint`]'s business.

use http::{HeaderMap, Method};

use crate::route::Target;
use crate::wire::header_str;

/// One request, routed. `Debug` shows header names only: values include SSE-C keys and signatures.
pub struct RequestContext {
    /// The method.
    pub method: Method,
    /// The request headers.
    pub headers: HeaderMap,
    /// Bucket, key, host, path, query.
    pub target: Target,
    /// Whether the connection is TLS.
    pub tls: bool,
    /// This request's id.
    pub request_id: String,
}

impl std::fmt::Debug for RequestContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestContext")
            .field("method", &self.method)
            .field("headers", &crate::wire::header_names(&self.headers))
            .field("target", &self.target)
            .field("tls", &self.tls)
            .field("request_id", &self.request_id)
            .finish()
    }
}

impl RequestContext {
    /// The bucket (only called once routing found one).
    pub fn bucket(&self) -> &str {
        self.target.bucket.as_deref().unwrap_or("")
    }

    /// The object's identity for the adapter.
    pub fn name(&self) -> storage_adapter::ObjectName<'_> {
        storage_adapter::ObjectName::new(self.bucket(), &self.target.key)
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        header_str(&self.headers, name)
    }
}
