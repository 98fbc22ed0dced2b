//! The tables of the user service (the eight of the foundation, and M2's sessions and identities), in the SeaORM 2 dense entity format.
//!
//! The `migration` crate owns the schema; these entities describe it, and the drift test in
//! `migrations/tests` fails when the two disagree.

pub mod agent;
pub mod billing_log;
pub mod conversation;
pub mod enums;
pub mod message;
pub mod notification;
pub mod phone_code;
pub mod project;
pub mod project_member;
pub mod session;
pub mod user;
pub mod user_identity;

pub use enums::{AgentType, AuthProvider, NotificationType, ProjectRole, UserRole};

/// A text column that must never be shown: a password hash, an OAuth subject, an API key. Its
/// `Debug` prints `<redacted>`, so a model can be logged whole; read it with
/// [`Sensitive::expose`].
#[derive(Clone, PartialEq, Eq, sea_orm::DeriveValueType, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Sensitive(String);

impl Sensitive {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A new primary key. UUIDv7 is time-ordered, so inserts land at the right edge of the primary
/// key index instead of at random pages (the database default, `gen_random_uuid()`, is v4).
pub fn new_id() -> sea_orm::prelude::Uuid {
    sea_orm::prelude::Uuid::now_v7()
}

/// The current time at the precision PostgreSQL stores (microseconds), so a timestamp the
/// service writes reads back equal on both backends, and keyset cursors built from it match.
pub fn now() -> sea_orm::prelude::DateTimeUtc {
    let now = chrono::Utc::now();
    chrono::DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// The `ActiveModelBehavior` every entity shares: a UUIDv7 id and [`now`] timestamps for rows
/// created through the entities, and, for tables with `updated_at`, a fresh `updated_at` on
/// every update (what TypeORM's `@CreateDateColumn`/`@UpdateDateColumn` did).
/// `behavior!(created_at)` or `behavior!(created_at, updated_at)`.
macro_rules! behavior {
    ($created_at:ident $(, $updated_at:ident)?) => {
        #[async_trait::async_trait]
        impl ActiveModelBehavior for ActiveModel {
            fn new() -> Self {
                Self {
                    id: sea_orm::ActiveValue::Set($crate::entities::new_id()),
                    ..sea_orm::ActiveModelTrait::default()
                }
            }

            async fn before_save<C>(mut self, _db: &C, insert: bool) -> Result<Self, DbErr>
            where
                C: ConnectionTrait,
            {
                if insert && self.id.is_not_set() {
                    self.id = sea_orm::ActiveValue::Set($crate::entities::new_id());
                }
                if insert && self.$created_at.is_not_set() {
                    self.$created_at = sea_orm::ActiveValue::Set($crate::entities::now());
                }
                $(
                    if insert && self.$updated_at.is_not_set() {
                        self.$updated_at = self.$created_at.clone();
                    } else if !insert {
                        self.$updated_at = sea_orm::ActiveValue::Set($crate::entities::now());
                    }
                )?
                Ok(self)
            }
        }
    };
}
pub(crate) use behavior;
