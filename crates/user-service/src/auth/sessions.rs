//! Refresh tokens: issued at every sign-in, rotated on every use, stored only as a SHA-256.
//!
//! A token is 256 random bits (base64url, 43 characters), shown once. Each row of `sessions` is
//! one token; a refresh spends the presented row (`rotated_at`) and inserts its successor in the
//! same family (the session), in one transaction. Presenting a spent token again is reuse: it ends
//! the whole session, unless it is the token spent last, presented within the reuse grace (two
//! tabs refreshing at once), which is refused and ends nothing. Which sessions are live, and
//! ending them, is `domain::sessions`.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, PaginatorTrait, QueryFilter,
};
use shared::entities::session::{self, Column, Entity as Rows};
use shared::entities::{Sensitive, new_id, now, user};
use uuid::Uuid;

use crate::config::SessionSettings;
use crate::domain::{Error, Result, begin_write, sessions, users};

/// The one answer to a refresh token that is unknown, malformed, expired, spent or ended.
pub const INVALID_REFRESH_TOKEN: &str = "Invalid or expired refresh token";

/// The longest `User-Agent` a session keeps (the column's size); longer ones are cut.
const USER_AGENT_LIMIT: usize = 500;

/// How many expired rows one sweep statement removes, and how many statements one sweep runs.
const SWEEP_BATCH: u64 = 1000;
const SWEEP_BATCHES: usize = 10;

/// Who is signing in, as the session remembers it.
#[derive(Debug, Clone)]
pub struct Client {
    pub address: IpAddr,
    pub user_agent: Option<String>,
}

/// A refresh token as issued: shown to the client once, never logged (`Debug` is redacted).
pub struct RefreshToken(String);

impl RefreshToken {
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A token just issued, and its session.
#[derive(Debug)]
pub struct Issued {
    pub session: Uuid,
    pub refresh_token: RefreshToken,
}

/// What a new token row carries of its session.
struct Token {
    user_id: Uuid,
    family: Uuid,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    user_agent: Option<String>,
    ip_address: Option<String>,
}

/// Issues and rotates refresh tokens.
pub struct Sessions {
    settings: SessionSettings,
}

impl Sessions {
    pub fn new(settings: SessionSettings) -> Self {
        Self { settings }
    }

    /// How long a refresh token lives from its issue.
    pub fn refresh_lifetime(&self) -> Duration {
        self.settings.refresh_lifetime
    }

    /// Starts a session for `user_id`: its first refresh token.
    pub async fn start(
        &self,
        db: &impl ConnectionTrait,
        user_id: Uuid,
        client: &Client,
    ) -> Result<Issued> {
        let now = now();
        let first = Token {
            user_id,
            family: new_id(),
            created_at: now,
            last_used_at: None,
            user_agent: client.user_agent.as_deref().map(cut_user_agent),
            ip_address: Some(client.address.to_string()),
        };
        self.insert(db, first, now).await
    }

    /// Spends `token` and issues its successor in the same session, for its user if he is
    /// still active. Anything else is `Unauthenticated` with one message; presenting a spent
    /// token ends its session (see the module).
    pub async fn rotate(
        &self,
        db: &DatabaseConnection,
        token: &str,
    ) -> Result<(user::Model, Issued)> {
        let invalid = || Error::Unauthenticated(INVALID_REFRESH_TOKEN);
        let now = now();
        let txn = begin_write(db).await?;
        let mut row = Rows::find()
            .filter(Column::TokenHash.eq(digest(token).expose()))
            .one(&txn)
            .await?
            .ok_or_else(invalid)?;
        if row.revoked_at.is_some() || row.expires_at <= now {
            return Err(invalid());
        }
        if row.rotated_at.is_none() {
            // Only one of two refreshes racing with this token spends it: PostgreSQL makes the
            // second wait for the first's row lock and then finds it spent; SQLite runs them
            // one after the other.
            let spent = Rows::update_many()
                .col_expr(Column::RotatedAt, Expr::val(now))
                .filter(Column::Id.eq(row.id))
                .filter(Column::RotatedAt.is_null())
                .filter(Column::RevokedAt.is_null())
                .exec(&txn)
                .await?
                .rows_affected;
            if spent == 1 {
                let user = users::find_active(&txn, row.user_id)
                    .await?
                    .ok_or_else(invalid)?;
                let issued = self.successor(&txn, &row, now).await?;
                txn.commit().await?;
                return Ok((user, issued));
            }
            row = Rows::find_by_id(row.id)
                .one(&txn)
                .await?
                .ok_or_else(invalid)?;
            if row.revoked_at.is_some() {
                return Err(invalid());
            }
        }
        if !self.is_graced(&txn, &row, now).await? {
            tracing::warn!(session = %row.family, user = %row.user_id, "a spent refresh token was presented again; the session is ended");
            sessions::end(&txn, row.user_id, row.family).await?;
            txn.commit().await?;
        }
        Err(invalid())
    }

    /// The token after `spent` in its session: the same session, used now.
    async fn successor(
        &self,
        db: &impl ConnectionTrait,
        spent: &session::Model,
        now: DateTime<Utc>,
    ) -> Result<Issued> {
        let next = Token {
            user_id: spent.user_id,
            family: spent.family,
            created_at: spent.created_at,
            last_used_at: Some(now),
            user_agent: spent.user_agent.clone(),
            ip_address: spent.ip_address.clone(),
        };
        self.insert(db, next, now).await
    }

    /// Stores a new current token of `token.family`, issued `now`, and answers it.
    async fn insert(
        &self,
        db: &impl ConnectionTrait,
        token: Token,
        now: DateTime<Utc>,
    ) -> Result<Issued> {
        let (refresh_token, hash) = mint();
        session::ActiveModel {
            id: Set(new_id()),
            user_id: Set(token.user_id),
            family: Set(token.family),
            token_hash: Set(hash),
            created_at: Set(token.created_at),
            last_used_at: Set(token.last_used_at),
            expires_at: Set(self.expiry(now)?),
            rotated_at: Set(None),
            revoked_at: Set(None),
            user_agent: Set(token.user_agent),
            ip_address: Set(token.ip_address),
        }
        .insert(db)
        .await?;
        Ok(Issued {
            session: token.family,
            refresh_token,
        })
    }

    /// Whether the spent token `row` is the one spent last in its session, presented within
    /// the reuse grace of its rotation.
    async fn is_graced(
        &self,
        db: &impl ConnectionTrait,
        row: &session::Model,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let Some(rotated_at) = row.rotated_at else {
            return Ok(false);
        };
        let grace = chrono::TimeDelta::from_std(self.settings.reuse_grace)
            .map_err(|_| Error::Internal("the reuse grace is out of range".to_owned()))?;
        if now >= rotated_at + grace {
            return Ok(false);
        }
        let spent_later = Rows::find()
            .filter(Column::Family.eq(row.family))
            .filter(Column::RotatedAt.gt(rotated_at))
            .count(db)
            .await?;
        Ok(spent_later == 0)
    }

    fn expiry(&self, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
        chrono::TimeDelta::from_std(self.settings.refresh_lifetime)
            .ok()
            .and_then(|lifetime| now.checked_add_signed(lifetime))
            .ok_or_else(|| Error::Internal("REFRESH_TOKEN_TTL_SECONDS is out of range".to_owned()))
    }
}

/// Removes expired rows, a bounded batch at a time and a bounded number of batches, through the
/// index on `expires_at`: never a scan, never a long lock. Answers how many it removed.
pub async fn sweep(db: &impl ConnectionTrait) -> Result<u64> {
    let now = now();
    let mut removed = 0;
    for _ in 0..SWEEP_BATCHES {
        let expired = Query::select()
            .column(Column::Id)
            .from(Rows)
            .and_where(Expr::col(Column::ExpiresAt).lt(now))
            .limit(SWEEP_BATCH)
            .to_owned();
        let deleted = Rows::delete_many()
            .filter(Column::Id.in_subquery(expired))
            .exec(db)
            .await?
            .rows_affected;
        removed += deleted;
        if deleted < SWEEP_BATCH {
            break;
        }
    }
    Ok(removed)
}

/// A new refresh token and the hash that is stored.
fn mint() -> (RefreshToken, Sensitive) {
    let token = super::random_token();
    let hash = digest(&token);
    (RefreshToken(token), hash)
}

/// The stored form of a token ([`super::token_digest`]).
fn digest(token: &str) -> Sensitive {
    Sensitive::new(super::token_digest(token))
}

fn cut_user_agent(agent: &str) -> String {
    agent.chars().take(USER_AGENT_LIMIT).collect()
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    #[test]
    fn a_minted_token_has_256_bits_and_is_stored_only_as_its_sha256() {
        let (token, hash) = mint();
        assert_eq!(token.expose().len(), 43);
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(token.expose())
                .map(|bytes| bytes.len()),
            Ok(32)
        );
        assert_eq!(hash.expose().len(), 64);
        assert_ne!(hash.expose(), token.expose());
        assert_eq!(digest(token.expose()), hash);
        assert_eq!(format!("{token:?}"), "<redacted>");
    }

    #[test]
    fn a_user_agent_is_cut_to_the_column_size_on_a_character_boundary() {
        let long = "é".repeat(600);
        assert_eq!(cut_user_agent(&long).chars().count(), USER_AGENT_LIMIT);
    }
}
