//! Sign-in by phone with one-time codes (AUTH.md, "Phone").
//!
//! - A code is six uniform digits from a CSPRNG (rand's thread generator: ChaCha12, seeded and
//!   reseeded from the operating system). It is stored only as an HMAC-SHA-256 of the number and
//!   the code, under a key derived from `JWT_SECRET`: six digits are a million guesses, so a
//!   plain hash of a leaked row would give the code away at once.
//! - One live code per number (`phone_codes.phone` is unique): a new request replaces the old
//!   code. A code lives `OTP_TTL_SECONDS`, signs in once, and `OTP_MAX_ATTEMPTS` wrong tries burn
//!   it; wrong, expired, burnt and unknown codes get one answer.
//! - Codes live in the database, which every replica shares, so a code asked for through one
//!   replica is checked through another, with or without Redis, and a Redis outage loses none.
//!   The check runs in one write transaction (the row locked on PostgreSQL), so concurrent tries
//!   are counted one by one and a code signs in exactly once; using it and the sign-in it
//!   grants commit together.
//! - Requests are limited per number (one per `OTP_RESEND_SECONDS`, `OTP_MAX_PER_PHONE` an hour)
//!   and per client address (`OTP_MAX_PER_ADDRESS` an hour) by the shared throttle (Redis, or
//!   the process without it). Every request that was not refused counts, sent or not.
//! - The answer is the same whether or not the number has an account: every number gets a code.
//! - A send that fails leaves no live code, and the client gets 503.

use std::net::IpAddr;
use std::time::Duration;

use chrono::TimeDelta;
use hmac::Mac;
use rand::Rng;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, IntoActiveModel, QueryFilter, QuerySelect,
};
use shared::entities::phone_code::{ActiveModel, Column, Entity as Codes};
use shared::entities::{Sensitive, new_id, now, user};

use super::sms::{Code, SendCode, Sender};
use super::throttle::Budget;
use super::{Auth, SignedIn, sessions::Client};
use crate::config::PhoneSettings;
use crate::domain::values::{Name, OneTimeCode, Phone};
use crate::domain::{CurrentUser, Error, Result, begin_write, locks_rows, users};

/// The one answer to a code that does not sign in, whatever the reason.
pub const INVALID_CODE: &str = "Invalid or expired code";

/// What the code throttle's 429 says.
const TOO_MANY_CODES: &str = "Too many codes requested, try again later";

/// The window of the hourly limits.
const HOUR: Duration = Duration::from_secs(3600);

/// Codes: how they are made, kept and sent.
pub struct PhoneCodes {
    /// The HMAC key of stored codes.
    key: [u8; 32],
    settings: PhoneSettings,
    sender: Sender,
}

/// What a code request answers: how long the code lives, and when another may be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeSent {
    pub expires_in: Duration,
    pub retry_after: Duration,
}

/// A code to check, as `POST /auth/phone/verify` sends it.
#[derive(Debug)]
pub struct Verification {
    pub phone: Phone,
    pub code: OneTimeCode,
    /// The new account's name, if the code creates one.
    pub name: Option<Name>,
}

/// What a proven phone did.
pub enum Proven {
    /// Signed in the account whose verified phone it is.
    SignedIn(SignedIn),
    /// Created a phone account and signed it in.
    Created(SignedIn),
    /// Attached the phone, verified, to the signed-in caller.
    Attached(user::Model),
}

impl PhoneCodes {
    /// `secret` is the access tokens' key: the codes' key is derived from it, so replicas that
    /// share `JWT_SECRET` check each other's codes.
    pub fn new(settings: &PhoneSettings, secret: &[u8]) -> Result<Self, reqwest::Error> {
        let mut derive = super::keyed(secret);
        derive.update(b"user-service phone codes v1");
        Ok(Self {
            key: derive.finalize().into_bytes().into(),
            sender: Sender::new(&settings.sms, settings.send_timeout)?,
            settings: settings.clone(),
        })
    }

    fn mac(&self, phone: &Phone, code: &str) -> hmac::Hmac<sha2::Sha256> {
        let mut mac = super::keyed(&self.key);
        mac.update(phone.as_str().as_bytes());
        mac.update(b":");
        mac.update(code.as_bytes());
        mac
    }

    /// The stored form of `code` for `phone`.
    fn digest(&self, phone: &Phone, code: &str) -> Sensitive {
        Sensitive::new(hex::encode(self.mac(phone, code).finalize().into_bytes()))
    }

    /// Whether `code` is the one stored as `stored`, compared in constant time.
    fn matches(&self, phone: &Phone, code: &str, stored: &Sensitive) -> bool {
        hex::decode(stored.expose())
            .is_ok_and(|stored| self.mac(phone, code).verify_slice(&stored).is_ok())
    }

    /// Stores a new code for `phone` (replacing any other) and sends it; a failed send takes it
    /// away again.
    async fn issue(&self, db: &impl ConnectionTrait, phone: &Phone) -> Result<()> {
        let code = mint();
        let code_hash = self.digest(phone, code.expose());
        let now = now();
        let lifetime = TimeDelta::from_std(self.settings.code_lifetime)
            .map_err(|_| Error::Internal("OTP_TTL_SECONDS is out of range".to_owned()))?;
        let row = ActiveModel {
            id: Set(new_id()),
            phone: Set(phone.as_str().to_owned()),
            code_hash: Set(code_hash.clone()),
            attempts: Set(0),
            created_at: Set(now),
            expires_at: Set(now + lifetime),
        };
        Codes::insert(row)
            .on_conflict(
                OnConflict::column(Column::Phone)
                    .update_columns([
                        Column::CodeHash,
                        Column::Attempts,
                        Column::CreatedAt,
                        Column::ExpiresAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
        if let Err(failed) = self.sender.send(phone, &code).await {
            let removed = Codes::delete_many()
                .filter(Column::Phone.eq(phone.as_str()))
                .filter(Column::CodeHash.eq(code_hash.expose()))
                .exec(db)
                .await;
            if let Err(error) = removed {
                // Nobody knows this code, and it expires on its own.
                tracing::warn!(%error, "a code that was not sent could not be removed");
            }
            return Err(Error::Unavailable(failed.to_string()));
        }
        Ok(())
    }
}

/// Six digits, uniform, from the thread's CSPRNG (ChaCha, seeded by the operating system).
fn mint() -> Code {
    let number: u32 = rand::rng().random_range(0..1_000_000);
    Code::new(format!("{number:06}"))
}

impl Auth {
    /// Sends a sign-in code to `phone`, for a client at `address`: the same answer whether or
    /// not the number has an account.
    pub async fn send_phone_code(
        &self,
        db: &impl ConnectionTrait,
        phone: &Phone,
        address: IpAddr,
    ) -> Result<CodeSent> {
        let codes = &self.phone;
        if !codes.sender.is_on() {
            return Err(Error::Unavailable(
                "phone codes are off: SMS_PROVIDER is not set".to_owned(),
            ));
        }
        let settings = &codes.settings;
        let budgets = [
            Budget {
                key: format!("otp:phone:{}", phone.as_str()),
                limit: 1,
                window: settings.resend_interval,
            },
            Budget {
                key: format!("otp:phone-hour:{}", phone.as_str()),
                limit: settings.max_per_phone,
                window: HOUR,
            },
            Budget {
                key: format!("otp:address:{address}"),
                limit: settings.max_per_address,
                window: HOUR,
            },
        ];
        let reservation = self.admit(&budgets, TOO_MANY_CODES).await?;
        let issued = codes.issue(db, phone).await;
        // Sent or not, the request counts: a failing gateway must not become a free retry loop.
        let retry_after = reservation.settle(true).await;
        issued?;
        Ok(CodeSent {
            expires_in: settings.code_lifetime,
            retry_after: retry_after.max(settings.resend_interval),
        })
    }

    /// Checks a code. Anonymous (`caller` `None`): signs in the number's verified owner or
    /// creates a phone account. Signed in: attaches the number, verified, to the caller.
    pub async fn verify_phone_code(
        &self,
        db: &DatabaseConnection,
        verification: Verification,
        caller: Option<&CurrentUser>,
        client: &Client,
    ) -> Result<Proven> {
        let Verification { phone, code, name } = verification;
        let txn = begin_write(db).await?;
        let mut query = Codes::find().filter(Column::Phone.eq(phone.as_str()));
        if locks_rows(&txn) {
            query = query.lock_exclusive();
        }
        let max_attempts = i32::try_from(self.phone.settings.max_attempts).unwrap_or(i32::MAX);
        let live = query
            .one(&txn)
            .await?
            .filter(|row| row.expires_at > now() && row.attempts < max_attempts);
        let Some(row) = live else {
            return Err(Error::Unauthenticated(INVALID_CODE));
        };
        if !self.phone.matches(&phone, code.as_str(), &row.code_hash) {
            let attempts = row.attempts + 1;
            if attempts >= max_attempts {
                Codes::delete_by_id(row.id).exec(&txn).await?;
            } else {
                let mut row = row.into_active_model();
                row.attempts = Set(attempts);
                row.update(&txn).await?;
            }
            txn.commit().await?;
            return Err(Error::Unauthenticated(INVALID_CODE));
        }
        Codes::delete_by_id(row.id).exec(&txn).await?;
        if let Some(caller) = caller {
            let user = users::attach_proven_phone(&txn, caller.id(), &phone).await?;
            txn.commit().await?;
            return Ok(Proven::Attached(user));
        }
        let (user, created) = users::for_proven_phone(&txn, &phone, name).await?;
        if !user.is_active {
            // The code is used; the answer is the one for any code that does not sign in.
            txn.commit().await?;
            return Err(Error::Unauthenticated(INVALID_CODE));
        }
        let issued = self.sessions.start(&txn, user.id, client).await?;
        txn.commit().await?;
        let signed_in = self.signed_in(user, issued)?;
        Ok(if created {
            Proven::Created(signed_in)
        } else {
            Proven::SignedIn(signed_in)
        })
    }
}

/// Removes expired codes (the index on `expires_at`); answers how many.
pub async fn sweep(db: &impl ConnectionTrait) -> Result<u64> {
    Ok(Codes::delete_many()
        .filter(Column::ExpiresAt.lt(now()))
        .exec(db)
        .await?
        .rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SmsProvider;

    fn codes(secret: &[u8]) -> PhoneCodes {
        let settings = PhoneSettings {
            code_lifetime: Duration::from_secs(300),
            max_attempts: 5,
            resend_interval: Duration::from_secs(60),
            max_per_phone: 5,
            max_per_address: 20,
            sms: SmsProvider::Log,
            send_timeout: Duration::from_secs(5),
        };
        PhoneCodes::new(&settings, secret).unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn codes_are_six_digits_and_never_show_in_debug() {
        for _ in 0..200 {
            let code = mint();
            assert_eq!(code.expose().len(), 6);
            assert!(code.expose().bytes().all(|b| b.is_ascii_digit()));
            assert_eq!(format!("{code:?}"), "Code(<redacted>)");
        }
    }

    #[test]
    fn a_stored_code_is_keyed_to_its_number_and_the_secret() {
        let phone = Phone::parse("+84901234567").unwrap_or_else(|| panic!("a valid number"));
        let other = Phone::parse("+84901234568").unwrap_or_else(|| panic!("a valid number"));
        let codes = codes(b"0123456789abcdef0123456789abcdef");
        let stored = codes.digest(&phone, "123456");
        assert_eq!(stored.expose().len(), 64);
        assert_ne!(stored.expose(), "123456");
        assert!(codes.matches(&phone, "123456", &stored));
        assert!(!codes.matches(&phone, "123457", &stored));
        assert!(!codes.matches(&other, "123456", &stored), "another number");
        let elsewhere = self::codes(b"another secret, another service!");
        assert!(!elsewhere.matches(&phone, "123456", &stored), "another key");
    }
}
