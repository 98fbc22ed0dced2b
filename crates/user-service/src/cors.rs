//! CORS only where it means something. Browsers send `Origin` on every cross-origin request and
//! every preflight; probes and service-to-service calls send none and need no CORS headers. So
//! requests without `Origin` skip the CORS layer (and its headers) entirely: on `/health` under
//! load that is a measurable share of the per-request cost (docs/BENCHMARKS.md).

use std::sync::Arc;
use std::task::{Context, Poll};

use axum::http::HeaderValue;
use axum::http::header::VARY;
use axum::http::{Request, Response, header::ORIGIN};
use futures_util::TryFutureExt;
use futures_util::future::{Either, MapOk};
use tower::{Layer, Service};
use tower_http::cors::{Cors, CorsLayer};

/// A response to a request without `Origin` still says it depends on `Origin`, so a shared
/// cache never hands it to a browser that sent one.
fn vary_on_origin<B>(mut response: Response<B>) -> Response<B> {
    response
        .headers_mut()
        .append(VARY, HeaderValue::from_static("origin"));
    response
}

/// The CORS configuration sits behind an `Arc`: the service is cloned for every request, and
/// cloning a `CorsLayer` copies its origin list.
#[derive(Clone)]
pub struct CorsForOriginsLayer {
    cors: Arc<CorsLayer>,
}

impl CorsForOriginsLayer {
    pub fn new(cors: CorsLayer) -> Self {
        Self {
            cors: Arc::new(cors),
        }
    }
}

impl<S> Layer<S> for CorsForOriginsLayer {
    type Service = CorsForOrigins<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CorsForOrigins {
            cors: self.cors.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
pub struct CorsForOrigins<S> {
    cors: Arc<CorsLayer>,
    inner: S,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for CorsForOrigins<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    Cors<S>: Service<Request<ReqBody>, Response = Response<ResBody>, Error = S::Error>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Either<
        <Cors<S> as Service<Request<ReqBody>>>::Future,
        MapOk<S::Future, fn(Response<ResBody>) -> Response<ResBody>>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        if request.headers().contains_key(ORIGIN) {
            // The readied instance goes to CORS; a clone stays for the next call (the usual
            // tower pattern for a service handed on).
            let clone = self.inner.clone();
            let ready = std::mem::replace(&mut self.inner, clone);
            Either::Left(self.cors.layer(ready).call(request))
        } else {
            Either::Right(self.inner.call(request).map_ok(vary_on_origin::<ResBody>))
        }
    }
}
