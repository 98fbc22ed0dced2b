//! `billing_logs`: the usage ledger. It has no foreign keys on purpose: a ledger outlives the
//! users, projects, conversations and agents it mentions.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "billing_logs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(indexed)]
    pub user_id: Uuid,
    #[sea_orm(indexed)]
    pub project_id: Option<Uuid>,
    pub conversation_id: Option<Uuid>,
    pub agent_id: Option<Uuid>,
    pub tokens: i64,
    #[sea_orm(column_type = "Decimal(Some((18, 8)))")]
    pub cost: Decimal,
    #[sea_orm(column_type = "String(StringLen::N(10))")]
    pub currency: String,
    pub timestamp: DateTimeUtc,
}

super::behavior!(timestamp);
