//! The events AWS delivers to Deckhand's functions, parsed into core's inputs.
//!
//! Each parser reads only the fields Deckhand uses, through small serde structs that ignore
//! everything else, so AWS adding a field never breaks a function. A malformed event is an
//! [`EventError`] that names the event's own id (when it has one), which the function logs and
//! rejects without retrying. Events that are well-formed but say nothing to act on (a
//! deployment still in progress, a build still running) parse to `Ok(None)`.
//!
//! Sample payloads for every trigger live in `events/`, and a test parses each of them.

use deckhand_core::config::Config;
use deckhand_core::deployment::Work;
use deckhand_core::ports::Build;
use deckhand_core::rollback::{AlarmChange, AlarmState};
use deckhand_core::types::{EventKey, Timestamp, Version};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// An event that cannot be acted on. Not worth a retry: the same bytes will fail again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {kind} event (id {id}): {why}")]
pub struct EventError {
    pub kind: &'static str,
    pub id: String,
    pub why: String,
}

/// The event id, read leniently first, so even an event that fails to parse is logged by id.
fn event_id(raw: &serde_json::Value) -> String {
    raw["id"]
        .as_str()
        .or_else(|| raw["Records"][0]["Sns"]["MessageId"].as_str())
        .or_else(|| raw["execution_id"].as_str())
        .unwrap_or("unknown")
        .to_owned()
}

fn parse<T: DeserializeOwned>(
    kind: &'static str,
    raw: &serde_json::Value,
) -> Result<T, EventError> {
    T::deserialize(raw).map_err(|e| EventError {
        kind,
        id: event_id(raw),
        why: e.to_string(),
    })
}

fn fail(kind: &'static str, raw: &serde_json::Value, why: impl Into<String>) -> EventError {
    EventError {
        kind,
        id: event_id(raw),
        why: why.into(),
    }
}

/// CloudWatch writes `2026-11-24T10:05:00.123+0000`: an offset without a colon, which RFC 3339
/// parsers refuse. Insert the colon, then parse.
fn cloudwatch_time(raw: &str) -> Option<Timestamp> {
    if let Ok(t) = raw.parse() {
        return Some(t);
    }
    let (head, tail) = raw.split_at(raw.len().checked_sub(5)?);
    let fixed = format!("{head}{}:{}", &tail[..3], &tail[3..]);
    fixed.parse().ok()
}

fn alarm_state(raw: &str) -> Option<AlarmState> {
    match raw {
        "OK" => Some(AlarmState::Ok),
        "ALARM" => Some(AlarmState::Alarm),
        "INSUFFICIENT_DATA" => Some(AlarmState::InsufficientData),
        _ => None,
    }
}

#[derive(Deserialize)]
struct EventBridge<D> {
    #[serde(rename = "detail-type")]
    detail_type: String,
    #[serde(default)]
    resources: Vec<String>,
    detail: D,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlarmDetail {
    alarm_name: String,
    state: AlarmStateDetail,
    previous_state: AlarmStateDetail,
}

#[derive(Deserialize)]
struct AlarmStateDetail {
    value: String,
    #[serde(default)]
    reason: String,
    timestamp: String,
}

#[derive(Deserialize)]
struct SnsEnvelope {
    #[serde(rename = "Records")]
    records: Vec<SnsRecord>,
}

#[derive(Deserialize)]
struct SnsRecord {
    #[serde(rename = "Sns")]
    sns: SnsMessage,
}

#[derive(Deserialize)]
struct SnsMessage {
    #[serde(rename = "Message")]
    message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ClassicAlarm {
    alarm_name: String,
    #[serde(default)]
    alarm_arn: Option<String>,
    new_state_value: String,
    old_state_value: String,
    #[serde(default)]
    new_state_reason: String,
    state_change_time: String,
}

/// "CloudWatch Alarm State Change" from EventBridge, or the same alarm delivered through SNS.
pub fn alarm_change(raw: &serde_json::Value) -> Result<AlarmChange, EventError> {
    const KIND: &str = "CloudWatch alarm";
    let (alarm, arn, previous, current, at, reason) = if raw.get("Records").is_some() {
        let envelope: SnsEnvelope = parse(KIND, raw)?;
        let record = envelope
            .records
            .into_iter()
            .next()
            .ok_or_else(|| fail(KIND, raw, "SNS event without records"))?;
        let classic: ClassicAlarm = serde_json::from_str(&record.sns.message)
            .map_err(|e| fail(KIND, raw, format!("SNS message is not an alarm: {e}")))?;
        (
            classic.alarm_name,
            classic.alarm_arn,
            classic.old_state_value,
            classic.new_state_value,
            classic.state_change_time,
            classic.new_state_reason,
        )
    } else {
        let event: EventBridge<AlarmDetail> = parse(KIND, raw)?;
        if event.detail_type != "CloudWatch Alarm State Change" {
            return Err(fail(
                KIND,
                raw,
                format!("unexpected detail-type {}", event.detail_type),
            ));
        }
        let d = event.detail;
        let arn = event.resources.into_iter().find(|r| r.contains(":alarm:"));
        (
            d.alarm_name,
            arn,
            d.previous_state.value,
            d.state.value,
            d.state.timestamp,
            d.state.reason,
        )
    };
    Ok(AlarmChange {
        previous: alarm_state(&previous)
            .ok_or_else(|| fail(KIND, raw, format!("unknown state {previous}")))?,
        current: alarm_state(&current)
            .ok_or_else(|| fail(KIND, raw, format!("unknown state {current}")))?,
        at: cloudwatch_time(&at)
            .ok_or_else(|| fail(KIND, raw, format!("unreadable timestamp {at}")))?,
        alarm,
        arn,
        reason,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EcsDeploymentDetail {
    event_name: String,
    deployment_id: String,
    #[serde(default)]
    reason: String,
}

/// What ECS said about one of its deployments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutOutcome {
    pub ecs_deployment: String,
    /// `Err(reason)` for a failed rollout (including one ECS's circuit breaker rolled back).
    pub outcome: Result<(), String>,
}

/// "ECS Deployment State Change". `None` for a deployment still in progress.
pub fn rollout_outcome(raw: &serde_json::Value) -> Result<Option<RolloutOutcome>, EventError> {
    const KIND: &str = "ECS deployment state change";
    let event: EventBridge<EcsDeploymentDetail> = parse(KIND, raw)?;
    if event.detail_type != "ECS Deployment State Change" {
        return Err(fail(
            KIND,
            raw,
            format!("unexpected detail-type {}", event.detail_type),
        ));
    }
    let d = event.detail;
    let outcome = match d.event_name.as_str() {
        "SERVICE_DEPLOYMENT_COMPLETED" => Ok(()),
        "SERVICE_DEPLOYMENT_FAILED" => Err(if d.reason.is_empty() {
            "no reason given".to_owned()
        } else {
            d.reason
        }),
        "SERVICE_DEPLOYMENT_IN_PROGRESS" => return Ok(None),
        other => return Err(fail(KIND, raw, format!("unknown eventName {other}"))),
    };
    Ok(Some(RolloutOutcome {
        ecs_deployment: d.deployment_id,
        outcome,
    }))
}

#[derive(Deserialize)]
struct CodeBuildDetail {
    #[serde(rename = "build-status")]
    build_status: String,
    #[serde(rename = "project-name")]
    project_name: String,
    #[serde(rename = "build-id")]
    build_id: String,
    #[serde(rename = "additional-information", default)]
    info: CodeBuildInfo,
}

#[derive(Deserialize, Default)]
struct CodeBuildInfo {
    #[serde(rename = "source-version")]
    source_version: Option<String>,
    #[serde(rename = "resolved-source-version")]
    resolved_source_version: Option<String>,
    #[serde(rename = "exported-environment-variables", default)]
    exported: Vec<CodeBuildVariable>,
}

#[derive(Deserialize)]
struct CodeBuildVariable {
    name: String,
    value: String,
}

#[derive(Deserialize)]
struct EventTime {
    time: Timestamp,
}

/// "CodeBuild Build State Change". The project names the service (by name, or by its ECR
/// repository's last segment); the version is the build's exported `IMAGE_TAG` variable, or
/// the commit it built. `None` while the build is still running.
pub fn codebuild_build(
    raw: &serde_json::Value,
    config: &Config,
) -> Result<Option<Build>, EventError> {
    const KIND: &str = "CodeBuild build state change";
    let event: EventBridge<CodeBuildDetail> = parse(KIND, raw)?;
    let finished_at = parse::<EventTime>(KIND, raw)?.time;
    let d = event.detail;
    let succeeded = match d.build_status.as_str() {
        "SUCCEEDED" => true,
        "FAILED" | "FAULT" | "STOPPED" | "TIMED_OUT" => false,
        _ => return Ok(None),
    };
    let service = config.service_built_from(&d.project_name).ok_or_else(|| {
        fail(
            KIND,
            raw,
            format!(
                "no configured service is built by CodeBuild project {}",
                d.project_name
            ),
        )
    })?;
    let tag = d
        .info
        .exported
        .iter()
        .find(|v| v.name == "IMAGE_TAG")
        .map(|v| v.value.clone())
        .or(d.info.resolved_source_version.clone());
    let tag = tag.ok_or_else(|| {
        fail(
            KIND,
            raw,
            "neither IMAGE_TAG nor resolved-source-version says what was built",
        )
    })?;
    Ok(Some(Build {
        service: service.name.clone(),
        version: Version::parse(&tag).map_err(|e| fail(KIND, raw, e.to_string()))?,
        build_id: format!("codebuild:{}", d.build_id),
        branch: d
            .info
            .source_version
            .map(|v| v.trim_start_matches("refs/heads/").to_owned()),
        commit: d.info.resolved_source_version,
        url: None,
        finished_at,
        succeeded,
    }))
}

/// What an EventBridge Scheduler schedule for a backup plan sends. The schedule's input
/// template fills in `<aws.scheduler.execution-id>`, which makes retries of one firing
/// recognisable.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BackupSchedule {
    pub plan: String,
    /// Never empty (`EventKey` refuses that): it is the firing's idempotency key.
    pub execution_id: EventKey,
    #[serde(default)]
    pub scheduled_time: Option<Timestamp>,
}

pub fn backup_schedule(raw: &serde_json::Value) -> Result<BackupSchedule, EventError> {
    parse("Scheduler backup", raw)
}

/// Work the bot (or another function) dispatched.
pub fn dispatched(raw: &serde_json::Value) -> Result<Work, EventError> {
    parse("dispatched work", raw)
}

/// The deploy function's maintenance schedule (`events/scheduler-maintenance.json`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MaintenanceSchedule {
    pub schedule: MaintenanceName,
    #[serde(default)]
    pub execution_id: Option<String>,
}

/// The one schedule the deploy function runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaintenanceName {
    Maintenance,
}

/// What reaches the deploy function: one of its three triggers, each parsed by its own type.
#[derive(Debug, Clone, PartialEq)]
pub enum DeployEvent {
    Maintenance(MaintenanceSchedule),
    Work(Work),
    /// ECS's "Deployment State Change"; `None` while that deployment is still in progress.
    Rollout(Option<RolloutOutcome>),
}

impl DeployEvent {
    /// Which trigger `raw` is comes from the one field each is named by — a Scheduler payload's
    /// `schedule`, dispatched work's `work`, anything else is EventBridge's — and the rest is
    /// that trigger's own parse, whose error names the event's id. Parsed here, not by
    /// `lambda_runtime`, so a malformed event is refused by id instead of retried.
    pub fn parse(raw: &serde_json::Value) -> Result<Self, EventError> {
        let named = |field: &str| raw.get(field).is_some();
        if named("schedule") {
            return parse("deploy function schedule", raw).map(DeployEvent::Maintenance);
        }
        if named("work") {
            return dispatched(raw).map(DeployEvent::Work);
        }
        rollout_outcome(raw).map(DeployEvent::Rollout)
    }
}

/// What reaches the backup function: a Scheduler firing naming a plan, or dispatched work.
#[derive(Debug, Clone, PartialEq)]
pub enum BackupEvent {
    Schedule(BackupSchedule),
    Work(Work),
}

impl BackupEvent {
    pub fn parse(raw: &serde_json::Value) -> Result<Self, EventError> {
        if raw.get("work").is_some() {
            return dispatched(raw).map(BackupEvent::Work);
        }
        backup_schedule(raw).map(BackupEvent::Schedule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str) -> serde_json::Value {
        let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn config() -> Config {
        let text = include_str!("../../infra/deckhand.example.toml");
        Config::parse("example", text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_deploy_and_backup_functions_read_each_trigger_into_its_own_variant() {
        assert!(matches!(
            DeployEvent::parse(&event("scheduler-maintenance.json")).unwrap(),
            DeployEvent::Maintenance(MaintenanceSchedule {
                execution_id: Some(_),
                ..
            })
        ));
        assert!(matches!(
            DeployEvent::parse(&event("dispatch-run-deployment.json")).unwrap(),
            DeployEvent::Work(Work::RunDeployment { .. })
        ));
        assert!(matches!(
            DeployEvent::parse(&event("ecs-deployment-completed.json")).unwrap(),
            DeployEvent::Rollout(Some(RolloutOutcome {
                outcome: Ok(()),
                ..
            }))
        ));
        assert_eq!(
            DeployEvent::parse(&event("ecs-deployment-in-progress.json")).unwrap(),
            DeployEvent::Rollout(None)
        );
        // Each trigger's own error, with the event's id.
        let mut other = event("scheduler-maintenance.json");
        other["schedule"] = serde_json::json!("backup");
        let e = DeployEvent::parse(&other).unwrap_err();
        assert_eq!(e.id, "0b6c1f3e-2d4a-4f57-9a0e-6f1d2c3b4a59");
        assert!(e.why.contains("unknown variant"), "{e}");
        let e = DeployEvent::parse(&serde_json::json!({"work": "run_deployment", "id": "x"}))
            .unwrap_err();
        assert_eq!(e.kind, "dispatched work");
        assert!(matches!(
            BackupEvent::parse(&event("scheduler-backup.json")).unwrap(),
            BackupEvent::Schedule(_)
        ));
        assert!(matches!(
            BackupEvent::parse(&event("dispatch-run-backup.json")).unwrap(),
            BackupEvent::Work(Work::RunBackup { .. })
        ));
        let mut keyless = event("scheduler-backup.json");
        keyless["execution_id"] = serde_json::json!("");
        assert!(
            BackupEvent::parse(&keyless).is_err(),
            "a firing without its id"
        );
    }

    #[test]
    fn alarms_parse_from_eventbridge_and_from_sns_alike() {
        let direct = alarm_change(&event("cloudwatch-alarm-state-change.json")).unwrap();
        let via_sns = alarm_change(&event("cloudwatch-alarm-sns.json")).unwrap();
        assert_eq!(direct.alarm, "api-prod-5xx");
        assert_eq!(
            (direct.previous, direct.current),
            (AlarmState::Ok, AlarmState::Alarm)
        );
        assert_eq!(
            direct.at,
            "2026-11-24T10:05:00.123Z".parse::<Timestamp>().unwrap()
        );
        assert!(direct.reason.starts_with("Threshold Crossed"));
        let arn = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:api-prod-5xx";
        assert_eq!(direct.arn.as_deref(), Some(arn));
        assert_eq!(via_sns.arn.as_deref(), Some(arn));
        assert_eq!(
            (
                via_sns.alarm.as_str(),
                via_sns.previous,
                via_sns.current,
                via_sns.at
            ),
            (
                direct.alarm.as_str(),
                direct.previous,
                direct.current,
                direct.at
            )
        );
    }

    #[test]
    fn ecs_outcomes_parse_and_in_progress_is_nothing_to_do() {
        let done = rollout_outcome(&event("ecs-deployment-completed.json"))
            .unwrap()
            .unwrap();
        assert_eq!(
            done,
            RolloutOutcome {
                ecs_deployment: "ecs-svc/1234567891234567891".into(),
                outcome: Ok(())
            }
        );
        let failed = rollout_outcome(&event("ecs-deployment-failed.json"))
            .unwrap()
            .unwrap();
        assert_eq!(
            failed.outcome,
            Err("ECS deployment circuit breaker: task failed to start.".into())
        );
        assert_eq!(
            rollout_outcome(&event("ecs-deployment-in-progress.json")).unwrap(),
            None
        );
    }

    #[test]
    fn a_codebuild_event_becomes_a_build_of_the_service_it_built() {
        let b = codebuild_build(&event("codebuild-build-succeeded.json"), &config())
            .unwrap()
            .unwrap();
        assert_eq!(b.service.as_str(), "api");
        assert_eq!(
            b.version.as_str(),
            "v1.2.4",
            "IMAGE_TAG wins over the commit"
        );
        assert_eq!(b.branch.as_deref(), Some("main"));
        assert_eq!(
            b.commit.as_deref(),
            Some("acb5820ced9479c074f688cc328bf03f341a511d")
        );
        assert!(b.succeeded);
        assert!(b.build_id.starts_with("codebuild:arn:aws:codebuild:"));
        let mut running = event("codebuild-build-succeeded.json");
        running["detail"]["build-status"] = "IN_PROGRESS".into();
        assert_eq!(codebuild_build(&running, &config()).unwrap(), None);
    }

    #[test]
    fn schedules_and_dispatched_work_parse() {
        let s = backup_schedule(&event("scheduler-backup.json")).unwrap();
        assert_eq!(
            (s.plan.as_str(), s.execution_id.as_str()),
            ("prod-db-nightly", "c8e8f9a2-8f4b-4d0f-a7a5-3f0c8d4a9b61")
        );
        assert!(matches!(
            dispatched(&event("dispatch-run-deployment.json")).unwrap(),
            Work::RunDeployment { .. }
        ));
        assert!(matches!(
            dispatched(&event("dispatch-run-backup.json")).unwrap(),
            Work::RunBackup { .. }
        ));
    }

    #[test]
    fn malformed_events_name_their_id_and_what_is_wrong() {
        let mut bad = event("ecs-deployment-completed.json");
        bad["detail"]["deploymentId"] = serde_json::Value::Null;
        let err = rollout_outcome(&bad).unwrap_err();
        assert_eq!(err.id, "ddca6449-b258-46c0-8653-e0e3a6d0c0e1");
        assert!(
            err.to_string()
                .contains("malformed ECS deployment state change event (id ddca6449"),
            "{err}"
        );
        let err = alarm_change(&serde_json::json!({"id": "x-1", "detail-type": "CloudWatch Alarm State Change", "detail": {}})).unwrap_err();
        assert_eq!(err.id, "x-1");
        let mut unknown = event("codebuild-build-succeeded.json");
        unknown["detail"]["project-name"] = "billing".into();
        assert!(
            codebuild_build(&unknown, &config())
                .unwrap_err()
                .why
                .contains("billing")
        );
        assert!(dispatched(&serde_json::json!({"work": "format_disk"})).is_err());
    }

    #[test]
    fn every_sample_event_is_parsed_by_a_test() {
        let dir = format!("{}/../events", env!("CARGO_MANIFEST_DIR"));
        let parsed_above = [
            "cloudwatch-alarm-sns.json",
            "cloudwatch-alarm-state-change.json",
            "codebuild-build-succeeded.json",
            "dispatch-run-backup.json",
            "dispatch-run-deployment.json",
            "ecs-deployment-completed.json",
            "ecs-deployment-failed.json",
            "ecs-deployment-in-progress.json",
            "scheduler-backup.json",
        ];
        // Webhook samples and the deploy function's schedule are the bot's; its tests parse them.
        let bot_parses = [
            "github-workflow-run.json",
            "gitlab-pipeline.json",
            "scheduler-maintenance.json",
        ];
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            assert!(
                parsed_above.contains(&name.as_str()) || bot_parses.contains(&name.as_str()),
                "events/{name} is parsed by no test"
            );
        }
    }
}
