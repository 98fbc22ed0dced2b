//! How a one-time code reaches a phone: behind one small trait, [`SendCode`], so the code flow
//! does not care which gateway carries it.
//!
//! - [`Webhook`]: a JSON POST `{"to", "code", "message"}` to `SMS_WEBHOOK_URL` with
//!   `Authorization: Bearer $SMS_WEBHOOK_TOKEN`, bounded by `SMS_TIMEOUT_MS`, following no
//!   redirect. Anything but a 2xx in time is a failed send.
//! - [`Sender::Log`]: the code in the service log (development only; refused in production by
//!   the configuration), so the embedded default can sign in by phone right after `cargo run`.
//!
//! The code is written nowhere else: failures name the gateway's status or the kind of error,
//! never the code, the token or the URL.

use std::future::Future;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use crate::config::SmsProvider;
use crate::domain::values::Phone;

/// A one-time code as sent: six digits. Its `Debug` never shows it.
pub struct Code(String);

impl Code {
    pub fn new(digits: String) -> Self {
        Self(digits)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Code(<redacted>)")
    }
}

/// Why a code did not go out: for the log (it holds no secret).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SendFailed(String);

/// Sends one code to one phone.
pub trait SendCode {
    fn send(&self, to: &Phone, code: &Code) -> impl Future<Output = Result<(), SendFailed>> + Send;
}

/// The configured way codes go out.
pub enum Sender {
    /// Codes are off (production without `SMS_PROVIDER`).
    Off,
    Log,
    Webhook(Webhook),
}

impl Sender {
    pub fn new(provider: &SmsProvider, timeout: Duration) -> Result<Self, reqwest::Error> {
        Ok(match provider {
            SmsProvider::Off => Self::Off,
            SmsProvider::Log => Self::Log,
            SmsProvider::Webhook { url, token } => Self::Webhook(Webhook {
                client: reqwest::Client::builder()
                    .timeout(timeout)
                    .connect_timeout(timeout)
                    .redirect(reqwest::redirect::Policy::none())
                    .build()?,
                url: url.clone(),
                token: token.clone(),
            }),
        })
    }

    /// Whether codes can be sent at all.
    pub fn is_on(&self) -> bool {
        !matches!(self, Self::Off)
    }
}

impl SendCode for Sender {
    async fn send(&self, to: &Phone, code: &Code) -> Result<(), SendFailed> {
        match self {
            Self::Off => Err(SendFailed(
                "phone codes are off (SMS_PROVIDER is unset)".to_owned(),
            )),
            Self::Log => {
                // The one place a code is written: development only (see the module).
                tracing::info!(
                    target: "user_service::sms",
                    to = to.as_str(),
                    code = code.expose(),
                    "SMS_PROVIDER=log: the sign-in code (not sent)"
                );
                Ok(())
            }
            Self::Webhook(webhook) => webhook.send(to, code).await,
        }
    }
}

/// An SMS gateway reached through its webhook.
pub struct Webhook {
    client: reqwest::Client,
    url: url::Url,
    token: SecretString,
}

/// What the webhook receives.
#[derive(Serialize)]
struct Outgoing<'a> {
    to: &'a str,
    code: &'a str,
    message: String,
}

impl SendCode for Webhook {
    async fn send(&self, to: &Phone, code: &Code) -> Result<(), SendFailed> {
        let body = Outgoing {
            to: to.as_str(),
            code: code.expose(),
            message: format!("{} is your ChatAI sign-in code.", code.expose()),
        };
        let response = self
            .client
            .post(self.url.clone())
            .bearer_auth(self.token.expose_secret())
            .json(&body)
            .send()
            .await
            .map_err(|error| SendFailed(describe(error)))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(SendFailed(format!("the SMS webhook answered {status}")))
        }
    }
}

/// What went wrong, without the URL (it may carry a credential).
fn describe(error: reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    format!("the SMS webhook {kind}: {}", error.without_url())
}
