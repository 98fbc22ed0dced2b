//! `project_members`: who belongs to which project, once, with which role.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use super::enums::ProjectRole;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "project_members")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique_key = "project_user")]
    pub project_id: Uuid,
    #[sea_orm(unique_key = "project_user", indexed)]
    pub user_id: Uuid,
    pub role: ProjectRole,
    pub created_at: DateTimeUtc,

    #[sea_orm(belongs_to, from = "project_id", to = "id", on_delete = "Cascade")]
    pub project: BelongsTo<super::project::Entity>,
    #[sea_orm(belongs_to, from = "user_id", to = "id", on_delete = "Cascade")]
    pub user: BelongsTo<super::user::Entity>,
}

super::behavior!(created_at);
