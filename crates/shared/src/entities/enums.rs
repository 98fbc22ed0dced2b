//! The five enums of the schema. Each maps to a native PostgreSQL enum type (named as in the
//! original TypeORM migration) and to a CHECK-guarded text column on SQLite. serde uses the same
//! strings as the database.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// `users.role`.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "Enum", enum_name = "users_role_enum")]
pub enum UserRole {
    #[sea_orm(string_value = "admin")]
    #[serde(rename = "admin")]
    Admin,
    #[sea_orm(string_value = "user")]
    #[serde(rename = "user")]
    User,
}

/// `users.auth_provider`.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "Enum",
    enum_name = "users_auth_provider_enum"
)]
pub enum AuthProvider {
    #[sea_orm(string_value = "email")]
    #[serde(rename = "email")]
    Email,
    #[sea_orm(string_value = "google")]
    #[serde(rename = "google")]
    Google,
    #[sea_orm(string_value = "facebook")]
    #[serde(rename = "facebook")]
    Facebook,
    #[sea_orm(string_value = "tiktok")]
    #[serde(rename = "tiktok")]
    Tiktok,
    /// Signed up with a one-time code sent to a phone (M2).
    #[sea_orm(string_value = "phone")]
    #[serde(rename = "phone")]
    Phone,
}

/// `project_members.role`.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "Enum",
    enum_name = "project_members_role_enum"
)]
pub enum ProjectRole {
    #[sea_orm(string_value = "owner")]
    #[serde(rename = "owner")]
    Owner,
    #[sea_orm(string_value = "editor")]
    #[serde(rename = "editor")]
    Editor,
    #[sea_orm(string_value = "viewer")]
    #[serde(rename = "viewer")]
    Viewer,
}

/// `agents.type`.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "Enum", enum_name = "agents_type_enum")]
pub enum AgentType {
    #[sea_orm(string_value = "external")]
    #[serde(rename = "external")]
    External,
    #[sea_orm(string_value = "self-hosted")]
    #[serde(rename = "self-hosted")]
    SelfHosted,
}

/// `notifications.type`.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[sea_orm(
    rs_type = "String",
    db_type = "Enum",
    enum_name = "notifications_type_enum"
)]
pub enum NotificationType {
    #[sea_orm(string_value = "new_message")]
    #[serde(rename = "new_message")]
    NewMessage,
    #[sea_orm(string_value = "project_invite")]
    #[serde(rename = "project_invite")]
    ProjectInvite,
    #[sea_orm(string_value = "training_complete")]
    #[serde(rename = "training_complete")]
    TrainingComplete,
    #[sea_orm(string_value = "agent_deployed")]
    #[serde(rename = "agent_deployed")]
    AgentDeployed,
    #[sea_orm(string_value = "system")]
    #[serde(rename = "system")]
    System,
}
