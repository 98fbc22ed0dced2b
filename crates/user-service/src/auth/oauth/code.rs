//! The authorization code flow as RFC 6749 and 7636 define it, through the `oauth2` crate: the
//! authorization URL with a PKCE S256 challenge, and the code traded for tokens with its
//! verifier. Google and Facebook speak it; TikTok departs from it (`tiktok.rs`).

use std::borrow::Cow;

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    StandardRevocableToken, StandardTokenResponse, TokenUrl,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use super::{Failure, TokenEndpoint, token_failure};
use crate::config::Credentials;

/// The `id_token` an OpenID provider (Google) sends beside the access token; others send none.
/// `Debug` never shows it.
#[derive(Clone, Deserialize, Serialize)]
pub struct IdTokenField {
    pub id_token: Option<String>,
}

impl std::fmt::Debug for IdTokenField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdTokenField([redacted])")
    }
}

impl ExtraTokenFields for IdTokenField {}

/// The token endpoint's answer.
pub type Tokens = StandardTokenResponse<IdTokenField, BasicTokenType>;

/// A client with its authorization and token endpoints; credentials go in the request body.
pub struct CodeClient(
    oauth2::Client<
        BasicErrorResponse,
        Tokens,
        BasicTokenIntrospectionResponse,
        StandardRevocableToken,
        BasicRevocationErrorResponse,
        EndpointSet,
        EndpointNotSet,
        EndpointNotSet,
        EndpointNotSet,
        EndpointSet,
    >,
);

impl CodeClient {
    pub fn new(credentials: &Credentials, auth_url: &url::Url, token_url: url::Url) -> Self {
        Self(
            oauth2::Client::new(ClientId::new(credentials.id.clone()))
                .set_client_secret(ClientSecret::new(
                    credentials.secret.expose_secret().to_owned(),
                ))
                .set_auth_type(AuthType::RequestBody)
                .set_auth_uri(AuthUrl::from_url(auth_url.clone()))
                .set_token_uri(TokenUrl::from_url(token_url)),
        )
    }

    /// The provider's page for this flow: `scopes`, the S256 challenge of `verifier`, and
    /// `extra` parameters (Google's `nonce`).
    pub fn authorize_url(
        &self,
        callback: &url::Url,
        state: &str,
        verifier: &str,
        scopes: &[&str],
        extra: &[(&str, &str)],
    ) -> url::Url {
        let verifier = PkceCodeVerifier::new(verifier.to_owned());
        let mut request = self
            .0
            .authorize_url(|| CsrfToken::new(state.to_owned()))
            .add_scopes(scopes.iter().map(|scope| Scope::new((*scope).to_owned())))
            .set_pkce_challenge(PkceCodeChallenge::from_code_verifier_sha256(&verifier))
            .set_redirect_uri(Cow::Owned(RedirectUrl::from_url(callback.clone())));
        for (name, value) in extra {
            request = request.add_extra_param(*name, *value);
        }
        request.url().0
    }

    /// Trades `code` for tokens, with the flow's verifier and callback.
    pub async fn exchange(
        &self,
        http: &reqwest::Client,
        code: &str,
        callback: &url::Url,
        verifier: &str,
    ) -> Result<Tokens, Failure> {
        self.0
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
            .set_redirect_uri(Cow::Owned(RedirectUrl::from_url(callback.clone())))
            .request_async(&TokenEndpoint(http))
            .await
            .map_err(token_failure)
    }
}
