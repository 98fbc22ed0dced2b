//! Projects and their members. A project always has at least one `owner` member: creation adds
//! the creator as owner in the same transaction, and the last owner cannot be removed or demoted.

use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait,
    DatabaseConnection, EntityTrait, IntoActiveModel, JoinType, PaginatorTrait, QueryFilter,
    QuerySelect, TransactionTrait,
};
use shared::entities::{ProjectRole, project, project_member, user};
use uuid::Uuid;

use super::access::{self, Caller, Need, ProjectAccess};
use super::paging::{Page, PageRequest};
use super::values::{Description, Email, Name};
use super::{Error, Result, begin_write, locks_rows, users};

pub const MEMBER_NOT_FOUND: &str = "Member not found";
const LAST_OWNER: &str = "the last owner of a project cannot be removed or demoted";

/// A project with the caller's role in it (`None`: an admin who is not a member).
pub type ProjectWithRole = (project::Model, Option<ProjectRole>);

/// Creates a project owned by `owner`, who becomes its `owner` member in the same transaction.
pub async fn create(
    db: &DatabaseConnection,
    owner: Uuid,
    name: Name,
    description: Option<Description>,
) -> Result<project::Model> {
    let txn = db.begin().await?;
    let project = project::ActiveModel {
        name: Set(name.into_string()),
        description: Set(description.map(Description::into_string)),
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

/// A page of live projects, newest first: the caller's, or (`all`: admins only) every one. The
/// caller is checked in the same statement (`access::while_active`).
pub async fn list(
    db: &impl ConnectionTrait,
    caller: Caller,
    all: bool,
    page: &PageRequest,
) -> Result<Page<ProjectWithRole>> {
    if all {
        access::require_admin(&caller.look_up(db).await?)?;
    }
    let membership = access::membership_of(caller.claimed_id());
    let join = if all {
        JoinType::LeftJoin
    } else {
        JoinType::InnerJoin
    };
    let query = project::Entity::find()
        .filter(project::Column::IsDeleted.eq(false))
        .filter(access::while_active(caller))
        .join(join, membership)
        .select_also(project_member::Entity);
    let columns = (
        (project::Entity, project::Column::CreatedAt),
        (project::Entity, project::Column::Id),
    );
    let page = page
        .read(db, query, columns, |(project, _)| {
            (project.created_at, project.id)
        })
        .await?;
    access::confirm_empty(db, caller, &page.rows).await?;
    Ok(page.map(|(project, member)| (project, member.map(|member| member.role))))
}

/// Project `id` as the caller sees it (viewer and up), with his role.
pub async fn get(
    db: &impl ConnectionTrait,
    caller: Caller,
    id: Uuid,
) -> Result<(project::Model, ProjectAccess)> {
    let (_, project, access) = access::project(db, caller, id, Need::Read).await?;
    Ok((project, access))
}

/// Changes project `id` (editor and up); answers it with the caller's access.
pub async fn update(
    db: &impl ConnectionTrait,
    caller: Caller,
    id: Uuid,
    name: Option<Name>,
    description: Option<Option<Description>>,
) -> Result<(project::Model, ProjectAccess)> {
    let (_, project, access) = access::project(db, caller, id, Need::Write).await?;
    let mut active = project.into_active_model();
    if let Some(name) = name {
        active.name = Set(name.into_string());
    }
    if let Some(description) = description {
        active.description = Set(description.map(Description::into_string));
    }
    Ok((active.update(db).await?, access))
}

/// Soft delete (owner): the project, its members and its conversations answer 404 from now on.
pub async fn soft_delete(db: &impl ConnectionTrait, caller: Caller, id: Uuid) -> Result<()> {
    let (_, project, _) = access::project(db, caller, id, Need::Own).await?;
    let mut active = project.into_active_model();
    active.is_deleted = Set(true);
    active.update(db).await?;
    Ok(())
}

/// A member with the user he is.
pub type Member = (project_member::Model, user::Model);

/// A page of the project's members (viewer and up), newest membership first.
pub async fn members(
    db: &impl ConnectionTrait,
    caller: Caller,
    project_id: Uuid,
    page: &PageRequest,
) -> Result<Page<Member>> {
    access::project(db, caller, project_id, Need::Read).await?;
    let query = project_member::Entity::find()
        .filter(project_member::Column::ProjectId.eq(project_id))
        .find_also_related(user::Entity);
    let columns = (
        (project_member::Entity, project_member::Column::CreatedAt),
        (project_member::Entity, project_member::Column::Id),
    );
    let page = page
        .read(db, query, columns, |(member, _)| {
            (member.created_at, member.id)
        })
        .await?;
    // A membership's user always exists (the foreign key cascades); the join is an inner one.
    Ok(page.filter_map(|(member, user)| Some((member, user?))))
}

/// Who to add: an id or an email (already normalised).
#[derive(Debug)]
pub enum NewMember {
    Id(Uuid),
    Email(Email),
}

/// Adds a member (owner): 404 when no such user, 409 when he already is one.
pub async fn add_member(
    db: &impl ConnectionTrait,
    caller: Caller,
    project_id: Uuid,
    who: NewMember,
    role: ProjectRole,
) -> Result<Member> {
    access::project(db, caller, project_id, Need::Own).await?;
    let user = match who {
        NewMember::Id(id) => users::find(db, id).await?,
        NewMember::Email(email) => users::find_by_email(db, &email).await?,
    }
    .ok_or(Error::NotFound(users::USER_NOT_FOUND))?;
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

/// Gives member `user_id` of the project another role (owner), keeping at least one owner.
pub async fn change_role(
    db: &DatabaseConnection,
    caller: Caller,
    project_id: Uuid,
    user_id: Uuid,
    role: ProjectRole,
) -> Result<Member> {
    let changed = change_membership(db, caller, project_id, user_id, Some(role)).await?;
    changed.ok_or(Error::NotFound(MEMBER_NOT_FOUND))
}

/// Removes member `user_id` from the project (an owner; or the member himself, leaving),
/// keeping at least one owner.
pub async fn remove_member(
    db: &DatabaseConnection,
    caller: Caller,
    project_id: Uuid,
    user_id: Uuid,
) -> Result<()> {
    change_membership(db, caller, project_id, user_id, None).await?;
    Ok(())
}

/// Changes a member's role (`Some`) or removes him (`None`), keeping at least one owner. The
/// caller must be an owner (or an admin), or be the member leaving; that is checked inside the
/// transaction, after the owners are locked, so an owner demoted meanwhile cannot still act as
/// one.
async fn change_membership(
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
    access::project(&txn, caller, project_id, need).await?;
    let found = project_member::Entity::find()
        .filter(project_member::Column::ProjectId.eq(project_id))
        .filter(project_member::Column::UserId.eq(user_id))
        .find_also_related(user::Entity)
        .one(&txn)
        .await?;
    let Some((member, Some(user))) = found else {
        return Err(Error::NotFound(MEMBER_NOT_FOUND));
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
            return Err(Error::Conflict(LAST_OWNER.to_owned()));
        }
    }
    txn.commit().await?;
    Ok(changed.map(|member| (member, user)))
}
