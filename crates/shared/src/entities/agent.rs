//! `agents`: the AI models a message can be answered by. `name` is the natural key.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use super::Sensitive;
use super::enums::AgentType;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "agents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(column_type = "String(StringLen::N(255))", unique)]
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub description: Option<String>,
    pub r#type: AgentType,
    #[sea_orm(column_type = "String(StringLen::N(500))")]
    pub api_endpoint: Option<String>,
    /// Encrypted at rest by the service that owns the key; never serialised.
    #[sea_orm(column_type = "Text")]
    #[serde(skip_serializing, default)]
    pub api_key_encrypted: Option<Sensitive>,
    #[sea_orm(column_type = "JsonBinary")]
    pub config: Option<Json>,
    #[sea_orm(column_type = "String(StringLen::N(255))")]
    pub model_source: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub training_config: Option<Json>,
    #[sea_orm(column_type = "String(StringLen::N(50))")]
    pub version: Option<String>,
    pub active: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,

    #[sea_orm(has_many)]
    pub messages: HasMany<super::message::Entity>,
}

super::behavior!(created_at, updated_at);
