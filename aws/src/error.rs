//! SDK errors become port errors here, and only here.

use std::error::Error as StdError;
use std::fmt::Debug;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use deckhand_core::ports::PortError;

/// Error codes that mean "try again later". The SDK has already retried these with backoff by
/// the time we see one, so the caller decides whether to retry the whole step.
const TRANSIENT: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalServerError",
    "InternalFailure",
    "ServerException",
];

/// Codes that mean a conditional write lost.
const CONFLICT: &[&str] = &[
    "ConditionalCheckFailedException",
    "TransactionCanceledException",
    "TransactionConflictException",
];

/// Codes that mean the named thing does not exist (and may well not: an image tag nobody
/// pushed, a snapshot already pruned, an alarm deleted). `ResourceNotFoundException` is here
/// because it is ambiguous; the adapters whose resource is part of Deckhand's setup (the
/// table, a secret, a function) read it as [`misconfigured_if_missing`].
const NOT_FOUND: &[&str] = &[
    "ResourceNotFoundException",
    "ImageNotFoundException",
    "DBSnapshotNotFound",
    "DBSnapshotNotFoundFault",
    "DBClusterSnapshotNotFoundFault",
];

/// Codes that mean something the config names does not exist in this account and region: an
/// operator's mistake, never the person's who asked.
const MISSING_SETUP: &[&str] = &[
    "ClusterNotFoundException",
    "ServiceNotFoundException",
    "ServiceNotActiveException",
    "RepositoryNotFoundException",
    "DBInstanceNotFound",
    "DBInstanceNotFoundFault",
    "DBClusterNotFoundFault",
];

/// Codes that mean Deckhand's role (or its credentials) may not do this.
const DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedException",
    "NotAuthorized",
    "AuthorizationError",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "MissingAuthenticationToken",
    "ExpiredToken",
    "ExpiredTokenException",
];

/// What an operator reads after a denied call: AWS's message already names the action and the
/// resource; this says where the grant lives.
const GRANT_IT: &str = "Deckhand's role needs this permission: grant it in infra/template.yaml (or your own role), scoped to this resource";

/// What an operator reads after a missing resource the config names.
const CHECK_IT: &str =
    "check that the config names it right and that it exists in this account and region";

/// `e`, as a misconfiguration when it says `resource` — part of Deckhand's own setup, such as
/// its table — does not exist.
pub fn misconfigured_if_missing(e: PortError, resource: &str) -> PortError {
    match e {
        PortError::NotFound(m) if m.contains("ResourceNotFoundException") => {
            PortError::Misconfigured(format!(
                "{m}; {resource} does not exist: create it, or point Deckhand at the right one"
            ))
        }
        other => other,
    }
}

/// A call on one named resource failed: [`port_error`], and [`misconfigured_if_missing`]
/// when the resource (`"function deckhand-deploy"`) does not exist.
pub fn resource_error<E, R>(what: &str, resource: &str, err: &SdkError<E, R>) -> PortError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: Debug,
{
    misconfigured_if_missing(port_error(what, err), resource)
}

/// Maps an SDK error. `what` names the operation and its subject ("DescribeServices api in
/// prod"), so the message says what was being done to what.
pub fn port_error<E, R>(what: &str, err: &SdkError<E, R>) -> PortError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: Debug,
{
    match err {
        SdkError::TimeoutError(_) => return PortError::Transient(format!("{what}: timed out")),
        SdkError::DispatchFailure(f) => {
            return PortError::unanswered(what, f.is_timeout(), f.is_io());
        }
        _ => {}
    }
    let meta = err.meta();
    let code = meta.code().unwrap_or("Unknown");
    let message = meta.message().unwrap_or("");
    let request_id = meta
        .extra("aws_request_id")
        .or_else(|| meta.extra("request_id"))
        .unwrap_or("none");
    let text = format!("{what}: {code}: {message} (request id {request_id})");
    if code == "AlreadyExists"
        || code.ends_with("AlreadyExists")
        || code.ends_with("AlreadyExistsFault")
        || code.ends_with("AlreadyExistsException")
    {
        return PortError::Conflict(text);
    }
    if CONFLICT.contains(&code) {
        PortError::Conflict(text)
    } else if DENIED.contains(&code) {
        PortError::Misconfigured(format!("{text}; {GRANT_IT}"))
    } else if MISSING_SETUP.contains(&code) {
        PortError::Misconfigured(format!("{text}; {CHECK_IT}"))
    } else if NOT_FOUND.contains(&code) {
        PortError::NotFound(text)
    } else if TRANSIENT.contains(&code) || matches!(err, SdkError::ResponseError(_)) {
        PortError::Transient(text)
    } else {
        PortError::Failed(text)
    }
}
