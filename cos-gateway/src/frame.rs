//! The frame every request runs in: route it, dispatch it, turn an error into the COS error
//! document ([`crate::wire::error_response`]), drain an unread body, end it at its deadline
//! ([`crate::deadline`]), and give every response `x-cos-request-id`, `Server: tencent-cos`,
//! `Date` and the header-case extensions.

use std::time::Duration;

use http::{HeaderValue, Method, Request};
use hyper::body::Incoming;
use tokio::time::Instant;

use crate::body::RequestBody;
use crate::context::RequestContext;
use crate::error::Error;
use crate::state::Gateway;
use crate::store::Decided;
use crate::wire::{Response, error_response, http_date, now_secs};

impl Gateway {
    /// Handles one request; never fails (errors become COS error documents). A body that sends
    /// nothing for `body_idle_timeout`, or a request not answered by `deadline`, ends with
    /// `400 RequestTimeout` and `Connection: close`, unless it has set a change to the store going
    /// by then ([`Decided`]): that request's answer is awaited, as late as it comes.
    pub async fn handle(
        &self,
        req: Request<Incoming>,
        tls: bool,
        body_idle_timeout: Duration,
        deadline: Instant,
    ) -> Response {
        let request_id = new_request_id();
        let (parts, body) = req.into_parts();
        let head = parts.method == Method::HEAD;
        let path = parts.uri.path().to_owned();
        let body = RequestBody::new(body, body_idle_timeout, deadline);
        let decided = Decided::default();
        let answer = decided.scope(self.answer(parts, body, tls, &request_id));
        let mut answer = std::pin::pin!(answer);
        let (mut resp, timed_out) = match tokio::time::timeout_at(deadline, &mut answer).await {
            Ok(answered) => answered,
            // A change it set going completes without it: its answer, late, is the truth.
            Err(_) if decided.is_set() => answer.await,
            // Dropping the handler drops the body undrained (past its deadline).
            Err(_) => (
                error_response(&Error::RequestTimeout, &path, &request_id, head),
                true,
            ),
        };
        let h = resp.headers_mut();
        if timed_out {
            // The rest of the body is not read: the connection cannot carry another request.
            h.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        }
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

    /// Routes and runs one request: its response, and whether it is a `RequestTimeout`.
    async fn answer(
        &self,
        parts: http::request::Parts,
        body: RequestBody,
        tls: bool,
        request_id: &str,
    ) -> (Response, bool) {
        let head = parts.method == Method::HEAD;
        let mut body = Some(body);
        match crate::route::route(&parts) {
            Err(e) => (
                error_response(&e, parts.uri.path(), request_id, head),
                false,
            ),
            Ok(target) => {
                let ctx = RequestContext {
                    method: parts.method,
                    headers: parts.headers,
                    target,
                    tls,
                    request_id: request_id.to_owned(),
                };
                match crate::ops::dispatch(self, &ctx, &mut body).await {
                    Ok(r) => (r, false),
                    Err(e) => {
                        let timed_out = matches!(e, Error::RequestTimeout);
                        if let Some(b) = body.take()
                            && !timed_out
                        {
                            b.drain().await;
                        }
                        let resp = error_response(&e, &ctx.target.resource(), request_id, head);
                        (resp, timed_out)
                    }
                }
            }
        }
    }
}

/// A request id: 32 hex characters, unique per request.
fn new_request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
