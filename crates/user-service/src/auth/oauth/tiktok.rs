//! TikTok Login Kit v2: the authorization page takes `client_key` (not `client_id`), scope
//! `user.info.basic` and a PKCE challenge that is the *hex* SHA-256 of the verifier, as TikTok
//! documents it; `oauth/token/` takes `client_key` and `client_secret` in the form. Those
//! departures from RFC 6749 and 7636 are why this one provider is not spoken through oauth2.
//! `user/info/` gives the name and avatar; TikTok gives no email. The identity is `open_id`.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{Failure, fetch_json, under};
use crate::config;
use crate::domain::identities::{Profile, Provider};

pub struct TikTok {
    client_key: String,
    client_secret: SecretString,
    auth_url: url::Url,
    api_url: url::Url,
}

/// `oauth/token/`'s answer: the token, or TikTok's error.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    open_id: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct UserInfo {
    data: Option<UserData>,
    error: Option<ApiError>,
}

#[derive(Deserialize)]
struct UserData {
    user: Option<User>,
}

#[derive(Deserialize)]
struct User {
    open_id: Option<String>,
    display_name: Option<String>,
    avatar_url: Option<String>,
}

#[derive(Deserialize)]
struct ApiError {
    code: String,
}

impl TikTok {
    pub fn new(settings: &config::TikTok) -> Self {
        Self {
            client_key: settings.credentials.id.clone(),
            client_secret: settings.credentials.secret.clone(),
            auth_url: settings.auth_url.clone(),
            api_url: settings.api_url.clone(),
        }
    }

    pub fn authorize_url(&self, callback: &url::Url, state: &str, verifier: &str) -> url::Url {
        let challenge = hex::encode(Sha256::digest(verifier.as_bytes()));
        let mut url = self.auth_url.clone();
        url.query_pairs_mut()
            .append_pair("client_key", &self.client_key)
            .append_pair("scope", "user.info.basic")
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", callback.as_str())
            .append_pair("state", state)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        url
    }

    pub async fn profile_for_code(
        &self,
        http: &reqwest::Client,
        code: &str,
        callback: &url::Url,
        verifier: &str,
    ) -> Result<Profile, Failure> {
        let form = [
            ("client_key", self.client_key.as_str()),
            ("client_secret", self.client_secret.expose_secret()),
            ("code", code),
            ("grant_type", "authorization_code"),
            ("redirect_uri", callback.as_str()),
            ("code_verifier", verifier),
        ];
        let request = http.post(under(&self.api_url, "oauth/token/")).form(&form);
        let answer: TokenAnswer = fetch_json(request, "TikTok's oauth/token/").await?;
        let (Some(access_token), Some(open_id), None) =
            (answer.access_token, answer.open_id, answer.error.as_deref())
        else {
            let error = answer.error.unwrap_or_else(|| "no access_token".to_owned());
            return Err(Failure::Rejected(format!(
                "oauth/token/ refused the code: {error}"
            )));
        };
        let mut info = under(&self.api_url, "user/info/");
        info.query_pairs_mut()
            .append_pair("fields", "open_id,union_id,avatar_url,display_name");
        let request = http.get(info).bearer_auth(access_token);
        let info: UserInfo = fetch_json(request, "TikTok's user/info/").await?;
        if let Some(error) = info.error.filter(|error| error.code != "ok") {
            return Err(Failure::Rejected(format!("user/info/: {}", error.code)));
        }
        let user = info
            .data
            .and_then(|data| data.user)
            .ok_or_else(|| Failure::Rejected("user/info/ sent no user".to_owned()))?;
        if user.open_id.as_deref().is_some_and(|id| id != open_id) {
            return Err(Failure::Rejected(
                "user/info/ named another user".to_owned(),
            ));
        }
        Ok(Profile {
            provider: Provider::Tiktok,
            subject: open_id,
            name: user.display_name,
            email: None,
            email_verified: false,
            avatar_url: user.avatar_url,
        })
    }
}
