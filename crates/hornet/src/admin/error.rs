//! Errors as the API answers them: a 4xx status and a JSON body
//! `{"error": "CODE", "message": "what is wrong and how to fix it"}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use hornet_core::AdminError;

/// An API error: status, machine-readable code, human message.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl ApiError {
    /// 400: the request is malformed or a value is out of range.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "bad_request",
            message: message.into(),
        }
    }

    /// 404: no such thing.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: message.into(),
        }
    }

    /// 401: credentials missing or wrong.
    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.code, "message": self.message });
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"hornet\""),
            );
        }
        response
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::NoSuchClient(_) => ApiError::not_found(e.to_string()),
            AdminError::NotConnected(_) => ApiError {
                status: StatusCode::CONFLICT,
                code: "not_connected",
                message: e.to_string(),
            },
            AdminError::InvalidTopic(_) => ApiError::bad_request(e.to_string()),
            AdminError::NotAllowed(_) => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "not_allowed",
                message: e.to_string(),
            },
            AdminError::SessionExists(_) => ApiError {
                status: StatusCode::CONFLICT,
                code: "session_exists",
                message: e.to_string(),
            },
        }
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(e: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::bad_request(format!("query string: {}", e.body_text()))
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(e: axum::extract::rejection::JsonRejection) -> Self {
        ApiError::bad_request(format!("request body: {}", e.body_text()))
    }
}

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(e: axum::extract::rejection::PathRejection) -> Self {
        ApiError::bad_request(format!("path: {}", e.body_text()))
    }
}

/// Unknown paths: 404 with a JSON error naming the path.
pub(crate) async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!(
        "no such endpoint: {} (see /api/v1/openapi.json)",
        uri.path()
    ))
}
