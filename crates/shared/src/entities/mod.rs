//! The eight tables of the user-service foundation, in the SeaORM 2 dense entity format.
//!
//! The `migration` crate owns the schema; these entities describe it, and the drift test in
//! `migrations/tests` fails when the two disagree.

pub mod agent;
pub mod billing_log;
pub mod conversation;
pub mod enums;
pub mod message;
pub mod notification;
pub mod project;
pub mod project_member;
pub mod user;

pub use enums::{AgentType, AuthProvider, NotificationType, ProjectRole, UserRole};

/// A new primary key. UUIDv7 is time-ordered, so inserts land at the right edge of the primary
/// key index instead of at random pages (the database default, `gen_random_uuid()`, is v4).
pub fn new_id() -> sea_orm::prelude::Uuid {
    sea_orm::prelude::Uuid::now_v7()
}

/// The `ActiveModelBehavior` every entity shares: a UUIDv7 id for rows created through the
/// entities, and, for tables with `updated_at`, a fresh `updated_at` on every update (what
/// TypeORM's `@UpdateDateColumn` did).
macro_rules! behavior {
    ($($updated_at:ident)?) => {
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
                $(
                    if !insert {
                        self.$updated_at = sea_orm::ActiveValue::Set(chrono::Utc::now());
                    }
                )?
                Ok(self)
            }
        }
    };
}
pub(crate) use behavior;
