//! The Lambda functions' handlers: parse the event, call one core use-case, say what happened.
//!
//! Each `functions/*` binary wraps one of these in `lambda_runtime` (and `deckhand invoke` will
//! run them on a sample event). A handler's error says whether a retry can help: a malformed
//! event never gets better, so it is [`FunctionError::Malformed`] (logged with the event's id,
//! rejected, not retried), while an AWS service that did not answer is
//! [`FunctionError::Retryable`], so Lambda's own retries and EventBridge's redelivery do their
//! job. Every handler is idempotent on its event: the use-cases recognise redeliveries.

use deckhand_aws::events::{self, BackupEvent, DeployEvent, EventError};
use deckhand_core::deployment::Work;
use deckhand_core::ports::{PortError, Ports};
use deckhand_core::usecases::{
    App, AutoDeployOutcome, BackupError, BackupTrigger, BuildError, RequestError, RunError,
};
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum FunctionError {
    /// The event cannot be acted on; retrying the same bytes cannot help.
    #[error(transparent)]
    Malformed(#[from] EventError),
    /// Valid, but refused by the domain (an unknown service, a deployment that is not ours).
    #[error("refused: {0}")]
    Refused(String),
    /// A dependency did not answer; the same event may well succeed later.
    #[error("retryable: {0}")]
    Retryable(String),
    /// Deckhand's own setup is wrong (a missing table, secret, cluster or service, a denied
    /// permission). Counted at once for the template's alarm, and retried: once the operator
    /// fixes it, the event still gets through (a rollback is not dropped for a typo).
    #[error("misconfigured: {0}")]
    Misconfigured(String),
}

impl FunctionError {
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            FunctionError::Retryable(_) | FunctionError::Misconfigured(_)
        )
    }
}

/// Every answer names the event it answers: a refusal or a failure says the event's id (read
/// as leniently as a malformed event's), so the log line and the dead-letter queue point at it.
/// A misconfiguration is counted for the template's alarm before Lambda's retries begin.
async fn named<P: Ports, T>(
    app: &App<'_, P>,
    event: &Value,
    result: Result<T, FunctionError>,
) -> Result<T, FunctionError> {
    let id = || events::event_id(event);
    match result {
        Ok(v) => Ok(v),
        Err(FunctionError::Refused(why)) => {
            Err(FunctionError::Refused(format!("event {}: {why}", id())))
        }
        Err(FunctionError::Retryable(why)) => {
            Err(FunctionError::Retryable(format!("event {}: {why}", id())))
        }
        Err(FunctionError::Misconfigured(why)) => {
            let why = format!("event {}: {why}", id());
            app.misconfigured(&why).await;
            Err(FunctionError::Misconfigured(why))
        }
        Err(malformed @ FunctionError::Malformed(_)) => Err(malformed),
    }
}

fn port(e: &PortError) -> FunctionError {
    match e {
        PortError::Transient(_) | PortError::Conflict(_) => FunctionError::Retryable(e.to_string()),
        PortError::NotFound(_) | PortError::Failed(_) => FunctionError::Refused(e.to_string()),
        PortError::Misconfigured(why) => FunctionError::Misconfigured(why.clone()),
    }
}

fn run_error(e: RunError) -> FunctionError {
    match e {
        RunError::Port(p) => port(&p),
        other => FunctionError::Refused(other.to_string()),
    }
}

/// The deploy function: dispatched `run_deployment` work, ECS's "Deployment State Change", or
/// its every-five-minutes schedule (`{"schedule": "maintenance"}`): the bake check, and picking
/// up deployments whose dispatch, step or ECS event was lost.
pub async fn deploy<P: Ports>(app: &App<'_, P>, event: &Value) -> Result<Value, FunctionError> {
    named(app, event, deploy_event(app, event).await).await
}

async fn deploy_event<P: Ports>(app: &App<'_, P>, event: &Value) -> Result<Value, FunctionError> {
    match DeployEvent::parse(event)? {
        DeployEvent::Maintenance(_) => maintain(app).await,
        DeployEvent::Work(work) => run_deployment_work(app, &work).await,
        DeployEvent::Rollout(None) => Ok(json!({ "ignored": "deployment still in progress" })),
        DeployEvent::Rollout(Some(outcome)) => match app
            .on_rollout(&outcome.ecs_deployment, outcome.outcome)
            .await
            .map_err(run_error)?
        {
            Some(d) => Ok(json!({ "deployment": d.id.to_string(), "state": d.state.name() })),
            None => Ok(
                json!({ "ignored": format!("ECS deployment {} was not started by Deckhand", outcome.ecs_deployment) }),
            ),
        },
    }
}

async fn maintain<P: Ports>(app: &App<'_, P>) -> Result<Value, FunctionError> {
    let done = app.maintain().await.map_err(run_error)?;
    let ids = |v: &[deckhand_core::types::DeploymentId]| {
        v.iter().map(ToString::to_string).collect::<Vec<_>>()
    };
    Ok(json!({
        "baked": done.baked,
        "expired": ids(&done.expired),
        "resumed": ids(&done.resumed),
        "reconciled": ids(&done.reconciled),
        "unlocked": done.unlocked,
    }))
}

async fn run_deployment_work<P: Ports>(
    app: &App<'_, P>,
    work: &Work,
) -> Result<Value, FunctionError> {
    match work {
        Work::PrepareDeployment { id } => {
            let d = app.prepare_deployment(*id).await.map_err(run_error)?;
            Ok(json!({ "deployment": d.id.to_string(), "state": d.state.name() }))
        }
        Work::RunDeployment { id } => {
            let d = app.run_deployment(*id).await.map_err(run_error)?;
            Ok(json!({ "deployment": d.id.to_string(), "state": d.state.name() }))
        }
        Work::Wake { id, revision } => {
            let d = app.wake(*id, Some(*revision)).await.map_err(run_error)?;
            Ok(json!({ "deployment": d.id.to_string(), "state": d.state.name() }))
        }
        // A backup task's next look comes back through the delay queue, which feeds this
        // function: it goes on to the backup function.
        Work::RunBackup { plan, .. } => {
            app.pass_on(work).await.map_err(|e| port(&e))?;
            Ok(json!({ "passed_on": plan }))
        }
    }
}

/// The rollback function: a CloudWatch alarm state change, from EventBridge, from CloudWatch's
/// direct Lambda alarm action (the fastest road: no rule in between), or from SNS — each of an
/// SNS message's records on its own. A record that is not an alarm is rejected by its id and
/// the others still count; a failure worth retrying retries the whole event, whose records
/// already carried out are recognised as redeliveries.
pub async fn rollback<P: Ports>(app: &App<'_, P>, event: &Value) -> Result<Value, FunctionError> {
    named(app, event, rollback_event(app, event).await).await
}

async fn rollback_event<P: Ports>(app: &App<'_, P>, event: &Value) -> Result<Value, FunctionError> {
    let changes = events::alarm_changes(event)?;
    let count = changes.len();
    let (mut rolled_back, mut ignored, mut rejected) = (Vec::new(), Vec::new(), Vec::new());
    let mut first_malformed = None;
    for change in changes {
        let change = match change {
            Ok(change) => change,
            Err(e) => {
                tracing::error!(error = %e, "rejected one alarm of the event");
                rejected.push(e.to_string());
                first_malformed.get_or_insert(e);
                continue;
            }
        };
        match app.on_alarm(&change).await {
            Ok(outcome) => {
                rolled_back.extend(
                    outcome.rolled_back.iter().map(
                        |(s, id)| json!({ "service": s.as_str(), "deployment": id.to_string() }),
                    ),
                );
                ignored.extend(outcome.ignored);
            }
            Err(RequestError::Port(p)) => return Err(port(&p)),
            Err(refused) => {
                rejected.push(format!("alarm {}: {refused}", change.alarm));
            }
        }
    }
    if let Some(e) = first_malformed
        && rejected.len() == count
    {
        // Nothing in the event was an alarm Deckhand can read.
        return Err(FunctionError::Malformed(e));
    }
    if count == 1 && rolled_back.is_empty() && ignored.is_empty() && rejected.len() == 1 {
        return Err(FunctionError::Refused(rejected.remove(0)));
    }
    Ok(json!({ "rolled_back": rolled_back, "ignored": ignored, "rejected": rejected }))
}

/// The build-completed function: CodeBuild's "Build State Change".
pub async fn build_completed<P: Ports>(
    app: &App<'_, P>,
    event: &Value,
) -> Result<Value, FunctionError> {
    named(app, event, build_event(app, event).await).await
}

async fn build_event<P: Ports>(app: &App<'_, P>, event: &Value) -> Result<Value, FunctionError> {
    let Some(build) = events::codebuild_build(event, app.config)? else {
        return Ok(json!({ "ignored": "build still running" }));
    };
    let out = app.build_completed(&build).await.map_err(|e| match e {
        BuildError::Port(p) => port(&p),
        refused => FunctionError::Refused(refused.to_string()),
    })?;
    // What was started and what was not, apart: a skipped auto-deploy is not a deploy.
    let (mut started, mut skipped) = (Vec::new(), Vec::new());
    for a in &out.auto_deploys {
        match a {
            AutoDeployOutcome::Started { env, deployment } => {
                started.push(json!({ "env": env.as_str(), "deployment": deployment.to_string() }));
            }
            AutoDeployOutcome::Skipped { env, why } => {
                skipped.push(json!({ "env": env.as_str(), "why": why }));
            }
        }
    }
    Ok(json!({ "duplicate": out.duplicate, "dispatched": started, "skipped": skipped }))
}

/// The backup function: a Scheduler firing naming a plan, or `/backup ENV now` dispatched.
pub async fn backup<P: Ports>(app: &App<'_, P>, event: &Value) -> Result<Value, FunctionError> {
    named(app, event, backup_event(app, event).await).await
}

async fn backup_event<P: Ports>(app: &App<'_, P>, event: &Value) -> Result<Value, FunctionError> {
    match BackupEvent::parse(event)? {
        BackupEvent::Work(work) => run_backup_work(app, &work).await,
        BackupEvent::Schedule(s) => {
            let trigger = BackupTrigger::Schedule {
                event_id: s.execution_id,
            };
            run_backup(app, &s.plan, &trigger).await
        }
    }
}

async fn run_backup_work<P: Ports>(app: &App<'_, P>, work: &Work) -> Result<Value, FunctionError> {
    match work {
        Work::RunBackup {
            plan,
            requested_by,
            key,
        } => {
            let trigger = BackupTrigger::Person {
                actor: requested_by.clone(),
                event_key: key.clone(),
            };
            run_backup(app, plan, &trigger).await
        }
        Work::PrepareDeployment { .. } | Work::RunDeployment { .. } | Work::Wake { .. } => Err(
            FunctionError::Refused("deployment work belongs to the deploy function".into()),
        ),
    }
}

async fn run_backup<P: Ports>(
    app: &App<'_, P>,
    plan: &str,
    trigger: &BackupTrigger,
) -> Result<Value, FunctionError> {
    let out = app.run_backup(plan, trigger).await.map_err(|e| match e {
        BackupError::Port(p) => port(&p),
        other => FunctionError::Refused(other.to_string()),
    })?;
    Ok(
        json!({ "snapshot": out.snapshot, "status": format!("{:?}", out.status), "pruned": out.pruned, "duplicate": out.duplicate }),
    )
}

/// The handler of the function called `name` (deploy, rollback, build-completed, backup), as
/// `deckhand invoke` and local mode pick one by name. `None` for a name that is none of them.
pub async fn handle<P: Ports>(
    name: &str,
    app: &App<'_, P>,
    event: &Value,
) -> Option<Result<Value, FunctionError>> {
    Some(match name {
        "deploy" => deploy(app, event).await,
        "rollback" => rollback(app, event).await,
        "build-completed" => build_completed(app, event).await,
        "backup" => backup(app, event).await,
        _ => return None,
    })
}

/// Dispatched work, run by the function AWS would invoke for it (local mode's worker): the
/// same handling as that function's, without a trip through JSON.
pub async fn work<P: Ports>(app: &App<'_, P>, work: &Work) -> Result<Value, FunctionError> {
    match work {
        Work::PrepareDeployment { .. } | Work::RunDeployment { .. } | Work::Wake { .. } => {
            run_deployment_work(app, work).await
        }
        Work::RunBackup { .. } => run_backup_work(app, work).await,
    }
}
