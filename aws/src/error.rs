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

/// Codes that mean the named thing does not exist.
const NOT_FOUND: &[&str] = &[
    "ResourceNotFoundException",
    "ClusterNotFoundException",
    "ServiceNotFoundException",
    "ServiceNotActiveException",
    "RepositoryNotFoundException",
    "ImageNotFoundException",
    "DBInstanceNotFound",
    "DBInstanceNotFoundFault",
    "DBClusterNotFoundFault",
    "DBSnapshotNotFound",
    "DBSnapshotNotFoundFault",
    "DBClusterSnapshotNotFoundFault",
];

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
            let why = if f.is_timeout() {
                "timed out"
            } else if f.is_io() {
                "connection failed"
            } else {
                "could not send"
            };
            return PortError::Transient(format!("{what}: {why}"));
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
    } else if NOT_FOUND.contains(&code) {
        PortError::NotFound(text)
    } else if TRANSIENT.contains(&code) || matches!(err, SdkError::ResponseError(_)) {
        PortError::Transient(text)
    } else {
        PortError::Failed(text)
    }
}
