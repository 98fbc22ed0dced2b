//! Sessions as the rest of the service sees them: which are live, listing a user's, and ending
//! them. A session is one sign-in and all its refresh-token rotations: the `sessions` rows that
//! share a `family`, which is the session's id and the access token's `sid`. It is live while
//! its current row (the one not yet rotated) is neither revoked nor expired. Issuing and rotating
//! refresh tokens is `auth::sessions`' business.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query, SimpleExpr};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, QueryTrait};
use shared::entities::session::{self, Column, Entity as Sessions};
use shared::entities::user;
use uuid::Uuid;

use super::access::CurrentUser;
use super::paging::{Page, PageRequest};
use super::{Error, Result};

pub const SESSION_NOT_FOUND: &str = "Session not found";

/// True while session `family` of the user in the enclosing query (`users.id`) is live: the
/// condition every signed-in request's user lookup adds, so the session check costs no
/// statement of its own.
pub fn is_live(family: Uuid, now: DateTime<Utc>) -> SimpleExpr {
    Expr::exists(
        Query::select()
            .expr(Expr::cust("1"))
            .from(Sessions)
            .and_where(Expr::col((Sessions, Column::Family)).eq(family))
            .and_where(
                Expr::col((Sessions, Column::UserId)).equals((user::Entity, user::Column::Id)),
            )
            .and_where(Expr::col((Sessions, Column::RotatedAt)).is_null())
            .and_where(Expr::col((Sessions, Column::RevokedAt)).is_null())
            .and_where(Expr::col((Sessions, Column::ExpiresAt)).gt(now))
            .to_owned(),
    )
}

/// The current rows of `user_id`'s live sessions, as a query.
fn live_of(user_id: Uuid, now: DateTime<Utc>) -> sea_orm::Select<Sessions> {
    Sessions::find()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::RotatedAt.is_null())
        .filter(Column::RevokedAt.is_null())
        .filter(Column::ExpiresAt.gt(now))
}

/// One page of the caller's live sessions, newest first.
pub async fn list(
    db: &impl ConnectionTrait,
    caller: &CurrentUser,
    page: PageRequest,
) -> Result<Page<session::Model>> {
    page.read(
        db,
        live_of(caller.id(), shared::entities::now()),
        (Column::CreatedAt, Column::Family),
        |row| (row.created_at, row.family),
    )
    .await
}

/// Ends the caller's session `family`: 404 when he has no such session, or it has ended.
pub async fn end_one(db: &impl ConnectionTrait, caller: &CurrentUser, family: Uuid) -> Result<()> {
    if !end(db, caller.id(), family).await? {
        return Err(Error::NotFound(SESSION_NOT_FOUND));
    }
    Ok(())
}

/// Ends `user_id`'s session `family`; `false` when he has no such live session (none, or it
/// had ended or expired).
pub async fn end(db: &impl ConnectionTrait, user_id: Uuid, family: Uuid) -> Result<bool> {
    Ok(revoke(db, user_id, Some(family), None).await? > 0)
}

/// Ends every session of `user_id`, but `keep` when given.
pub async fn end_all(db: &impl ConnectionTrait, user_id: Uuid, keep: Option<Uuid>) -> Result<()> {
    revoke(db, user_id, None, keep).await?;
    Ok(())
}

/// Marks the unrevoked rows of `user_id`'s sessions (of live session `family` only, when given;
/// all but `keep`, when given) revoked, rotated rows included, so an old token of an ended session is
/// refused as ended; answers how many rows it marked.
async fn revoke(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    family: Option<Uuid>,
    keep: Option<Uuid>,
) -> Result<u64> {
    let mut update = Sessions::update_many()
        .col_expr(Column::RevokedAt, Expr::val(shared::entities::now()))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::RevokedAt.is_null());
    if let Some(family) = family {
        // Only a live one: ending an expired session is ending nothing.
        let live = live_of(user_id, shared::entities::now())
            .filter(Column::Family.eq(family))
            .select_only()
            .column(Column::Family)
            .into_query();
        update = update
            .filter(Column::Family.eq(family))
            .filter(Column::Family.in_subquery(live));
    }
    if let Some(keep) = keep {
        update = update.filter(Column::Family.ne(keep));
    }
    Ok(update.exec(db).await?.rows_affected)
}
