//! `messages`: one user message and the agent's answer, with its exact cost.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(indexed)]
    pub conversation_id: Uuid,
    #[sea_orm(indexed)]
    pub user_id: Uuid,
    #[sea_orm(indexed)]
    pub agent_id: Option<Uuid>,
    #[sea_orm(column_type = "Text")]
    pub user_message: String,
    #[sea_orm(column_type = "Text")]
    pub agent_response: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub attachments: Option<Json>,
    pub tokens_used: Option<i64>,
    #[sea_orm(column_type = "Decimal(Some((18, 8)))")]
    pub cost: Option<Decimal>,
    pub created_at: DateTimeUtc,

    #[sea_orm(belongs_to, from = "conversation_id", to = "id", on_delete = "Cascade")]
    pub conversation: BelongsTo<super::conversation::Entity>,
    #[sea_orm(belongs_to, from = "user_id", to = "id", on_delete = "Cascade")]
    pub user: BelongsTo<super::user::Entity>,
    #[sea_orm(belongs_to, from = "agent_id", to = "id", on_delete = "SetNull")]
    pub agent: BelongsTo<Option<super::agent::Entity>>,
}

super::behavior!(created_at);
