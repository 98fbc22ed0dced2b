//! Who the caller is, and who may do what: the one place authorization is decided.
//!
//! Platform roles: an admin manages every user and has owner rights on every project; a user
//! manages himself. Project roles, weakest first: `viewer` reads, `editor` also changes the
//! project and its conversations and posts messages, `owner` also deletes the project and manages
//! its members.
//!
//! A project (or conversation) the caller may not see is reported as missing, with the same error
//! as one that does not exist, so ids cannot be probed. The caller himself (still an active user?)
//! and his role are read in the same query that fetches the row (joins on his user row and his
//! membership): one statement, no check-then-fetch.

use sea_orm::sea_query::{
    Expr, ExprTrait, IntoCondition, IntoIden, Query, SelectStatement, SimpleExpr,
};
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryResult,
    QuerySelect, QueryTrait, RelationTrait, Statement, Value,
};
use shared::entities::{ProjectRole, UserRole, conversation, project, project_member, user};
use uuid::Uuid;

use super::{Error, Result, sessions};

/// The one message of every 401 for a caller who is not (or no longer) an active user, or whose
/// token failed a check: which check failed is not the caller's business.
pub const UNAUTHORIZED: &str = "Unauthorized";
pub const FORBIDDEN: &str = "Forbidden resource";
pub const PROJECT_NOT_FOUND: &str = "Project not found";
pub const CONVERSATION_NOT_FOUND: &str = "Conversation not found";

/// A caller whose token is valid, not yet looked up: the user and the session it names. The
/// endpoints that act on one project or conversation, and the project and conversation lists,
/// take this instead of [`CurrentUser`]: the query that reads the rows checks that he is still an
/// active user in a live session (and reads his role), so such a request costs one statement
/// instead of two. Its ids are only for those queries, never to act on.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    user: Uuid,
    session: Uuid,
}

impl Caller {
    /// The caller a verified token names.
    pub fn claimed(user: Uuid, session: Uuid) -> Self {
        Self { user, session }
    }

    /// The id the token names, not yet known to be an active user: for queries that check it.
    pub fn claimed_id(self) -> Uuid {
        self.user
    }

    /// The condition on `users` that makes a row this caller: his id, active, his session live.
    fn signed_in(self) -> SimpleExpr {
        self.signed_in_at(shared::entities::now())
    }

    fn signed_in_at(self, now: DateTime<Utc>) -> SimpleExpr {
        Expr::col((user::Entity, user::Column::Id))
            .eq(self.user)
            .and(Expr::col((user::Entity, user::Column::IsActive)).eq(true))
            .and(sessions::is_live(self.session, now))
    }

    /// The caller as an active user in a live session, or `Unauthenticated`: one statement.
    pub async fn look_up(self, db: &impl ConnectionTrait) -> Result<CurrentUser> {
        let statement = self.look_up_statement(db.get_database_backend(), shared::entities::now());
        user::Entity::find()
            .from_raw_sql(statement)
            .one(db)
            .await?
            .map(|user| CurrentUser {
                user,
                session: self.session,
            })
            .ok_or(Error::Unauthenticated(UNAUTHORIZED))
    }

    /// The lookup every signed-in request makes. Its SQL is rendered once per backend and only
    /// its values are bound per request: building the query tree and rendering it each time
    /// cost the request path more than the session check itself (docs/BENCHMARKS.md).
    fn look_up_statement(self, backend: DbBackend, now: DateTime<Utc>) -> Statement {
        static POSTGRES: OnceLock<String> = OnceLock::new();
        static SQLITE: OnceLock<String> = OnceLock::new();
        let rendered = match backend {
            DbBackend::Postgres => &POSTGRES,
            _ => &SQLITE,
        };
        let sql = rendered.get_or_init(|| self.built_look_up(backend, now).sql);
        // In the order of the placeholders in `built_look_up` (a test holds the two together).
        let values: [Value; 5] = [
            self.user.into(),
            true.into(),
            self.session.into(),
            now.into(),
            1u64.into(),
        ];
        Statement::from_sql_and_values(backend, sql.as_str(), values)
    }

    fn built_look_up(self, backend: DbBackend, now: DateTime<Utc>) -> Statement {
        user::Entity::find()
            .filter(self.signed_in_at(now))
            .limit(1)
            .build(backend)
    }
}

/// The signed-in caller, looked up on every request with his session: a deleted or deactivated
/// user's token, and the token of a session that ended, stop working at once.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub user: user::Model,
    /// The session his token belongs to.
    pub session: Uuid,
}

impl CurrentUser {
    pub fn id(&self) -> Uuid {
        self.user.id
    }

    pub fn is_admin(&self) -> bool {
        self.user.role == UserRole::Admin
    }
}

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
            Err(Error::Forbidden(FORBIDDEN))
        }
    }
}

/// 403 unless the caller is an admin.
pub fn require_admin(caller: &CurrentUser) -> Result<()> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(Error::Forbidden(FORBIDDEN))
    }
}

/// 403 unless the caller is an admin or `user_id` himself.
pub fn require_admin_or_self(caller: &CurrentUser, user_id: Uuid) -> Result<()> {
    if caller.is_admin() || caller.id() == user_id {
        Ok(())
    } else {
        Err(Error::Forbidden(FORBIDDEN))
    }
}

/// The caller's membership in the project on the left side of the query, joined in: the one join
/// every "as the caller sees it" query uses.
pub fn membership_of(caller: Uuid) -> sea_orm::RelationDef {
    project_member::Relation::Project
        .def()
        .rev()
        .on_condition(move |_, member| {
            Expr::col((member, project_member::Column::UserId))
                .eq(caller)
                .into_condition()
        })
}

/// True only while `caller` is an active user in a live session: a list filtered on it was read
/// for a signed-in caller in the same statement. An empty page may still mean he is not one: see
/// [`confirm_empty`].
pub fn while_active(caller: Caller) -> SimpleExpr {
    Expr::exists(
        Query::select()
            .expr(Expr::cust("1"))
            .from(user::Entity)
            .and_where(caller.signed_in())
            .to_owned(),
    )
}

/// A list read under [`while_active`] came back empty: 401 unless the caller is an active user
/// (then the page really is empty). Costs a statement only for empty pages.
pub async fn confirm_empty<T>(db: &impl ConnectionTrait, caller: Caller, rows: &[T]) -> Result<()> {
    if rows.is_empty() {
        caller.look_up(db).await?;
    }
    Ok(())
}

fn access(caller: &CurrentUser, role: Option<ProjectRole>) -> Option<ProjectAccess> {
    let access = ProjectAccess {
        role,
        is_admin: caller.is_admin(),
    };
    (access.role.is_some() || access.is_admin).then_some(access)
}

/// A row read with the caller's role on its project (the `member_role` column).
struct WithRole<T> {
    row: T,
    role: Option<ProjectRole>,
}

impl<T: FromQueryResult> FromQueryResult for WithRole<T> {
    fn from_query_result(result: &QueryResult, prefix: &str) -> Result<Self, DbErr> {
        Ok(Self {
            row: T::from_query_result(result, prefix)?,
            role: result.try_get(prefix, MEMBER_ROLE)?,
        })
    }

    fn from_query_result_optional(
        result: &QueryResult,
        prefix: &str,
    ) -> Result<Option<Self>, DbErr> {
        let Some(row) = T::from_query_result_optional(result, prefix)? else {
            return Ok(None);
        };
        Ok(Some(Self {
            row,
            role: result.try_get(prefix, MEMBER_ROLE)?,
        }))
    }
}

const MEMBER_ROLE: &str = "member_role";

/// The caller, if he is an active user, and the row `join` left-joins to him (`T`, of the entity
/// `select_also` added), with his role on `project_id`'s project: one statement. No
/// row means he is not (or no longer) an active user: 401.
async fn caller_with<T, E>(
    db: &impl ConnectionTrait,
    caller: Caller,
    row: E,
    join: impl FnOnce(&mut SelectStatement),
    project_id: (E, impl IntoIden + 'static),
) -> Result<(CurrentUser, Option<WithRole<T>>)>
where
    T: FromQueryResult,
    E: EntityTrait,
{
    let mut query = user::Entity::find()
        .filter(caller.signed_in())
        .select_also(row);
    let statement = QueryTrait::query(&mut query);
    join(statement);
    statement
        .left_join(
            project_member::Entity,
            Expr::col((project_member::Entity, project_member::Column::ProjectId))
                .equals(project_id)
                .and(
                    Expr::col((project_member::Entity, project_member::Column::UserId))
                        .equals((user::Entity, user::Column::Id)),
                ),
        )
        .expr_as(
            Expr::col((project_member::Entity, project_member::Column::Role)).cast_as("text"),
            format!("B_{MEMBER_ROLE}"),
        );
    let (user, found) = query
        .into_model::<user::Model, WithRole<T>>()
        .one(db)
        .await?
        .ok_or(Error::Unauthenticated(UNAUTHORIZED))?;
    Ok((
        CurrentUser {
            user,
            session: caller.session,
        },
        found,
    ))
}

/// The live (not deleted) project `id` as the caller sees it, with the caller (checked to be an
/// active user in the same query: 401 otherwise) and his access, allowed to do what needs
/// `need`: 404 when it does not exist or he may not see it, 403 when he may see it but not do
/// this.
pub async fn project(
    db: &impl ConnectionTrait,
    caller: Caller,
    id: Uuid,
    need: Need,
) -> Result<(CurrentUser, project::Model, ProjectAccess)> {
    let (caller, found) = caller_with::<project::Model, _>(
        db,
        caller,
        project::Entity,
        |query| {
            query.left_join(
                project::Entity,
                Expr::col((project::Entity, project::Column::Id))
                    .eq(id)
                    .and(Expr::col((project::Entity, project::Column::IsDeleted)).eq(false)),
            );
        },
        (project::Entity, project::Column::Id),
    )
    .await?;
    let (project, access) = found
        .and_then(|found| Some((found.row, access(&caller, found.role)?)))
        .ok_or(Error::NotFound(PROJECT_NOT_FOUND))?;
    access.require(need)?;
    Ok((caller, project, access))
}

/// The live conversation `id` (in a live project) as the caller sees it, with the caller, like
/// [`project`].
pub async fn conversation(
    db: &impl ConnectionTrait,
    caller: Caller,
    id: Uuid,
    need: Need,
) -> Result<(CurrentUser, conversation::Model)> {
    let (caller, found) = caller_with::<conversation::Model, _>(
        db,
        caller,
        conversation::Entity,
        |query| {
            let live_project = Query::select()
                .expr(Expr::cust("1"))
                .from(project::Entity)
                .and_where(
                    Expr::col((project::Entity, project::Column::Id))
                        .equals((conversation::Entity, conversation::Column::ProjectId)),
                )
                .and_where(Expr::col((project::Entity, project::Column::IsDeleted)).eq(false))
                .to_owned();
            query.left_join(
                conversation::Entity,
                Expr::col((conversation::Entity, conversation::Column::Id))
                    .eq(id)
                    .and(
                        Expr::col((conversation::Entity, conversation::Column::IsDeleted))
                            .eq(false),
                    )
                    .and(Expr::exists(live_project)),
            );
        },
        (conversation::Entity, conversation::Column::ProjectId),
    )
    .await?;
    let (conversation, access) = found
        .and_then(|found| Some((found.row, access(&caller, found.role)?)))
        .ok_or(Error::NotFound(CONVERSATION_NOT_FOUND))?;
    access.require(need)?;
    Ok((caller, conversation))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rendered_look_up_binds_what_the_built_one_does_on_both_backends() {
        let caller = Caller::claimed(Uuid::now_v7(), Uuid::now_v7());
        let now = shared::entities::now();
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            let built = caller.built_look_up(backend, now);
            let rendered = caller.look_up_statement(backend, now);
            assert_eq!(rendered.sql, built.sql, "{backend:?}");
            assert_eq!(rendered.values, built.values, "{backend:?}");
        }
    }
}
