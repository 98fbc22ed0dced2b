//! `projects`: the container of conversations, owned by one user.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "projects")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(column_type = "String(StringLen::N(255))")]
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub description: Option<String>,
    #[sea_orm(indexed)]
    pub owner_id: Uuid,
    pub is_deleted: bool,
    /// Indexed with `id` for the keyset pages of the admin lists.
    #[sea_orm(indexed)]
    /// Indexed with `id` for the keyset pages of the admin lists.
    #[sea_orm(indexed)]
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,

    #[sea_orm(belongs_to, from = "owner_id", to = "id", on_delete = "Cascade")]
    pub owner: BelongsTo<super::user::Entity>,
    #[sea_orm(has_many)]
    pub members: HasMany<super::project_member::Entity>,
    #[sea_orm(has_many)]
    pub conversations: HasMany<super::conversation::Entity>,
}

super::behavior!(created_at, updated_at);
