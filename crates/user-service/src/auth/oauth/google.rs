//! Google, as OpenID Connect: the authorization code flow (scopes `openid email profile`, PKCE
//! S256, `nonce`) and the `id_token`, checked against Google's JWKS (signature by a key of the
//! set, fetched again when a token names a `kid` the cached set lacks; `iss`, `aud`, `exp` with
//! 60 s of leeway, and the flow's `nonce`). The identity is the token's `sub`.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};

use super::code::CodeClient;
use super::{Failure, fetch_json};
use crate::config;
use crate::domain::identities::{Profile, Provider};
use crate::domain::values::Email;

/// The issuers Google's tokens name (both spellings are Google's own).
const ISSUERS: [&str; 2] = ["https://accounts.google.com", "accounts.google.com"];

pub struct Google {
    client: CodeClient,
    client_id: String,
    jwks_url: url::Url,
    keys: RwLock<JwkSet>,
    /// One fetch of the key set at a time.
    refreshing: Mutex<()>,
}

/// The claims of Google's `id_token` that the service reads.
#[derive(Deserialize)]
struct Claims {
    sub: String,
    email: Option<String>,
    #[serde(default, deserialize_with = "flag")]
    email_verified: bool,
    name: Option<String>,
    picture: Option<String>,
    nonce: Option<String>,
}

/// `email_verified` is a boolean, or (in some of Google's older tokens) the string `"true"`.
fn flag<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Text(String),
    }
    Ok(match Flag::deserialize(deserializer)? {
        Flag::Bool(value) => value,
        Flag::Text(text) => text == "true",
    })
}

impl Google {
    pub fn new(settings: &config::Google) -> Self {
        Self {
            client: CodeClient::new(
                &settings.credentials,
                &settings.auth_url,
                settings.token_url.clone(),
            ),
            client_id: settings.credentials.id.clone(),
            jwks_url: settings.jwks_url.clone(),
            keys: RwLock::new(JwkSet { keys: Vec::new() }),
            refreshing: Mutex::new(()),
        }
    }

    pub fn authorize_url(
        &self,
        callback: &url::Url,
        state: &str,
        verifier: &str,
        nonce: &str,
    ) -> url::Url {
        let scopes = ["openid", "email", "profile"];
        self.client
            .authorize_url(callback, state, verifier, &scopes, &[("nonce", nonce)])
    }

    /// Trades the code for tokens and verifies the `id_token` with the flow's `nonce`.
    pub async fn profile_for_code(
        &self,
        http: &reqwest::Client,
        code: &str,
        callback: &url::Url,
        verifier: &str,
        nonce: &str,
    ) -> Result<Profile, Failure> {
        let tokens = self.client.exchange(http, code, callback, verifier).await?;
        let id_token =
            tokens.extra_fields().id_token.as_deref().ok_or_else(|| {
                Failure::Rejected("the token endpoint sent no id_token".to_owned())
            })?;
        self.verify(http, id_token, Some(nonce)).await
    }

    /// The profile an `id_token` vouches for: signed by a key of Google's set, for this client,
    /// from Google, unexpired, and carrying `nonce` when one is expected.
    pub async fn verify(
        &self,
        http: &reqwest::Client,
        id_token: &str,
        nonce: Option<&str>,
    ) -> Result<Profile, Failure> {
        let rejected = |why: &str| Failure::Rejected(format!("id_token: {why}"));
        let header = jsonwebtoken::decode_header(id_token).map_err(|_| rejected("unreadable"))?;
        if header.alg != Algorithm::RS256 {
            return Err(rejected("not RS256"));
        }
        let kid = header.kid.ok_or_else(|| rejected("no kid"))?;
        let key = self.key(http, &kid).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = 60;
        validation.set_audience(&[&self.client_id]);
        validation.set_issuer(&ISSUERS);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(id_token, &key, &validation)
            .map_err(|error| rejected(&format!("{:?}", error.kind())))?
            .claims;
        if let Some(nonce) = nonce
            && claims.nonce.as_deref() != Some(nonce)
        {
            return Err(rejected("wrong nonce"));
        }
        Ok(Profile {
            provider: Provider::Google,
            subject: claims.sub,
            name: claims.name,
            email: claims.email.as_deref().and_then(Email::parse),
            email_verified: claims.email_verified,
            avatar_url: claims.picture,
        })
    }

    /// The key `kid` names, from the cached set, or from a fresh one when the cache lacks it
    /// (Google rotates its keys).
    async fn key(&self, http: &reqwest::Client, kid: &str) -> Result<DecodingKey, Failure> {
        if let Some(key) = find(&*self.keys.read().await, kid) {
            return key;
        }
        let _one_fetch = self.refreshing.lock().await;
        // Another request may have fetched it meanwhile.
        if let Some(key) = find(&*self.keys.read().await, kid) {
            return key;
        }
        let fresh: JwkSet =
            fetch_json(http.get(self.jwks_url.clone()), "the JWKS endpoint").await?;
        let key = find(&fresh, kid);
        *self.keys.write().await = fresh;
        key.unwrap_or_else(|| Err(Failure::Rejected("id_token: unknown kid".to_owned())))
    }
}

fn find(keys: &JwkSet, kid: &str) -> Option<Result<DecodingKey, Failure>> {
    keys.find(kid).map(|jwk| {
        DecodingKey::from_jwk(jwk)
            .map_err(|_| Failure::Unavailable("the JWKS holds an unusable key".to_owned()))
    })
}
