//! Who may do what: the one place authorization is decided.
//!
//! Platform roles: an admin manages every user and has owner rights on every project; a user
//! manages himself. Project roles, weakest first: `viewer` reads, `editor` also changes the
//! project and its conversations and posts messages, `owner` also deletes the project and manages
//! its members.
//!
//! A project (or conversation) the caller may not see is reported as missing, with the same error
//! as one that does not exist, so ids cannot be probed. The caller's role is read in the same
//! query that fetches the row (a join on his membership): one round trip, no check-then-fetch.

use sea_orm::sea_query::{Expr, ExprTrait, IntoCondition};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QuerySelect, RelationTrait,
};
use shared::entities::{ProjectRole, conversation, project, project_member};
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::error::{ApiError, Result};

pub const FORBIDDEN: &str = "Forbidden resource";
pub const PROJECT_NOT_FOUND: &str = "Project not found";
pub const CONVERSATION_NOT_FOUND: &str = "Conversation not found";

/// What a caller needs to do something to a project or what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Need {
    Read,
    Write,
    Own,
}

/// The caller's standing on one project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProjectAccess {
    /// His membership role, `None` for an admin who is not a member.
    pub role: Option<ProjectRole>,
    pub is_admin: bool,
}

impl ProjectAccess {
    fn allows(self, need: Need) -> bool {
        if self.is_admin {
            return true;
        }
        match (self.role, need) {
            (None, _) => false,
            (Some(_), Need::Read) => true,
            (Some(role), Need::Write) => matches!(role, ProjectRole::Editor | ProjectRole::Owner),
            (Some(role), Need::Own) => role == ProjectRole::Owner,
        }
    }

    /// 403 unless the caller may do what needs `need`.
    pub fn require(self, need: Need) -> Result<()> {
        if self.allows(need) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(FORBIDDEN))
        }
    }
}

/// 403 unless the caller is an admin.
pub fn require_admin(caller: &CurrentUser) -> Result<()> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(ApiError::Forbidden(FORBIDDEN))
    }
}

/// 403 unless the caller is an admin or `user_id` himself.
pub fn require_admin_or_self(caller: &CurrentUser, user_id: Uuid) -> Result<()> {
    if caller.is_admin() || caller.id() == user_id {
        Ok(())
    } else {
        Err(ApiError::Forbidden(FORBIDDEN))
    }
}

/// The caller's membership in the project on the left side of the query, joined in: the one join
/// every "as the caller sees it" query uses.
pub(crate) fn membership_of(caller: Uuid) -> sea_orm::RelationDef {
    project_member::Relation::Project
        .def()
        .rev()
        .on_condition(move |_, member| {
            Expr::col((member, project_member::Column::UserId))
                .eq(caller)
                .into_condition()
        })
}

fn access(caller: &CurrentUser, member: Option<&project_member::Model>) -> Option<ProjectAccess> {
    let access = ProjectAccess {
        role: member.map(|member| member.role),
        is_admin: caller.is_admin(),
    };
    (access.role.is_some() || access.is_admin).then_some(access)
}

/// The live (not deleted) project `id` as the caller sees it, with his access, allowed to do
/// what needs `need`: 404 when it does not exist or he may not see it, 403 when he may see it
/// but not do this.
pub async fn project(
    db: &impl ConnectionTrait,
    caller: &CurrentUser,
    id: Uuid,
    need: Need,
) -> Result<(project::Model, ProjectAccess)> {
    let found = project::Entity::find()
        .filter(project::Column::Id.eq(id))
        .filter(project::Column::IsDeleted.eq(false))
        .join(JoinType::LeftJoin, membership_of(caller.id()))
        .select_also(project_member::Entity)
        .one(db)
        .await?;
    let (project, access) = found
        .and_then(|(project, member)| Some((project, access(caller, member.as_ref())?)))
        .ok_or(ApiError::NotFound(PROJECT_NOT_FOUND))?;
    access.require(need)?;
    Ok((project, access))
}

/// The live conversation `id` (in a live project) as the caller sees it, like [`project`].
pub async fn conversation(
    db: &impl ConnectionTrait,
    caller: &CurrentUser,
    id: Uuid,
    need: Need,
) -> Result<conversation::Model> {
    let found = conversation::Entity::find()
        .filter(conversation::Column::Id.eq(id))
        .filter(conversation::Column::IsDeleted.eq(false))
        .join(JoinType::InnerJoin, conversation::Relation::Project.def())
        .filter(project::Column::IsDeleted.eq(false))
        .join(JoinType::LeftJoin, membership_of(caller.id()))
        .select_also(project_member::Entity)
        .one(db)
        .await?;
    let (conversation, access) = found
        .and_then(|(conversation, member)| Some((conversation, access(caller, member.as_ref())?)))
        .ok_or(ApiError::NotFound(CONVERSATION_NOT_FOUND))?;
    access.require(need)?;
    Ok(conversation)
}
