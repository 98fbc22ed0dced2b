//! `/auth/phone`: sign in, sign up, or prove a number with a one-time code (AUTH.md, "Phone").

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::SessionBody;
use super::error::{ErrorBody, Result};
use super::extract::{ClientAddress, MaybeSignedIn, SigningIn, ValidJson};
use super::users::UserResponse;
use crate::auth::phone::{Proven, Verification};
use crate::domain::values::{Name, OneTimeCode, Phone};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send_code))
        .routes(routes!(verify_code))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    phone: Phone,
}

/// A code is on its way.
#[derive(Debug, Serialize, ToSchema)]
pub struct CodeSentBody {
    /// Seconds the code lives (`OTP_TTL_SECONDS`).
    #[schema(example = 300)]
    expires_in: u64,
    /// Seconds until another code may be asked for this number.
    #[schema(example = 60)]
    retry_after: u64,
}

/// Send a 6-digit sign-in code to a phone. The answer is the same whether or not the number has
/// an account. Limits: one code per number per `OTP_RESEND_SECONDS`, `OTP_MAX_PER_PHONE` per
/// number and `OTP_MAX_PER_ADDRESS` per client address an hour.
#[utoipa::path(post, path = "/auth/phone/otp", tag = "auth", request_body = CodeRequest,
    responses(
        (status = 202, body = CodeSentBody),
        (status = 400, body = ErrorBody),
        (status = 429, description = "Too many codes for this number or address; see Retry-After", body = ErrorBody),
        (status = 503, description = "The code could not be sent (no code is live), or phone codes are off", body = ErrorBody),
    ))]
async fn send_code(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    ValidJson(body): ValidJson<CodeRequest>,
) -> Result<(StatusCode, Json<CodeSentBody>)> {
    let sent = state
        .auth
        .send_phone_code(&state.db, &body.phone, address)
        .await?;
    let body = CodeSentBody {
        expires_in: sent.expires_in.as_secs(),
        retry_after: sent.retry_after.as_secs_f64().ceil() as u64,
    };
    Ok((StatusCode::ACCEPTED, Json(body)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    phone: Phone,
    code: OneTimeCode,
    /// The new account's name when the code creates one (else the number is its name).
    name: Option<Name>,
}

/// Check a code. Anonymous: signs in the account whose **verified** phone this is (200), or
/// creates one (201: provider `phone`, no email, no password). With a Bearer token: attaches the
/// number, verified, to the caller (200 user). Wrong, expired, used and burnt codes (and an
/// inactive account) answer the same 401.
#[utoipa::path(post, path = "/auth/phone/verify", tag = "auth", request_body = VerifyRequest,
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Signed in (anonymous), or the phone attached (signed in)", body = PhoneVerified),
        (status = 201, description = "A phone account was created and signed in", body = SessionBody),
        (status = 400, body = ErrorBody),
        (status = 401, description = "Invalid or expired code; or an invalid token", body = ErrorBody),
        (status = 409, description = "The phone is verified on another account (signed in)", body = ErrorBody),
    ))]
async fn verify_code(
    State(state): State<AppState>,
    MaybeSignedIn(caller): MaybeSignedIn,
    SigningIn(client): SigningIn,
    ValidJson(body): ValidJson<VerifyRequest>,
) -> Result<(StatusCode, Json<PhoneVerified>)> {
    let verification = Verification {
        phone: body.phone,
        code: body.code,
        name: body.name,
    };
    let proven = state
        .auth
        .verify_phone_code(&state.db, verification, caller.as_ref(), &client)
        .await?;
    let session = |signed_in| PhoneVerified::Session(SessionBody::new(&state, signed_in));
    Ok(match proven {
        Proven::SignedIn(signed_in) => (StatusCode::OK, Json(session(signed_in))),
        Proven::Created(signed_in) => (StatusCode::CREATED, Json(session(signed_in))),
        Proven::Attached(user) => (StatusCode::OK, Json(PhoneVerified::User(user.into()))),
    })
}

/// A 200 of `POST /auth/phone/verify`: a session body (anonymous) or the user (signed in).
// No `Debug`: it may hold tokens.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum PhoneVerified {
    Session(SessionBody),
    User(UserResponse),
}
