//! Runtime users and roles (`/api/v1/users`, `/api/v1/roles`): list them
//! (read role; password hashes never leave the broker), create, change and
//! delete them (admin role). A change is on disk before the answer and
//! applies to connected clients at once (see `server::runtime_auth`).

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State as AxumState};
use axum::http::StatusCode;
use axum::Json;
use hornet_auth::{RuntimeAuth, RuntimeError, TopicRule};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::State;
use crate::server::runtime_auth::ChangeError;

/// A user as listed.
#[derive(Debug, Serialize)]
pub(crate) struct UserView {
    name: String,
    roles: Vec<String>,
}

/// A role as listed.
#[derive(Debug, Serialize)]
pub(crate) struct RoleView {
    name: String,
    rules: Vec<TopicRule>,
}

/// `PUT /api/v1/users/{name}`: a new user needs a password; an existing
/// one keeps its password when none is given.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserRequest {
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
}

/// `PUT /api/v1/roles/{name}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleRequest {
    #[serde(default)]
    rules: Vec<TopicRule>,
}

impl From<ChangeError> for ApiError {
    fn from(e: ChangeError) -> Self {
        let message = e.to_string();
        let (status, code) = match e {
            ChangeError::Refused(RuntimeError::Invalid(_)) => {
                (StatusCode::BAD_REQUEST, "bad_request")
            }
            ChangeError::Refused(RuntimeError::NotFound(_)) => (StatusCode::NOT_FOUND, "not_found"),
            ChangeError::Refused(RuntimeError::Conflict(_)) | ChangeError::NoDataDirectory => {
                (StatusCode::CONFLICT, "conflict")
            }
            ChangeError::Write { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "store_failed"),
        };
        ApiError {
            status,
            code,
            message,
        }
    }
}

/// Runs a change off the async threads (hashing a password takes a while).
async fn change(
    state: State,
    f: impl FnOnce(&mut RuntimeAuth, &dyn Fn(&str) -> bool) -> Result<Option<String>, RuntimeError>
        + Send
        + 'static,
) -> Result<StatusCode, ApiError> {
    tokio::task::spawn_blocking(move || state.shared.runtime_auth.change(&state.shared, f))
        .await
        .map_err(|e| ApiError::bad_request(format!("the change did not run: {e}")))??;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/users`
pub(crate) async fn list_users(AxumState(state): AxumState<State>) -> Json<Vec<UserView>> {
    let auth = state.shared.runtime_auth.snapshot();
    Json(
        auth.users
            .into_iter()
            .map(|(name, user)| UserView {
                name,
                roles: user.roles,
            })
            .collect(),
    )
}

/// `PUT /api/v1/users/{name}`
pub(crate) async fn put_user(
    AxumState(state): AxumState<State>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<UserRequest>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(name) = path?;
    let Json(req) = body?;
    change(state, move |auth, in_file| {
        let password_changes = req.password.is_some() && auth.users.contains_key(&name);
        auth.set_user(
            &name,
            req.password.as_deref().map(str::as_bytes),
            req.roles,
            in_file(&name),
        )?;
        tracing::info!("Runtime user {name} saved (admin API).");
        Ok(password_changes.then_some(name))
    })
    .await
}

/// `DELETE /api/v1/users/{name}`: its connected clients are disconnected.
pub(crate) async fn delete_user(
    AxumState(state): AxumState<State>,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(name) = path?;
    change(state, move |auth, _| {
        auth.delete_user(&name)?;
        tracing::info!("Runtime user {name} deleted (admin API).");
        Ok(Some(name))
    })
    .await
}

/// `GET /api/v1/roles`
pub(crate) async fn list_roles(AxumState(state): AxumState<State>) -> Json<Vec<RoleView>> {
    let auth = state.shared.runtime_auth.snapshot();
    Json(
        auth.roles
            .into_iter()
            .map(|(name, role)| RoleView {
                name,
                rules: role.rules,
            })
            .collect(),
    )
}

/// `PUT /api/v1/roles/{name}`: applies at once to the users that have it.
pub(crate) async fn put_role(
    AxumState(state): AxumState<State>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<RoleRequest>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(name) = path?;
    let Json(req) = body?;
    change(state, move |auth, _| {
        auth.set_role(&name, req.rules)?;
        tracing::info!("Runtime role {name} saved (admin API).");
        Ok(None)
    })
    .await
}

/// `DELETE /api/v1/roles/{name}`: refused while a user has it.
pub(crate) async fn delete_role(
    AxumState(state): AxumState<State>,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(name) = path?;
    change(state, move |auth, _| {
        auth.delete_role(&name)?;
        tracing::info!("Runtime role {name} deleted (admin API).");
        Ok(None)
    })
    .await
}
