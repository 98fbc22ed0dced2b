//! `users`: accounts. The password column holds an argon2id PHC string, never a plain password.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use super::Sensitive;
use super::enums::{AuthProvider, UserRole};

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(column_type = "String(StringLen::N(255))")]
    pub name: String,
    /// `None` for accounts made by phone or by a provider that gave no verified email.
    #[sea_orm(column_type = "String(StringLen::N(255))", unique)]
    pub email: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(20))", unique)]
    pub phone: Option<String>,
    /// argon2id PHC string. Never serialised, so it cannot reach a response by accident.
    #[sea_orm(column_type = "String(StringLen::N(255))")]
    #[serde(skip_serializing, default)]
    pub password: Option<Sensitive>,
    pub auth_provider: AuthProvider,
    #[sea_orm(column_type = "String(StringLen::N(255))")]
    #[serde(skip_serializing, default)]
    pub oauth_id: Option<Sensitive>,
    pub role: UserRole,
    #[sea_orm(column_type = "String(StringLen::N(500))")]
    pub avatar_url: Option<String>,
    pub is_active: bool,
    /// When the email was proven (an OAuth provider vouched for it); registration proves nothing.
    pub email_verified_at: Option<DateTimeUtc>,
    /// When the phone was proven by a one-time code.
    pub phone_verified_at: Option<DateTimeUtc>,
    /// Indexed with `id` for the keyset pages of the admin lists.
    #[sea_orm(indexed)]
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,

    #[sea_orm(has_many)]
    pub owned_projects: HasMany<super::project::Entity>,
    #[sea_orm(has_many)]
    pub project_memberships: HasMany<super::project_member::Entity>,
    #[sea_orm(has_many)]
    pub messages: HasMany<super::message::Entity>,
    #[sea_orm(has_many)]
    pub notifications: HasMany<super::notification::Entity>,
}

super::behavior!(created_at, updated_at);
