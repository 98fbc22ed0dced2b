//! Signing in: the one room for credentials. Access tokens ([`tokens`]), refresh tokens and their
//! rotation ([`sessions`]), password hashing ([`passwords`]), the throttle ([`throttle`]), phone
//! codes ([`phone`]) and how they are sent ([`sms`]), and the sign-in flows built on them
//! ([`Auth::register`], [`Auth::login`], [`Auth::refresh`], [`Auth::send_phone_code`],
//! [`Auth::verify_phone_code`]). It knows no HTTP: it answers with the domain's `Error`, and the
//! handlers in `http::auth` and `http::phone` only parse and answer. Milestone M2's OAuth
//! providers are a room of their own ([`oauth`]).

pub mod oauth;
pub mod passwords;
pub mod phone;
pub mod sessions;
pub mod sms;
pub mod throttle;
pub mod tokens;

use std::net::IpAddr;

use sea_orm::{ConnectionTrait, DatabaseConnection};
use shared::entities::{UserRole, user};

pub use oauth::OAuth;
pub use passwords::Passwords;
pub use phone::PhoneCodes;
pub use sessions::{Client, Sessions};
pub use throttle::Throttle;
pub use tokens::Tokens;

use crate::config::{Registration, ThrottleSettings};
use crate::domain::users::{self, NewUser, PasswordHashing};
use crate::domain::values::{Email, GivenPassword, Name, Password, Phone};
use crate::domain::{Error, Result};
use throttle::{Budget, Reservation, Verdict};

/// The one answer to a failed login, whatever failed.
pub const INVALID_CREDENTIALS: &str = "Invalid email or password";
/// The same for a login by phone.
pub const INVALID_PHONE_CREDENTIALS: &str = "Invalid phone or password";

/// What the throttles refuse, as the 429's message says it.
const FAILED_LOGINS: &str = "Too many failed login attempts, try again later";
const REGISTRATIONS: &str = "Too many registrations from this address, try again later";

/// Everything sign-in needs, built once at start.
pub struct Auth {
    pub tokens: Tokens,
    pub sessions: Sessions,
    pub passwords: Passwords,
    pub throttle: Throttle,
    pub limits: ThrottleSettings,
    pub phone: PhoneCodes,
    pub oauth: OAuth,
    /// Seeded accounts' published passwords, which never log in (production only; else empty).
    pub published: Vec<(String, String)>,
    pub registration: Registration,
}

/// A new account as `POST /auth/register` asks for it.
#[derive(Debug)]
pub struct Registering {
    pub name: Name,
    pub email: Email,
    pub password: Password,
    pub phone: Option<Phone>,
}

/// Who logs in with a password: an email, or a verified phone.
#[derive(Debug)]
pub enum Login {
    Email(Email),
    Phone(Phone),
}

impl Login {
    /// The throttle's key of this account's failures.
    fn budget_key(&self) -> String {
        match self {
            Self::Email(email) => format!("login:email:{}", email.as_str()),
            Self::Phone(phone) => format!("login:phone:{}", phone.as_str()),
        }
    }

    /// The one answer to every failure.
    fn refusal(&self) -> Error {
        Error::Unauthenticated(match self {
            Self::Email(_) => INVALID_CREDENTIALS,
            Self::Phone(_) => INVALID_PHONE_CREDENTIALS,
        })
    }

    /// The account this names, if any (a phone names only its verified owner).
    async fn account(&self, db: &impl ConnectionTrait) -> Result<Option<user::Model>> {
        match self {
            Self::Email(email) => users::find_by_email(db, email).await,
            Self::Phone(phone) => users::find_by_verified_phone(db, phone).await,
        }
    }
}

/// A successful sign-in (or refresh): the user, an access token, and the session's refresh token.
/// No `Debug`: it holds the access token (the refresh token's own `Debug` is redacted).
pub struct SignedIn {
    pub user: user::Model,
    pub access_token: String,
    pub refresh_token: sessions::RefreshToken,
}

impl Auth {
    /// Creates an account (role `user`, provider `email`) unless registration is closed; every
    /// attempt counts against the address's registration budget.
    pub async fn register(
        &self,
        db: &impl ConnectionTrait,
        new: Registering,
        address: IpAddr,
    ) -> Result<user::Model> {
        if self.registration == Registration::Closed {
            return Err(Error::Forbidden("Registration is closed"));
        }
        let budgets = [Budget {
            key: format!("register:address:{address}"),
            limit: self.limits.registrations_per_address,
            window: self.limits.registration_window,
        }];
        let reservation = self.admit(&budgets, REGISTRATIONS).await?;
        let created = self.create_account(db, new).await;
        reservation.settle(true).await;
        created
    }

    async fn create_account(
        &self,
        db: &impl ConnectionTrait,
        new: Registering,
    ) -> Result<user::Model> {
        let password = PasswordHashing::hash(&self.passwords, new.password).await?;
        users::create(
            db,
            NewUser {
                name: new.name,
                email: new.email,
                phone: new.phone,
                password: Some(password),
                role: UserRole::User,
                is_active: true,
                avatar_url: None,
            },
        )
        .await
    }

    /// Logs in with an email or a verified phone and a password, from `client`, starting a
    /// session. A wrong password, an unknown account, an unverified phone and an inactive
    /// account get the same answer and take the same time; failures are throttled per account
    /// (email or phone) and per address.
    pub async fn login(
        &self,
        db: &impl ConnectionTrait,
        login: &Login,
        password: GivenPassword,
        client: &Client,
    ) -> Result<SignedIn> {
        let address = client.address;
        let budgets = [
            Budget {
                key: login.budget_key(),
                limit: self.limits.max_per_email,
                window: self.limits.window,
            },
            Budget {
                key: format!("login:address:{address}"),
                limit: self.limits.max_per_address,
                window: self.limits.window,
            },
        ];
        let reservation = self.admit(&budgets, FAILED_LOGINS).await?;
        let outcome = self.authenticate(db, login, password).await;
        // Only a failed password check counts.
        let failed = matches!(outcome, Err(Error::Unauthenticated(_)));
        reservation.settle(failed).await;
        let user = outcome?;
        let issued = self.sessions.start(db, user.id, client).await?;
        self.signed_in(user, issued)
    }

    /// Spends `refresh_token` for a new access token and its successor (see [`sessions`]).
    pub async fn refresh(&self, db: &DatabaseConnection, refresh_token: &str) -> Result<SignedIn> {
        let (user, issued) = self.sessions.rotate(db, refresh_token).await?;
        self.signed_in(user, issued)
    }

    pub(crate) fn signed_in(
        &self,
        user: user::Model,
        issued: sessions::Issued,
    ) -> Result<SignedIn> {
        let access_token = self.tokens.issue(user.id, issued.session)?;
        Ok(SignedIn {
            user,
            access_token,
            refresh_token: issued.refresh_token,
        })
    }

    /// A place in every budget, or `TooManyAttempts` saying what was too many.
    async fn admit(&self, budgets: &[Budget], what: &'static str) -> Result<Reservation> {
        match self.throttle.reserve(budgets).await {
            Verdict::Allowed(reservation) => Ok(reservation),
            Verdict::Blocked { retry_after_secs } => Err(Error::TooManyAttempts {
                retry_after_secs,
                message: what,
            }),
        }
    }

    /// The active user with this login and password, or `Unauthenticated` (the same for every
    /// reason). Without an account or a stored password, one verification is still paid.
    async fn authenticate(
        &self,
        db: &impl ConnectionTrait,
        login: &Login,
        password: GivenPassword,
    ) -> Result<user::Model> {
        let user = login.account(db).await?;
        let stored = user.as_ref().and_then(|user| user.password.clone());
        let email = user.as_ref().and_then(|user| user.email.as_deref());
        let published = self
            .published
            .iter()
            .any(|(account, known)| Some(account.as_str()) == email && known == password.as_str());
        let matched = PasswordHashing::verify(&self.passwords, password, stored).await?;
        user.filter(|user| matched && user.is_active && !published)
            .ok_or_else(|| login.refusal())
    }
}

/// HMAC-SHA-256 keyed with `key`: phone codes' tags, OAuth flows' derived secrets, Facebook's
/// `appsecret_proof`. HMAC takes a key of any length, so the error arm cannot be reached.
pub(crate) fn keyed(key: &[u8]) -> hmac::Hmac<sha2::Sha256> {
    use hmac::Mac;
    hmac::Hmac::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"))
}

/// 256 random bits from the operating system, base64url: refresh tokens, OAuth states and
/// login codes.
pub(crate) fn random_token() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(shared::password::random_bytes::<32>())
}

/// The stored form of a [`random_token`]: its SHA-256, in hex. It carries 256 random bits, so a
/// fast hash is enough: there is nothing to guess.
pub(crate) fn token_digest(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}
