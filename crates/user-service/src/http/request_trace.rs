//! What every request gets first: an `x-request-id` (the caller's when it is a plain short token,
//! else a new UUIDv4), a
//! `tracing` span with method, path and that id, one log line with status and latency when the
//! response is ready, and the id on the response.
//!
//! This is tower-http's `SetRequestId` + `Trace` + `PropagateRequestId` in one pass: three
//! futures, the id copied into the request headers, a request extension (a hash map growth for
//! every request), a second header lookup on the way out and a wrapped response body. Here the
//! id is looked up once, stored in the request headers only when it was generated, and moved
//! onto the response. It is kept because `/health`, which does almost nothing else, pays
//! noticeably for the three (docs/BENCHMARKS.md, "tower-http's layers against the hand-written
//! ones"); an API request would not notice either.
//!
//! Handlers that need the id read the `x-request-id` request header: after this layer it is
//! always there.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::http::{HeaderName, HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};
use tracing::Span;

/// The request id header, in both directions.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id taken from a client.
pub const MAX_REQUEST_ID_LENGTH: usize = 128;

/// A client's id is echoed and logged only when it is at most [`MAX_REQUEST_ID_LENGTH`]
/// characters of `A-Z a-z 0-9 . _ : -`: nothing that could break a log line or a page, nothing
/// that could make every log line huge. Anything else gets an id of our own.
fn is_acceptable_id(id: &HeaderValue) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID_LENGTH
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// Probes arrive every few seconds from every load balancer, so they are logged at debug;
/// other requests at info; server errors (5xx) at error.
fn is_probe(path: &str) -> bool {
    path.starts_with("/health")
}

#[derive(Clone, Copy, Debug, Default)]
pub struct RequestTraceLayer;

impl<S> Layer<S> for RequestTraceLayer {
    type Service = RequestTrace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestTrace { inner }
    }
}

#[derive(Clone, Debug)]
pub struct RequestTrace<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequestTrace<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let id = match request.headers().get(&REQUEST_ID) {
            Some(id) if is_acceptable_id(id) => id.clone(),
            _ => {
                let id = new_request_id();
                request.headers_mut().insert(REQUEST_ID, id.clone());
                id
            }
        };
        let probe = is_probe(request.uri().path());
        let span = request_span(&request, &id, probe);
        let start = Instant::now();
        let inner = span.in_scope(|| self.inner.call(request));
        ResponseFuture {
            inner,
            span,
            start,
            id: Some(id),
            probe,
        }
    }
}

fn request_span<B>(request: &Request<B>, id: &HeaderValue, probe: bool) -> Span {
    let method = request.method();
    let path = request.uri().path();
    let request_id = id.to_str().unwrap_or("");
    if probe {
        tracing::debug_span!("request", %method, path, request_id)
    } else {
        tracing::info_span!("request", %method, path, request_id)
    }
}

/// A UUIDv4, encoded on the stack.
fn new_request_id() -> HeaderValue {
    let mut buffer = uuid::Uuid::encode_buffer();
    let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buffer);
    // A hyphenated UUID is always a valid header value; the fallback is never taken.
    HeaderValue::from_str(id).unwrap_or(HeaderValue::from_static("unknown"))
}

pin_project! {
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        span: Span,
        start: Instant,
        id: Option<HeaderValue>,
        probe: bool,
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let mut result = ready!(this.inner.poll(cx));
        let latency_us = u64::try_from(this.start.elapsed().as_micros()).unwrap_or(u64::MAX);
        match &mut result {
            Ok(response) => {
                let status = response.status().as_u16();
                if response.status().is_server_error() {
                    tracing::error!(status, latency_us, "request failed");
                } else if *this.probe {
                    tracing::debug!(status, latency_us, "request finished");
                } else {
                    tracing::info!(status, latency_us, "request finished");
                }
                if let Some(id) = this.id.take() {
                    response.headers_mut().insert(REQUEST_ID, id);
                }
            }
            Err(_) => tracing::error!(latency_us, "request failed without a response"),
        }
        Poll::Ready(result)
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use axum::http::StatusCode;
    use tower::ServiceExt;

    use super::*;

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut buffer) = self.0.lock() {
                buffer.extend_from_slice(bytes);
            }
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            self.0
                .lock()
                .map(|buffer| String::from_utf8_lossy(&buffer).into_owned())
                .unwrap_or_default()
        }
    }

    /// Sends one request through the layer over a handler answering `status`, with the log at
    /// `filter`; returns the response and the log.
    async fn send(
        request: Request<()>,
        status: StatusCode,
        filter: &str,
    ) -> (Response<()>, String) {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        let service = RequestTraceLayer.layer(tower::service_fn(move |request: Request<()>| {
            // The handler sees the id in the request headers, given or generated.
            let seen = request.headers().get(&REQUEST_ID).cloned();
            async move {
                tracing::info!(handler_saw_id = seen.is_some(), "handling");
                let mut response = Response::new(());
                *response.status_mut() = status;
                Ok::<_, Infallible>(response)
            }
        }));
        let response = match service.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        (response, captured.text())
    }

    /// The log line that contains `needle` (empty when there is none).
    fn line_with<'a>(log: &'a str, needle: &str) -> &'a str {
        log.lines()
            .find(|line| line.contains(needle))
            .unwrap_or_default()
    }

    fn get(path: &str) -> Request<()> {
        let mut request = Request::new(());
        *request.uri_mut() = path.parse().unwrap_or_default();
        request
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_given_request_id_is_kept_and_returned() {
        let mut request = get("/users");
        request
            .headers_mut()
            .insert(REQUEST_ID, HeaderValue::from_static("abc-123"));
        let (response, log) = send(request, StatusCode::OK, "info").await;
        assert_eq!(response.headers()[REQUEST_ID], "abc-123");
        assert!(log.contains("request_id=\"abc-123\""), "{log}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_missing_request_id_is_generated_seen_by_the_handler_and_returned() {
        let (response, log) = send(get("/users"), StatusCode::OK, "info").await;
        let id = response.headers()[REQUEST_ID].to_str().unwrap_or("");
        assert_eq!(
            uuid::Uuid::parse_str(id).map(|id| id.get_version_num()),
            Ok(4)
        );
        assert!(log.contains("handler_saw_id=true"), "{log}");
        assert!(log.contains(&format!("request_id=\"{id}\"")), "{log}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn requests_are_logged_at_info_with_method_path_status_and_latency() {
        let (_, log) = send(get("/users?page=2"), StatusCode::NOT_FOUND, "info").await;
        let line = line_with(&log, "request finished");
        assert!(line.contains(" INFO "), "{log}");
        assert!(line.contains("method=GET"), "{line}");
        assert!(line.contains("path=\"/users\""), "{line}");
        assert!(line.contains("status=404"), "{line}");
        assert!(line.contains("latency_us="), "{line}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn probes_are_logged_at_debug_only() {
        let (_, at_info) = send(get("/health/db"), StatusCode::OK, "info").await;
        assert!(!at_info.contains("request finished"), "{at_info}");
        let (_, at_debug) = send(get("/health/db"), StatusCode::OK, "debug").await;
        assert!(at_debug.contains("request finished"), "{at_debug}");
        assert!(at_debug.contains("path=\"/health/db\""), "{at_debug}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn server_errors_are_logged_at_error_even_for_probes() {
        let (_, log) = send(get("/health/db"), StatusCode::SERVICE_UNAVAILABLE, "error").await;
        let line = line_with(&log, "request failed");
        assert!(line.contains("ERROR"), "{log}");
        assert!(line.contains("status=503"), "{line}");
    }
}
