//! Signing in: the one room for credentials. Access tokens ([`tokens`]), password hashing
//! ([`passwords`]) and the login throttle ([`throttle`]), and the sign-in flows built on them
//! ([`Auth::register`], [`Auth::login`]). It knows no HTTP: it answers with the domain's
//! `Error`, and the handlers in `http::auth` only parse and answer. Milestone M2's sessions,
//! phone codes and OAuth providers go here as rooms of their own.

pub mod passwords;
pub mod throttle;
pub mod tokens;

use std::net::IpAddr;

use sea_orm::ConnectionTrait;
use shared::entities::{UserRole, user};

pub use passwords::Passwords;
pub use throttle::LoginThrottle;
pub use tokens::Tokens;

use crate::config::Registration;
use crate::domain::users::{self, NewUser, PasswordHashing};
use crate::domain::values::{Email, GivenPassword, Name, Password, Phone};
use crate::domain::{Error, Result};
use throttle::Verdict;

/// The one answer to a failed login, whatever failed.
pub const INVALID_CREDENTIALS: &str = "Invalid email or password";

/// Everything sign-in needs, built once at start.
pub struct Auth {
    pub tokens: Tokens,
    pub passwords: Passwords,
    pub throttle: LoginThrottle,
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

/// A successful login: the user and his access token.
#[derive(Debug)]
pub struct SignedIn {
    pub user: user::Model,
    pub access_token: String,
}

impl Auth {
    /// Creates an account (role `user`, provider `email`) unless registration is closed.
    pub async fn register(
        &self,
        db: &impl ConnectionTrait,
        new: Registering,
    ) -> Result<user::Model> {
        if self.registration == Registration::Closed {
            return Err(Error::Forbidden("Registration is closed"));
        }
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

    /// Logs in with email and password, from `address`. A wrong password, an unknown email and
    /// an inactive account get the same answer and take the same time; failures are throttled
    /// per email and per address.
    pub async fn login(
        &self,
        db: &impl ConnectionTrait,
        email: &Email,
        password: GivenPassword,
        address: IpAddr,
    ) -> Result<SignedIn> {
        let reservation = match self.throttle.reserve(email.as_str(), address).await {
            Verdict::Allowed(reservation) => reservation,
            Verdict::Blocked { retry_after_secs } => {
                return Err(Error::TooManyAttempts { retry_after_secs });
            }
        };
        let user = match self.authenticate(db, email, password).await {
            Err(Error::Unauthenticated(message)) => return Err(Error::Unauthenticated(message)),
            outcome => {
                // Only a failed login keeps its place in the throttle's window.
                self.throttle.refund(reservation).await;
                outcome?
            }
        };
        let access_token = self.tokens.issue(user.id)?;
        Ok(SignedIn { user, access_token })
    }

    /// The active user with this email and password, or `Unauthenticated` (the same for every
    /// reason).
    async fn authenticate(
        &self,
        db: &impl ConnectionTrait,
        email: &Email,
        password: GivenPassword,
    ) -> Result<user::Model> {
        let user = users::find_by_email(db, email).await?;
        let stored = user.as_ref().and_then(|user| user.password.clone());
        let published = self
            .published
            .iter()
            .any(|(account, known)| account == email.as_str() && known == password.as_str());
        let matched = PasswordHashing::verify(&self.passwords, password, stored).await?;
        user.filter(|user| matched && user.is_active && !published)
            .ok_or(Error::Unauthenticated(INVALID_CREDENTIALS))
    }
}
