//! `user_identities`: the accounts OAuth providers vouch for, `(provider, subject)` unique, so an
//! identity belongs to one user and a user may have several.

use sea_orm::entity::prelude::*;

use super::Sensitive;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_identities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(indexed)]
    pub user_id: Uuid,
    /// `google`, `facebook` or `tiktok`.
    #[sea_orm(
        column_type = "String(StringLen::N(20))",
        unique_key = "provider_subject"
    )]
    pub provider: String,
    /// The provider's id for the user (Google `sub`, Facebook `id`, TikTok `open_id`).
    #[sea_orm(
        column_type = "String(StringLen::N(255))",
        unique_key = "provider_subject"
    )]
    pub subject: Sensitive,
    /// The email the provider reported, when it vouched for it.
    #[sea_orm(column_type = "String(StringLen::N(255))")]
    pub email: Option<String>,
    pub created_at: DateTimeUtc,
    pub last_used_at: Option<DateTimeUtc>,

    #[sea_orm(belongs_to, from = "user_id", to = "id", on_delete = "Cascade")]
    pub user: BelongsTo<super::user::Entity>,
}

super::behavior!(created_at);
