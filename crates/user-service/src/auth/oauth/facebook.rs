//! Facebook Login over the Graph API: the authorization code flow (scopes `email
//! public_profile`, PKCE S256), `oauth/access_token`, and `/me?fields=id,name,email,picture`
//! sent with the token as a bearer and its `appsecret_proof` (HMAC-SHA256 of the token, keyed
//! with the app secret). A token from a mobile SDK is first checked with `debug_token`: valid,
//! and issued to this app. The identity is the user's `id`; Facebook does not say whether an
//! email is verified, so `email_verified` stays false.

use hmac::Mac;
use oauth2::TokenResponse;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::code::CodeClient;
use super::{Failure, fetch_json, under};
use crate::config;
use crate::domain::identities::{Profile, Provider};
use crate::domain::values::Email;

pub struct Facebook {
    client: CodeClient,
    app_id: String,
    app_secret: SecretString,
    graph_url: url::Url,
}

#[derive(Deserialize)]
struct Me {
    id: String,
    name: Option<String>,
    email: Option<String>,
    picture: Option<Picture>,
}

#[derive(Deserialize)]
struct Picture {
    data: Option<PictureData>,
}

#[derive(Deserialize)]
struct PictureData {
    url: Option<String>,
}

#[derive(Deserialize)]
struct Debugged {
    data: TokenInfo,
}

#[derive(Deserialize)]
struct TokenInfo {
    #[serde(default)]
    is_valid: bool,
    app_id: Option<String>,
}

impl Facebook {
    pub fn new(settings: &config::Facebook) -> Self {
        let token_url = under(&settings.graph_url, "oauth/access_token");
        Self {
            client: CodeClient::new(&settings.credentials, &settings.dialog_url, token_url),
            app_id: settings.credentials.id.clone(),
            app_secret: settings.credentials.secret.clone(),
            graph_url: settings.graph_url.clone(),
        }
    }

    pub fn authorize_url(&self, callback: &url::Url, state: &str, verifier: &str) -> url::Url {
        let scopes = ["email", "public_profile"];
        self.client
            .authorize_url(callback, state, verifier, &scopes, &[])
    }

    pub async fn profile_for_code(
        &self,
        http: &reqwest::Client,
        code: &str,
        callback: &url::Url,
        verifier: &str,
    ) -> Result<Profile, Failure> {
        let tokens = self.client.exchange(http, code, callback, verifier).await?;
        self.me(http, tokens.access_token().secret()).await
    }

    /// A token a Facebook SDK obtained: `debug_token` must say it is valid and this app's.
    pub async fn profile_for_sdk_token(
        &self,
        http: &reqwest::Client,
        access_token: &str,
    ) -> Result<Profile, Failure> {
        let app_token = format!("{}|{}", self.app_id, self.app_secret.expose_secret());
        let request = http
            .get(under(&self.graph_url, "debug_token"))
            .query(&[("input_token", access_token)])
            .bearer_auth(app_token);
        let debugged: Debugged = fetch_json(request, "debug_token").await?;
        if !debugged.data.is_valid {
            return Err(Failure::Rejected("debug_token: not valid".to_owned()));
        }
        if debugged.data.app_id.as_deref() != Some(self.app_id.as_str()) {
            return Err(Failure::Rejected(
                "debug_token: another app's token".to_owned(),
            ));
        }
        self.me(http, access_token).await
    }

    /// `/me`, with the token's `appsecret_proof`.
    async fn me(&self, http: &reqwest::Client, access_token: &str) -> Result<Profile, Failure> {
        let mut proof = super::super::keyed(self.app_secret.expose_secret().as_bytes());
        proof.update(access_token.as_bytes());
        let proof = hex::encode(proof.finalize().into_bytes());
        let request = http
            .get(under(&self.graph_url, "me"))
            .query(&[
                ("fields", "id,name,email,picture"),
                ("appsecret_proof", proof.as_str()),
            ])
            .bearer_auth(access_token);
        let me: Me = fetch_json(request, "the Graph API's /me").await?;
        Ok(Profile {
            provider: Provider::Facebook,
            subject: me.id,
            name: me.name,
            email: me.email.as_deref().and_then(Email::parse),
            email_verified: false,
            avatar_url: me.picture.and_then(|picture| picture.data?.url),
        })
    }
}
