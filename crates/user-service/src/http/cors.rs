//! CORS only where it means something. Browsers send `Origin` on every cross-origin request and
//! every preflight; probes and service-to-service calls send none and need no CORS headers. So
//! requests without `Origin` skip tower-http's `Cors` (and its headers) entirely; every response
//! says `Vary: origin`.
//!
//! The `Cors` service is built once, with the rest of the stack, and cloned with it for every
//! request (hyper takes the service by reference, so axum clones the stack per request). Its
//! configuration is chosen to make that clone cheap: the origin list sits behind an `Arc`
//! (tower-http copies a plain list), and `Vary` is added here, as a static value, instead of a
//! tower-http list that is copied with each clone and joined into a new header on each request.

use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::header::{ORIGIN, VARY};
use axum::http::{HeaderName, HeaderValue, Method, Request, Response};
use futures_util::TryFutureExt;
use futures_util::future::{Either, MapOk};
use tower::{Layer, Service};
use tower_http::cors::{AllowHeaders, AllowOrigin, Cors, CorsLayer};

/// The CORS policy: credentials allowed for the listed origins only, the methods the API
/// uses, any request header the preflight asks for, and `exposed` readable by the page.
#[derive(Clone)]
pub struct CorsForOriginsLayer {
    cors: CorsLayer,
}

impl CorsForOriginsLayer {
    pub fn new(origins: &[HeaderValue], exposed: HeaderName) -> Self {
        let origins: Arc<[HeaderValue]> = origins.into();
        let cors = CorsLayer::new()
            .allow_origin(AllowOrigin::predicate(move |origin, _| {
                origins.contains(origin)
            }))
            .allow_credentials(true)
            .allow_methods([
                Method::GET,
                Method::HEAD,
                Method::PUT,
                Method::PATCH,
                Method::POST,
                Method::DELETE,
            ])
            .allow_headers(AllowHeaders::mirror_request())
            .expose_headers([exposed])
            // `vary_on_origin` below, on every response.
            .vary(Vec::<HeaderName>::new());
        Self { cors }
    }
}

impl<S> Layer<S> for CorsForOriginsLayer {
    type Service = CorsForOrigins<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CorsForOrigins {
            cors: self.cors.layer(inner),
        }
    }
}

/// `Cors` around the inner service; requests without `Origin` go past it to the inner one.
#[derive(Clone)]
pub struct CorsForOrigins<S> {
    cors: Cors<S>,
}

/// Answers depend on the `Origin` header (with or without one), so a shared cache never hands
/// an answer to a browser whose origin it was not made for. Preflights are never cached by
/// proxies, so no other request header is named.
fn vary_on_origin<B>(mut response: Response<B>) -> Response<B> {
    response
        .headers_mut()
        .append(VARY, HeaderValue::from_static("origin"));
    response
}

type VaryOnOrigin<F, B> = MapOk<F, fn(Response<B>) -> Response<B>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for CorsForOrigins<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    Cors<S>: Service<Request<ReqBody>, Response = Response<ResBody>, Error = S::Error>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Either<
        VaryOnOrigin<<Cors<S> as Service<Request<ReqBody>>>::Future, ResBody>,
        VaryOnOrigin<S::Future, ResBody>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // `Cors` is ready when the inner service is; readying it readies that one for both paths.
        self.cors.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        if request.headers().contains_key(ORIGIN) {
            Either::Left(self.cors.call(request).map_ok(vary_on_origin::<ResBody>))
        } else {
            Either::Right(
                self.cors
                    .get_mut()
                    .call(request)
                    .map_ok(vary_on_origin::<ResBody>),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::future::{Ready, ready};
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::http::{HeaderMap, StatusCode};
    use tower::ServiceExt;

    use super::*;

    const ALLOWED: &str = "http://localhost:3000";

    /// Answers 200 and counts how often it is cloned.
    #[derive(Default)]
    struct Handler {
        clones: Arc<AtomicUsize>,
    }

    impl Clone for Handler {
        fn clone(&self) -> Self {
            self.clones.fetch_add(1, Ordering::SeqCst);
            Self {
                clones: self.clones.clone(),
            }
        }
    }

    impl Service<Request<()>> for Handler {
        type Response = Response<String>;
        type Error = Infallible;
        type Future = Ready<Result<Response<String>, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Request<()>) -> Self::Future {
            ready(Ok(Response::new("handled".to_owned())))
        }
    }

    fn layer() -> CorsForOriginsLayer {
        CorsForOriginsLayer::new(
            &[
                HeaderValue::from_static(ALLOWED),
                HeaderValue::from_static("https://app.example.com"),
            ],
            HeaderName::from_static("x-request-id"),
        )
    }

    fn request(method: Method, origin: Option<&'static str>) -> Request<()> {
        let mut request = Request::new(());
        *request.method_mut() = method;
        *request.uri_mut() = axum::http::Uri::from_static("/users");
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert(ORIGIN, HeaderValue::from_static(origin));
        }
        request
    }

    async fn send(service: &mut CorsForOrigins<Handler>, request: Request<()>) -> Response<String> {
        match service.ready().await {
            Ok(ready) => match ready.call(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            },
            Err(never) => match never {},
        }
    }

    fn cors_headers(headers: &HeaderMap) -> Vec<&str> {
        headers
            .keys()
            .map(HeaderName::as_str)
            .filter(|name| name.starts_with("access-control-"))
            .collect()
    }

    fn vary(headers: &HeaderMap) -> Vec<&[u8]> {
        headers
            .get_all(VARY)
            .iter()
            .map(HeaderValue::as_bytes)
            .collect()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn requests_with_origin_go_through_the_cors_service_built_once() {
        let handler = Handler::default();
        let clones = handler.clones.clone();
        let mut service = layer().layer(handler);
        for _ in 0..3 {
            let response = send(&mut service, request(Method::GET, Some(ALLOWED))).await;
            assert_eq!(response.headers()["access-control-allow-origin"], ALLOWED);
        }
        assert_eq!(
            clones.load(Ordering::SeqCst),
            0,
            "the inner service was cloned (a CORS service built) for a request"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_request_without_origin_gets_no_cors_headers_but_vary_origin() {
        let mut service = layer().layer(Handler::default());
        let response = send(&mut service, request(Method::GET, None)).await;
        assert_eq!(response.body(), "handled");
        assert_eq!(cors_headers(response.headers()), Vec::<&str>::new());
        assert_eq!(vary(response.headers()), [b"origin"]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_allowed_origin_gets_credentials_the_exposed_header_and_vary_origin_once() {
        let mut service = layer().layer(Handler::default());
        let response = send(&mut service, request(Method::GET, Some(ALLOWED))).await;
        let headers = response.headers();
        assert_eq!(response.body(), "handled");
        assert_eq!(headers["access-control-allow-origin"], ALLOWED);
        assert_eq!(headers["access-control-allow-credentials"], "true");
        assert_eq!(headers["access-control-expose-headers"], "x-request-id");
        assert_eq!(vary(headers), [b"origin"]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_foreign_origin_gets_no_allow_origin_and_vary_origin_once() {
        let mut service = layer().layer(Handler::default());
        let response = send(
            &mut service,
            request(Method::GET, Some("https://evil.example.net")),
        )
        .await;
        assert!(
            response
                .headers()
                .get("access-control-allow-origin")
                .is_none()
        );
        assert_eq!(vary(response.headers()), [b"origin"]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_preflight_is_answered_by_cors_with_the_methods_the_mirrored_headers_and_vary() {
        let mut service = layer().layer(Handler::default());
        let mut preflight = request(Method::OPTIONS, Some(ALLOWED));
        preflight.headers_mut().insert(
            "access-control-request-method",
            HeaderValue::from_static("PATCH"),
        );
        preflight.headers_mut().insert(
            "access-control-request-headers",
            HeaderValue::from_static("authorization,content-type"),
        );
        let response = send(&mut service, preflight).await;
        let headers = response.headers();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.body(), "", "the handler answered a preflight");
        assert_eq!(headers["access-control-allow-origin"], ALLOWED);
        assert_eq!(
            headers["access-control-allow-methods"],
            "GET,HEAD,PUT,PATCH,POST,DELETE"
        );
        assert_eq!(
            headers["access-control-allow-headers"],
            "authorization,content-type"
        );
        assert_eq!(vary(headers), [b"origin"]);
    }
}
