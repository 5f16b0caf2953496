//! The frame every request runs in: route it, dispatch it, turn an error into the COS error
//! document ([`crate::wire::error_response`]), drain an unread body, and give every response
//! `x-cos-request-id`, `Server: tencent-cos`, `Date` and the header-case extensions.

use std::time::Duration;

use http::{HeaderValue, Method, Request};
use hyper::body::Incoming;

use crate::body::{RequestBody, drain};
use crate::context::RequestContext;
use crate::state::Gateway;
use crate::wire::{Response, error_response, http_date, now_secs};

impl Gateway {
    /// Handles one request; never fails (errors become COS error documents). A body that sends
    /// nothing for `body_idle_timeout` ends the request with `RequestTimeout`.
    pub async fn handle(
        &self,
        req: Request<Incoming>,
        tls: bool,
        body_idle_timeout: Duration,
    ) -> Response {
        let request_id = new_request_id();
        let (parts, body) = req.into_parts();
        let head = parts.method == Method::HEAD;
        let mut body = Some(RequestBody::new(body, body_idle_timeout));
        let mut resp = match crate::route::route(&parts) {
            Err(e) => error_response(&e, parts.uri.path(), &request_id, head),
            Ok(target) => {
                let ctx = RequestContext {
                    method: parts.method.clone(),
                    headers: parts.headers,
                    target,
                    tls,
                    request_id: request_id.clone(),
                };
                match crate::ops::dispatch(self, &ctx, &mut body).await {
                    Ok(r) => r,
                    Err(e) => {
                        if let Some(b) = body.take() {
                            drain(b.into_inner()).await;
                        }
                        error_response(&e, &ctx.target.resource(), &request_id, head)
                    }
                }
            }
        };
        let h = resp.headers_mut();
        h.insert(
            "x-cos-request-id",
            HeaderValue::from_str(&request_id).expect("hex is a valid header value"),
        );
        h.insert(
            http::header::SERVER,
            HeaderValue::from_static("tencent-cos"),
        );
        if let Ok(d) = HeaderValue::from_str(&http_date(now_secs())) {
            h.insert(http::header::DATE, d);
        }
        self.header_case.apply(&mut resp);
        resp
    }
}

/// A request id: 32 hex characters, unique per request.
fn new_request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
