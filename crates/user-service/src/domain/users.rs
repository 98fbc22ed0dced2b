//! Users: lookups, creation, changes and deletion, and the rule that the platform never loses
//! its last active admin.

use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait,
    DatabaseConnection, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QuerySelect,
};
use shared::entities::user::{self, ActiveModel, Column, Entity as Users, Model};
use shared::entities::{AuthProvider, Sensitive, UserRole};
use uuid::Uuid;

use super::{begin_write, locks_rows};
use crate::error::{ApiError, Result};
use crate::pagination::{Page, PageRequest};

pub const USER_NOT_FOUND: &str = "User not found";

/// The longest email `users.email` holds.
pub const MAX_EMAIL_LENGTH: usize = 255;

/// An email address, trimmed and lower-cased: the only form stored or compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// `None` when `raw`, normalised, is not an email address.
    pub fn parse(raw: &str) -> Option<Self> {
        let normalised = raw.trim().to_lowercase();
        (normalised.chars().count() <= MAX_EMAIL_LENGTH
            && validator::ValidateEmail::validate_email(&normalised))
        .then_some(Self(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The active user with this id.
pub async fn find_active(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<Model>> {
    Ok(Users::find_by_id(id)
        .filter(Column::IsActive.eq(true))
        .one(db)
        .await?)
}

pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<Model>> {
    Ok(Users::find_by_id(id).one(db).await?)
}

pub async fn find_by_email(db: &impl ConnectionTrait, email: &Email) -> Result<Option<Model>> {
    Ok(Users::find()
        .filter(Column::Email.eq(email.as_str()))
        .one(db)
        .await?)
}

/// A user to create. `password` is already hashed; `None` makes an account that cannot log in
/// until a password is set.
#[derive(Debug)]
pub struct NewUser {
    pub name: String,
    pub email: Email,
    pub phone: Option<String>,
    pub password: Option<Sensitive>,
    pub role: UserRole,
    pub is_active: bool,
    pub avatar_url: Option<String>,
}

pub async fn create(db: &impl ConnectionTrait, new: NewUser) -> Result<Model> {
    let user = ActiveModel {
        name: Set(new.name),
        email: Set(new.email.0),
        phone: Set(new.phone),
        password: Set(new.password),
        auth_provider: Set(AuthProvider::Email),
        oauth_id: Set(None),
        role: Set(new.role),
        avatar_url: Set(new.avatar_url),
        is_active: Set(new.is_active),
        ..ActiveModel::new()
    };
    Ok(user.insert(db).await?)
}

/// What a change sets; `None` leaves a field as it is (`Some(None)` clears a nullable one).
#[derive(Debug, Default)]
pub struct UserChanges {
    pub name: Option<String>,
    pub email: Option<Email>,
    pub phone: Option<Option<String>>,
    pub password: Option<Sensitive>,
    pub role: Option<UserRole>,
    pub is_active: Option<bool>,
    pub avatar_url: Option<Option<String>>,
}

impl UserChanges {
    /// Whether applying this could take away an admin's active admin rights.
    fn may_remove_an_admin(&self) -> bool {
        self.role == Some(UserRole::User) || self.is_active == Some(false)
    }
}

const LAST_ADMIN: &str = "the last active admin cannot be deleted, demoted or deactivated";

/// Applies `changes` to user `id`. `None` when there is no such user; 409 when it would leave
/// the platform without an active admin. `admin` is the caller when he acts with admin rights:
/// he must still be an active admin when the change is made (checked after the admins are
/// locked, so an admin demoted meanwhile cannot act as one).
pub async fn update(
    db: &DatabaseConnection,
    admin: Option<Uuid>,
    id: Uuid,
    changes: UserChanges,
) -> Result<Option<Model>> {
    let guarded = changes.may_remove_an_admin();
    let txn = begin_write(db).await?;
    if guarded {
        lock_active_admins(&txn).await?;
    }
    require_still_admin(&txn, admin).await?;
    let Some(existing) = find(&txn, id).await? else {
        return Ok(None);
    };
    let was_active_admin = is_active_admin(&existing);
    let mut user = existing.into_active_model();
    if let Some(name) = changes.name {
        user.name = Set(name);
    }
    if let Some(email) = changes.email {
        user.email = Set(email.0);
    }
    if let Some(phone) = changes.phone {
        user.phone = Set(phone);
    }
    if let Some(password) = changes.password {
        user.password = Set(Some(password));
    }
    if let Some(role) = changes.role {
        user.role = Set(role);
    }
    if let Some(is_active) = changes.is_active {
        user.is_active = Set(is_active);
    }
    if let Some(avatar_url) = changes.avatar_url {
        user.avatar_url = Set(avatar_url);
    }
    let updated = user.update(&txn).await?;
    if guarded
        && was_active_admin
        && !is_active_admin(&updated)
        && count_active_admins(&txn).await? == 0
    {
        return Err(ApiError::Conflict(LAST_ADMIN.to_owned()));
    }
    txn.commit().await?;
    Ok(Some(updated))
}

/// Deletes user `id`; the database cascades his projects, memberships, messages and
/// notifications. `false` when there is no such user; 409 for the last active admin.
pub async fn delete(db: &DatabaseConnection, admin: Option<Uuid>, id: Uuid) -> Result<bool> {
    let txn = begin_write(db).await?;
    lock_active_admins(&txn).await?;
    require_still_admin(&txn, admin).await?;
    let Some(existing) = find(&txn, id).await? else {
        return Ok(false);
    };
    Users::delete_by_id(id).exec(&txn).await?;
    if is_active_admin(&existing) && count_active_admins(&txn).await? == 0 {
        return Err(ApiError::Conflict(LAST_ADMIN.to_owned()));
    }
    txn.commit().await?;
    Ok(true)
}

/// 403 unless `admin` (when given) is, in this transaction, an active admin.
async fn require_still_admin(txn: &impl ConnectionTrait, admin: Option<Uuid>) -> Result<()> {
    let Some(admin) = admin else { return Ok(()) };
    match find_active(txn, admin).await? {
        Some(user) if user.role == UserRole::Admin => Ok(()),
        _ => Err(ApiError::Forbidden(crate::domain::access::FORBIDDEN)),
    }
}

fn is_active_admin(user: &Model) -> bool {
    user.role == UserRole::Admin && user.is_active
}

/// PostgreSQL: locks every active admin's row until the transaction ends, so two transactions
/// that each remove a different admin run one after the other, and the second sees the first's
/// result. (SQLite's write transaction already excludes every other writer.)
async fn lock_active_admins(txn: &impl ConnectionTrait) -> Result<()> {
    if locks_rows(txn) {
        Users::find()
            .select_only()
            .column(Column::Id)
            .filter(Column::Role.eq(UserRole::Admin))
            .filter(Column::IsActive.eq(true))
            .lock_exclusive()
            .into_tuple::<Uuid>()
            .all(txn)
            .await?;
    }
    Ok(())
}

async fn count_active_admins(txn: &impl ConnectionTrait) -> Result<u64> {
    Ok(Users::find()
        .filter(Column::Role.eq(UserRole::Admin))
        .filter(Column::IsActive.eq(true))
        .count(txn)
        .await?)
}

/// A page of every user, newest first; `search` matches name or email, case-insensitively.
pub async fn list(
    db: &impl ConnectionTrait,
    search: Option<&str>,
    page: &PageRequest,
) -> Result<Page<Model>> {
    let mut query = Users::find();
    if let Some(search) = search.map(str::trim).filter(|search| !search.is_empty()) {
        // ASCII letters are folded on both sides; other letters are compared as the database's
        // lower() leaves them (docs/API.md).
        let pattern = format!("%{}%", escape_like(&search.to_ascii_lowercase()));
        let like = |column: Column| {
            Expr::expr(Func::lower(Expr::col((user::Entity, column))))
                .like(LikeExpr::new(pattern.clone()).escape('\\'))
        };
        query = query.filter(like(Column::Name).or(like(Column::Email)));
    }
    let rows = page
        .apply(
            query,
            (user::Entity, Column::CreatedAt),
            (user::Entity, Column::Id),
        )
        .all(db)
        .await?;
    Ok(page.finish(rows, |user| (user.created_at, user.id)))
}

/// `text` with LIKE's wildcards taken literally.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse("  Admin@ChatAI.com ").map(|email| email.0),
            Some("admin@chatai.com".to_owned())
        );
        assert_eq!(Email::parse("not-an-email"), None);
    }

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(escape_like("50%_a\\b"), "50\\%\\_a\\\\b");
    }
}
