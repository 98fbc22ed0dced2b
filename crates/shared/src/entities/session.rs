//! `sessions`: one row per refresh token. The rows of one sign-in and all its rotations share a
//! `family`, the session's id (the access token's `sid`); the current token is the family's row
//! with no `rotated_at`, and `revoked_at` marks a session that ended. The token itself is never
//! stored, only its SHA-256.

use sea_orm::entity::prelude::*;

use super::Sensitive;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(indexed)]
    pub user_id: Uuid,
    #[sea_orm(indexed)]
    pub family: Uuid,
    /// Hex SHA-256 of the refresh token.
    #[sea_orm(column_type = "String(StringLen::N(64))", unique)]
    pub token_hash: Sensitive,
    /// When the session began (the same on every row of the family).
    pub created_at: DateTimeUtc,
    /// When the refresh that issued this token happened (`None` for the sign-in's token).
    pub last_used_at: Option<DateTimeUtc>,
    #[sea_orm(indexed)]
    pub expires_at: DateTimeUtc,
    /// When this token was spent on a refresh.
    pub rotated_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "String(StringLen::N(500))")]
    pub user_agent: Option<String>,
    #[sea_orm(column_type = "String(StringLen::N(45))")]
    pub ip_address: Option<String>,

    #[sea_orm(belongs_to, from = "user_id", to = "id", on_delete = "Cascade")]
    pub user: BelongsTo<super::user::Entity>,
}

super::behavior!(created_at);
