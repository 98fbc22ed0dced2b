//! Projects and their members. A project always has at least one `owner` member: creation adds
//! the creator as owner in the same transaction, and the last owner cannot be removed or demoted.

use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait,
    DatabaseConnection, EntityTrait, IntoActiveModel, JoinType, PaginatorTrait, QueryFilter,
    QuerySelect, TransactionTrait,
};
use shared::entities::{ProjectRole, project, project_member, user};
use uuid::Uuid;

use super::{begin_write, locks_rows};
use crate::auth::Caller;
use crate::domain::access::Need;
use crate::error::{ApiError, Result};
use crate::pagination::{Page, PageRequest};

pub const MEMBER_NOT_FOUND: &str = "Member not found";
const LAST_OWNER: &str = "the last owner of a project cannot be removed or demoted";

/// A project with the caller's role in it (`None`: an admin who is not a member).
pub type ProjectWithRole = (project::Model, Option<ProjectRole>);

/// Creates a project owned by `owner`, who becomes its `owner` member in the same transaction.
pub async fn create(
    db: &DatabaseConnection,
    owner: Uuid,
    name: String,
    description: Option<String>,
) -> Result<project::Model> {
    let txn = db.begin().await?;
    let project = project::ActiveModel {
        name: Set(name),
        description: Set(description),
        owner_id: Set(owner),
        is_deleted: Set(false),
        ..project::ActiveModel::new()
    }
    .insert(&txn)
    .await?;
    project_member::ActiveModel {
        project_id: Set(project.id),
        user_id: Set(owner),
        role: Set(ProjectRole::Owner),
        ..project_member::ActiveModel::new()
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(project)
}

/// A page of live projects, newest first: the caller's, or (`all`, admins: checked before) every
/// one. The caller is checked in the same statement (`access::while_active`).
pub async fn list(
    db: &impl ConnectionTrait,
    caller: Caller,
    all: bool,
    page: &PageRequest,
) -> Result<Page<ProjectWithRole>> {
    let membership = super::access::membership_of(caller.claimed_id());
    let join = if all {
        JoinType::LeftJoin
    } else {
        JoinType::InnerJoin
    };
    let query = project::Entity::find()
        .filter(project::Column::IsDeleted.eq(false))
        .filter(super::access::while_active(caller))
        .join(join, membership)
        .select_also(project_member::Entity);
    let rows = page
        .apply(
            query,
            (project::Entity, project::Column::CreatedAt),
            (project::Entity, project::Column::Id),
        )
        .all(db)
        .await?;
    super::access::confirm_empty(db, caller, &rows).await?;
    Ok(page
        .finish(rows, |(project, _)| (project.created_at, project.id))
        .map(|(project, member)| (project, member.map(|member| member.role))))
}

pub async fn update(
    db: &impl ConnectionTrait,
    project: project::Model,
    name: Option<String>,
    description: Option<Option<String>>,
) -> Result<project::Model> {
    let mut active = project.into_active_model();
    if let Some(name) = name {
        active.name = Set(name);
    }
    if let Some(description) = description {
        active.description = Set(description);
    }
    Ok(active.update(db).await?)
}

/// Soft delete: the project, its members and its conversations answer 404 from now on.
pub async fn soft_delete(db: &impl ConnectionTrait, project: project::Model) -> Result<()> {
    let mut active = project.into_active_model();
    active.is_deleted = Set(true);
    active.update(db).await?;
    Ok(())
}

/// A member with the user he is.
pub type Member = (project_member::Model, user::Model);

/// A page of the project's members, newest membership first.
pub async fn members(
    db: &impl ConnectionTrait,
    project_id: Uuid,
    page: &PageRequest,
) -> Result<Page<Member>> {
    let query = project_member::Entity::find()
        .filter(project_member::Column::ProjectId.eq(project_id))
        .find_also_related(user::Entity);
    let rows = page
        .apply(
            query,
            (project_member::Entity, project_member::Column::CreatedAt),
            (project_member::Entity, project_member::Column::Id),
        )
        .all(db)
        .await?;
    let members: Vec<Member> = rows
        .into_iter()
        .filter_map(|(member, user)| Some((member, user?)))
        .collect();
    Ok(page.finish(members, |(member, _)| (member.created_at, member.id)))
}

/// Who to add: an id or an email (already normalised).
#[derive(Debug)]
pub enum NewMember {
    Id(Uuid),
    Email(super::users::Email),
}

/// Adds a member: 404 when no such user, 409 when he already is one.
pub async fn add_member(
    db: &impl ConnectionTrait,
    project_id: Uuid,
    who: NewMember,
    role: ProjectRole,
) -> Result<Member> {
    let user = match who {
        NewMember::Id(id) => super::users::find(db, id).await?,
        NewMember::Email(email) => super::users::find_by_email(db, &email).await?,
    }
    .ok_or(ApiError::NotFound(super::users::USER_NOT_FOUND))?;
    let member = project_member::ActiveModel {
        project_id: Set(project_id),
        user_id: Set(user.id),
        role: Set(role),
        ..project_member::ActiveModel::new()
    }
    .insert(db)
    .await?;
    Ok((member, user))
}

/// Changes a member's role (`Some`) or removes him (`None`), keeping at least one owner. The
/// caller must be an owner (or an admin), or be the member leaving; that is checked inside the
/// transaction, after the owners are locked, so an owner demoted meanwhile cannot still act as
/// one.
pub async fn change_member(
    db: &DatabaseConnection,
    caller: Caller,
    project_id: Uuid,
    user_id: Uuid,
    role: Option<ProjectRole>,
) -> Result<Option<Member>> {
    let need = if role.is_none() && user_id == caller.claimed_id() {
        Need::Read
    } else {
        Need::Own
    };
    let txn = begin_write(db).await?;
    if locks_rows(&txn) {
        project_member::Entity::find()
            .select_only()
            .column(project_member::Column::Id)
            .filter(project_member::Column::ProjectId.eq(project_id))
            .filter(project_member::Column::Role.eq(ProjectRole::Owner))
            .lock_exclusive()
            .into_tuple::<Uuid>()
            .all(&txn)
            .await?;
    }
    super::access::project(&txn, caller, project_id, need).await?;
    let found = project_member::Entity::find()
        .filter(project_member::Column::ProjectId.eq(project_id))
        .filter(project_member::Column::UserId.eq(user_id))
        .find_also_related(user::Entity)
        .one(&txn)
        .await?;
    let Some((member, Some(user))) = found else {
        return Err(ApiError::NotFound(MEMBER_NOT_FOUND));
    };
    let was_owner = member.role == ProjectRole::Owner;
    let changed = match role {
        Some(role) => {
            let mut active = member.into_active_model();
            active.role = Set(role);
            Some(active.update(&txn).await?)
        }
        None => {
            project_member::Entity::delete_by_id(member.id)
                .exec(&txn)
                .await?;
            None
        }
    };
    let still_owner = changed
        .as_ref()
        .is_some_and(|member| member.role == ProjectRole::Owner);
    if was_owner && !still_owner {
        let owners = project_member::Entity::find()
            .filter(project_member::Column::ProjectId.eq(project_id))
            .filter(project_member::Column::Role.eq(ProjectRole::Owner))
            .count(&txn)
            .await?;
        if owners == 0 {
            return Err(ApiError::Conflict(LAST_OWNER.to_owned()));
        }
    }
    txn.commit().await?;
    Ok(changed.map(|member| (member, user)))
}
