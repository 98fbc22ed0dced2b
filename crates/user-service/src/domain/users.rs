//! Users: lookups, creation, changes and deletion, who may do each, and the rule that the
//! platform never loses its last active admin.

use std::future::Future;

use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait,
    DatabaseConnection, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QuerySelect,
};
use shared::entities::user::{self, ActiveModel, Column, Entity as Users, Model};
use shared::entities::{AuthProvider, Sensitive, UserRole};
use uuid::Uuid;

use super::access::{self, CurrentUser, FORBIDDEN};
use super::identities;
use super::paging::{Page, PageRequest};
use super::sessions;
use super::values::{AvatarUrl, Email, GivenPassword, Name, Password, Phone, SearchText};
use super::{Error, Result, begin_write, locks_rows};

pub const USER_NOT_FOUND: &str = "User not found";

/// Password hashing, as the rules need it: `auth::Passwords` does it off the async runtime.
pub trait PasswordHashing: Sync {
    /// The stored form of `plain`.
    fn hash(&self, plain: Password) -> impl Future<Output = Result<Sensitive>> + Send;

    /// Whether `plain` matches `stored`; without a stored hash it still pays one verification
    /// and answers false.
    fn verify(
        &self,
        plain: GivenPassword,
        stored: Option<Sensitive>,
    ) -> impl Future<Output = Result<bool>> + Send;
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

/// The user who holds `phone`, proven or not.
async fn find_by_phone(db: &impl ConnectionTrait, phone: &Phone) -> Result<Option<Model>> {
    Ok(Users::find()
        .filter(Column::Phone.eq(phone.as_str()))
        .one(db)
        .await?)
}

/// The user whose **proven** phone this is: an unverified one signs no one in.
pub async fn find_by_verified_phone(
    db: &impl ConnectionTrait,
    phone: &Phone,
) -> Result<Option<Model>> {
    Ok(find_by_phone(db, phone)
        .await?
        .filter(|user| user.phone_verified_at.is_some()))
}

/// A user to create with an email (registration, an admin). `password` is already hashed;
/// `None` makes an account that cannot log in until a password is set.
#[derive(Debug)]
pub struct NewUser {
    pub name: Name,
    pub email: Email,
    pub phone: Option<Phone>,
    pub password: Option<Sensitive>,
    pub role: UserRole,
    pub is_active: bool,
    pub avatar_url: Option<AvatarUrl>,
}

pub async fn create(db: &impl ConnectionTrait, new: NewUser) -> Result<Model> {
    let user = ActiveModel {
        name: Set(new.name.into_string()),
        email: Set(Some(new.email.into_string())),
        phone: Set(new.phone.map(Phone::into_string)),
        password: Set(new.password),
        auth_provider: Set(AuthProvider::Email),
        oauth_id: Set(None),
        role: Set(new.role),
        avatar_url: Set(new.avatar_url.map(AvatarUrl::into_string)),
        is_active: Set(new.is_active),
        ..ActiveModel::new()
    };
    Ok(user.insert(db).await?)
}

const PHONE_IN_USE: &str = "phone is verified on another account";
const ONLY_WAY_IN: &str =
    "phone is this account's only way to sign in; prove the new number with a code instead";

/// The account a proven `phone` signs in: its verified owner, or else a new account (provider
/// `phone`, named `name` or the number, no email, no password), made after taking the number
/// off any account that holds it unproven. Answers the user and whether he was created.
pub async fn for_proven_phone(
    txn: &impl ConnectionTrait,
    phone: &Phone,
    name: Option<Name>,
) -> Result<(Model, bool)> {
    if let Some(holder) = find_by_phone(txn, phone).await? {
        if holder.phone_verified_at.is_some() {
            return Ok((holder, false));
        }
        release_unproven(txn, holder).await?;
    }
    let user = ActiveModel {
        name: Set(name.map_or_else(|| phone.as_str().to_owned(), Name::into_string)),
        email: Set(None),
        phone: Set(Some(phone.as_str().to_owned())),
        phone_verified_at: Set(Some(shared::entities::now())),
        password: Set(None),
        auth_provider: Set(AuthProvider::Phone),
        oauth_id: Set(None),
        role: Set(UserRole::User),
        avatar_url: Set(None),
        is_active: Set(true),
        ..ActiveModel::new()
    };
    Ok((user.insert(txn).await?, true))
}

/// Gives user `id` the proven `phone`, replacing his own number: 409 when it is proven on
/// another account; taken off an account that holds it unproven.
pub async fn attach_proven_phone(
    txn: &impl ConnectionTrait,
    id: Uuid,
    phone: &Phone,
) -> Result<Model> {
    if let Some(holder) = find_by_phone(txn, phone).await? {
        if holder.id != id && holder.phone_verified_at.is_some() {
            return Err(Error::Conflict(PHONE_IN_USE.to_owned()));
        }
        if holder.id != id {
            release_unproven(txn, holder).await?;
        }
    }
    let user = find(txn, id)
        .await?
        .ok_or(Error::NotFound(USER_NOT_FOUND))?;
    let mut user = user.into_active_model();
    user.phone = Set(Some(phone.as_str().to_owned()));
    user.phone_verified_at = Set(Some(shared::entities::now()));
    Ok(user.update(txn).await?)
}

/// Takes an unproven number off `holder`: its real owner has just proven it.
async fn release_unproven(txn: &impl ConnectionTrait, holder: Model) -> Result<()> {
    let mut holder = holder.into_active_model();
    holder.phone = Set(None);
    holder.update(txn).await?;
    Ok(())
}

/// Whether changing `user`'s phone would leave him no way to sign in: a proven phone that is his
/// only one (no email, no identity of an OAuth provider).
fn phone_is_only_way_in(user: &Model, identities: u64) -> bool {
    user.phone_verified_at.is_some() && user.email.is_none() && identities == 0
}

/// Gives `existing` the unproven `phone` (in `user`): 409 when his proven phone is his only way
/// in. An account left with no email and no phone becomes its identities' provider, as the
/// users table's sign-in check requires (an email, a phone or an OAuth provider).
async fn change_phone(
    txn: &impl ConnectionTrait,
    existing: &Model,
    phone: Option<String>,
    user: &mut ActiveModel,
) -> Result<()> {
    let identities = identities::count_of(txn, existing.id).await?;
    if phone_is_only_way_in(existing, identities) {
        return Err(Error::Conflict(ONLY_WAY_IN.to_owned()));
    }
    let keeps_no_contact = phone.is_none()
        && existing.email.is_none()
        && matches!(
            existing.auth_provider,
            AuthProvider::Email | AuthProvider::Phone
        );
    if keeps_no_contact
        && let Some(provider) = identities::any_provider_of(txn, existing.id).await?
    {
        user.auth_provider = Set(provider);
    }
    user.phone = Set(phone);
    user.phone_verified_at = Set(None);
    Ok(())
}

/// Which avatar addresses are stored: `https` always; plain `http` only where allowed (outside
/// production), since a page showing the avatar over `https` would load it in the clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvatarPolicy {
    pub allow_http: bool,
}

impl AvatarPolicy {
    fn check(self, avatar: Option<&AvatarUrl>) -> Result<()> {
        match avatar {
            Some(url) if url.is_plain_http() && !self.allow_http => {
                Err(Error::invalid("avatar_url must be an https URL"))
            }
            _ => Ok(()),
        }
    }
}

/// An account an admin creates: a password in plain (hashed here), or none.
#[derive(Debug)]
pub struct NewAccount {
    pub name: Name,
    pub email: Email,
    pub phone: Option<Phone>,
    pub password: Option<Password>,
    pub role: Option<UserRole>,
    pub is_active: Option<bool>,
    pub avatar_url: Option<AvatarUrl>,
}

/// Creates an account: admins only.
pub async fn create_account(
    db: &impl ConnectionTrait,
    passwords: &impl PasswordHashing,
    avatars: AvatarPolicy,
    caller: &CurrentUser,
    new: NewAccount,
) -> Result<Model> {
    access::require_admin(caller)?;
    avatars.check(new.avatar_url.as_ref())?;
    let password = match new.password {
        Some(password) => Some(passwords.hash(password).await?),
        None => None,
    };
    create(
        db,
        NewUser {
            name: new.name,
            email: new.email,
            phone: new.phone,
            password,
            role: new.role.unwrap_or(UserRole::User),
            is_active: new.is_active.unwrap_or(true),
            avatar_url: new.avatar_url,
        },
    )
    .await
}

/// User `id` as `caller` may see him: an admin sees everyone, a user himself.
pub async fn get(db: &impl ConnectionTrait, caller: &CurrentUser, id: Uuid) -> Result<Model> {
    access::require_admin_or_self(caller, id)?;
    find(db, id).await?.ok_or(Error::NotFound(USER_NOT_FOUND))
}

/// A change as a caller asks for it. `None` leaves a field as it is (`Some(None)` clears a
/// nullable one, and is refused for `email`, `role` and `is_active`, which cannot be cleared).
/// `email`, `role` and `is_active` are for admins; a user changing his own password gives the
/// current one.
#[derive(Debug, Default)]
pub struct ChangeRequest {
    pub name: Option<Name>,
    pub email: Option<Option<Email>>,
    pub phone: Option<Option<Phone>>,
    pub avatar_url: Option<Option<AvatarUrl>>,
    pub password: Option<Password>,
    pub current_password: Option<GivenPassword>,
    pub role: Option<Option<UserRole>>,
    pub is_active: Option<Option<bool>>,
}

impl ChangeRequest {
    /// Whether it names a field only admins may change, with a value or with `null`: naming
    /// one is enough to need admin rights.
    fn names_admin_fields(&self) -> bool {
        self.role.is_some() || self.is_active.is_some() || self.email.is_some()
    }
}

/// `Some(value)`, `None` for an absent field, or the message for a `null` given to a field
/// that cannot be cleared.
fn required<T>(field: Option<Option<T>>, message: &str) -> Result<Option<T>> {
    match field {
        None => Ok(None),
        Some(Some(value)) => Ok(Some(value)),
        Some(None) => Err(Error::invalid(message)),
    }
}

/// Applies `change` to user `id` for `caller`: an admin may change anything of anyone; a user
/// his own name, phone, avatar and password (with his current password, if he has one). A
/// new phone is unproven until a code proves it.
pub async fn change(
    db: &DatabaseConnection,
    passwords: &impl PasswordHashing,
    avatars: AvatarPolicy,
    caller: &CurrentUser,
    id: Uuid,
    change: ChangeRequest,
) -> Result<Model> {
    access::require_admin_or_self(caller, id)?;
    let is_self = caller.id() == id;
    let admin_fields = change.names_admin_fields();
    if admin_fields && !caller.is_admin() {
        return Err(Error::Forbidden(FORBIDDEN));
    }
    let email = required(change.email, "email must be an email")?;
    let role = required(
        change.role,
        "role must be one of the following values: admin, user",
    )?;
    let is_active = required(change.is_active, "is_active must be a boolean value")?;
    avatars.check(change.avatar_url.as_ref().and_then(Option::as_ref))?;
    // Acting with admin rights: checked again inside the change, after the admins are locked.
    let admin = (!is_self || admin_fields).then(|| caller.id());
    let password = match change.password {
        None => None,
        Some(new_password) => {
            // An account without a password (phone, OAuth) sets its first one freely.
            if is_self && caller.user.password.is_some() {
                let current = change
                    .current_password
                    .ok_or_else(|| Error::invalid("current_password should not be empty"))?;
                if !passwords
                    .verify(current, caller.user.password.clone())
                    .await?
                {
                    return Err(Error::Forbidden("current_password is wrong"));
                }
            }
            Some(passwords.hash(new_password).await?)
        }
    };
    // A new password ends the user's other sessions (all of them when an admin sets it);
    // deactivation ends all.
    let end_sessions = if is_active == Some(false) {
        Some(None)
    } else {
        password.as_ref().map(|_| is_self.then_some(caller.session))
    };
    let changes = UserChanges {
        end_sessions,
        name: change.name.map(Name::into_string),
        email: email.map(Email::into_string),
        phone: change.phone.map(|phone| phone.map(Phone::into_string)),
        password,
        role,
        is_active,
        avatar_url: change
            .avatar_url
            .map(|avatar| avatar.map(AvatarUrl::into_string)),
    };
    update(db, admin, id, changes)
        .await?
        .ok_or(Error::NotFound(USER_NOT_FOUND))
}

/// Deletes user `id` for `caller` (an admin, or the user himself); the database cascades his
/// projects, memberships, messages and notifications.
pub async fn remove(db: &DatabaseConnection, caller: &CurrentUser, id: Uuid) -> Result<()> {
    access::require_admin_or_self(caller, id)?;
    let admin = (caller.id() != id).then(|| caller.id());
    if delete(db, admin, id).await? {
        Ok(())
    } else {
        Err(Error::NotFound(USER_NOT_FOUND))
    }
}

/// What a change sets; `None` leaves a field as it is (`Some(None)` clears a nullable one).
#[derive(Debug, Default)]
struct UserChanges {
    /// `Some(keep)`: end every session of the user but `keep`.
    end_sessions: Option<Option<Uuid>>,
    name: Option<String>,
    email: Option<String>,
    phone: Option<Option<String>>,
    password: Option<Sensitive>,
    role: Option<UserRole>,
    is_active: Option<bool>,
    avatar_url: Option<Option<String>>,
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
async fn update(
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
    let mut user = existing.clone().into_active_model();
    if let Some(name) = changes.name {
        user.name = Set(name);
    }
    if let Some(email) = changes.email
        && Some(&email) != existing.email.as_ref()
    {
        user.email = Set(Some(email));
        user.email_verified_at = Set(None);
    }
    if let Some(phone) = changes.phone
        && phone != existing.phone
    {
        change_phone(&txn, &existing, phone, &mut user).await?;
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
    if let Some(keep) = changes.end_sessions {
        sessions::end_all(&txn, id, keep).await?;
    }
    if guarded
        && was_active_admin
        && !is_active_admin(&updated)
        && count_active_admins(&txn).await? == 0
    {
        return Err(Error::Conflict(LAST_ADMIN.to_owned()));
    }
    txn.commit().await?;
    Ok(Some(updated))
}

/// Deletes user `id`; the database cascades his projects, memberships, messages and
/// notifications. `false` when there is no such user; 409 for the last active admin.
async fn delete(db: &DatabaseConnection, admin: Option<Uuid>, id: Uuid) -> Result<bool> {
    let txn = begin_write(db).await?;
    lock_active_admins(&txn).await?;
    require_still_admin(&txn, admin).await?;
    let Some(existing) = find(&txn, id).await? else {
        return Ok(false);
    };
    Users::delete_by_id(id).exec(&txn).await?;
    if is_active_admin(&existing) && count_active_admins(&txn).await? == 0 {
        return Err(Error::Conflict(LAST_ADMIN.to_owned()));
    }
    txn.commit().await?;
    Ok(true)
}

/// 403 unless `admin` (when given) is, in this transaction, an active admin.
async fn require_still_admin(txn: &impl ConnectionTrait, admin: Option<Uuid>) -> Result<()> {
    let Some(admin) = admin else { return Ok(()) };
    match find_active(txn, admin).await? {
        Some(user) if user.role == UserRole::Admin => Ok(()),
        _ => Err(Error::Forbidden(FORBIDDEN)),
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

/// A page of every user, newest first (admins only); `search` matches name or email,
/// case-insensitively.
pub async fn list(
    db: &impl ConnectionTrait,
    caller: &CurrentUser,
    search: Option<&SearchText>,
    page: &PageRequest,
) -> Result<Page<Model>> {
    access::require_admin(caller)?;
    let mut query = Users::find();
    let search = search.map(|search| search.as_str().trim());
    if let Some(search) = search.filter(|search| !search.is_empty()) {
        // ASCII letters are folded on both sides; other letters are compared as the database's
        // lower() leaves them (docs/API.md).
        let pattern = format!("%{}%", escape_like(&search.to_ascii_lowercase()));
        let like = |column: Column| {
            Expr::expr(Func::lower(Expr::col((user::Entity, column))))
                .like(LikeExpr::new(pattern.clone()).escape('\\'))
        };
        query = query.filter(like(Column::Name).or(like(Column::Email)));
    }
    let columns = (
        (user::Entity, Column::CreatedAt),
        (user::Entity, Column::Id),
    );
    page.read(db, query, columns, |user| (user.created_at, user.id))
        .await
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
    fn like_wildcards_are_escaped() {
        assert_eq!(escape_like("50%_a\\b"), "50\\%\\_a\\\\b");
    }
}
