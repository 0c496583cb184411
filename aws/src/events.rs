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

/// The longest event id a log line or an answer repeats; longer ones are cut (an event id is
/// AWS's, or a caller's, and a hostile caller may send a megabyte).
const MAX_ID: usize = 200;

/// The event's id, read leniently before anything else, so even an event that fails to parse
/// is logged and answered by id: EventBridge's `id`, an SNS record's `MessageId`, a Scheduler
/// firing's `execution_id`, dispatched work's key, or — for CloudWatch's direct Lambda alarm
/// action, which has no id — the alarm's ARN and the time of its transition. Total: any JSON
/// gives an answer, `unknown` where none of these is there.
pub fn event_id(raw: &serde_json::Value) -> String {
    let text = |v: &serde_json::Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    let alarm_action = || {
        let arn = text(&raw["alarmArn"])?;
        let at = text(&raw["alarmData"]["state"]["timestamp"]).or_else(|| text(&raw["time"]))?;
        Some(format!("{arn}@{at}"))
    };
    let id = text(&raw["id"])
        .or_else(|| text(&raw["Records"][0]["Sns"]["MessageId"]))
        .or_else(|| text(&raw["Records"][0]["messageId"]))
        .or_else(|| text(&raw["execution_id"]))
        .or_else(|| text(&raw["key"]))
        .or_else(alarm_action)
        .unwrap_or_else(|| "unknown".to_owned());
    cut(id, MAX_ID)
}

/// `s`, at most `max` bytes of it, cut on a character boundary.
fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

fn parse<T: DeserializeOwned>(
    kind: &'static str,
    raw: &serde_json::Value,
) -> Result<T, EventError> {
    T::deserialize(raw).map_err(|e| fail(kind, raw, e.to_string()))
}

fn fail(kind: &'static str, raw: &serde_json::Value, why: impl Into<String>) -> EventError {
    EventError {
        kind,
        id: event_id(raw),
        why: cut(why.into(), 2 * MAX_ID),
    }
}

/// An EventBridge event of `detail_type`, with its detail read as `D`.
fn eventbridge<D: DeserializeOwned>(
    kind: &'static str,
    detail_type: &str,
    raw: &serde_json::Value,
) -> Result<EventBridge<D>, EventError> {
    let event: EventBridge<serde_json::Value> = parse(kind, raw)?;
    if event.detail_type != detail_type {
        return Err(fail(
            kind,
            raw,
            format!(
                "unexpected detail-type {}: this function takes {detail_type}",
                event.detail_type
            ),
        ));
    }
    Ok(EventBridge {
        detail_type: event.detail_type,
        resources: event.resources,
        detail: D::deserialize(&event.detail).map_err(|e| fail(kind, raw, e.to_string()))?,
    })
}

/// CloudWatch writes `2026-11-24T10:05:00.123+0000`: an offset without a colon, which RFC 3339
/// parsers refuse. Insert the colon, then parse. Total: anything else is `None`, whatever its
/// characters (a byte split inside a multi-byte one once panicked the rollback function).
fn cloudwatch_time(raw: &str) -> Option<Timestamp> {
    if let Ok(t) = raw.parse() {
        return Some(t);
    }
    let (head, tail) = raw.split_at_checked(raw.len().checked_sub(5)?)?;
    let (sign, digits) = tail.split_at_checked(1)?;
    if !matches!(sign, "+" | "-") || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    format!("{head}{sign}{}:{}", &digits[..2], &digits[2..])
        .parse()
        .ok()
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

/// An alarm's transition as EventBridge's `detail` and the direct Lambda action's `alarmData`
/// both write it.
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

/// CloudWatch's direct Lambda alarm action: the alarm invokes the function itself.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlarmAction {
    #[serde(default)]
    alarm_arn: Option<String>,
    alarm_data: AlarmDetail,
}

#[derive(Deserialize)]
struct SnsEnvelope {
    #[serde(rename = "Records")]
    records: Vec<serde_json::Value>,
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

/// One alarm transition as the three transports carry it, before its words are checked.
struct Transition {
    alarm: String,
    arn: Option<String>,
    previous: String,
    current: String,
    at: String,
    reason: String,
}

impl Transition {
    fn from_detail(d: AlarmDetail, arn: Option<String>) -> Self {
        Transition {
            alarm: d.alarm_name,
            arn,
            previous: d.previous_state.value,
            current: d.state.value,
            at: d.state.timestamp,
            reason: d.state.reason,
        }
    }

    fn change(
        self,
        kind: &'static str,
        raw: &serde_json::Value,
    ) -> Result<AlarmChange, EventError> {
        let Transition {
            alarm,
            arn,
            previous,
            current,
            at,
            reason,
        } = self;
        Ok(AlarmChange {
            previous: alarm_state(&previous)
                .ok_or_else(|| fail(kind, raw, format!("unknown state {previous}")))?,
            current: alarm_state(&current)
                .ok_or_else(|| fail(kind, raw, format!("unknown state {current}")))?,
            at: cloudwatch_time(&at)
                .ok_or_else(|| fail(kind, raw, format!("unreadable timestamp {at}")))?,
            alarm,
            arn,
            reason,
        })
    }
}

const ALARM: &str = "CloudWatch alarm";

/// One SNS record's alarm; an error names the record's own `MessageId`.
fn sns_alarm(record: &serde_json::Value) -> Result<AlarmChange, EventError> {
    // The record, wrapped as a one-record event, so its errors name its own message id.
    let alone = serde_json::json!({ "Records": [record] });
    let record = SnsRecord::deserialize(record).map_err(|e| fail(ALARM, &alone, e.to_string()))?;
    let classic: ClassicAlarm = serde_json::from_str(&record.sns.message)
        .map_err(|e| fail(ALARM, &alone, format!("SNS message is not an alarm: {e}")))?;
    Transition {
        alarm: classic.alarm_name,
        arn: classic.alarm_arn,
        previous: classic.old_state_value,
        current: classic.new_state_value,
        at: classic.state_change_time,
        reason: classic.new_state_reason,
    }
    .change(ALARM, &alone)
}

/// Every alarm transition an event carries, each parsed on its own: one from EventBridge's
/// "CloudWatch Alarm State Change" or from CloudWatch's direct Lambda alarm action, one per
/// record from SNS (a record that is not an alarm is refused by its message id, and the others
/// still count). `Err` only when the event as a whole is unreadable.
pub fn alarm_changes(
    raw: &serde_json::Value,
) -> Result<Vec<Result<AlarmChange, EventError>>, EventError> {
    if raw.get("Records").is_some() {
        let envelope: SnsEnvelope = parse(ALARM, raw)?;
        if envelope.records.is_empty() {
            return Err(fail(ALARM, raw, "SNS event without records"));
        }
        return Ok(envelope.records.iter().map(sns_alarm).collect());
    }
    if raw.get("alarmData").is_some() {
        let action: AlarmAction = parse(ALARM, raw)?;
        let change =
            Transition::from_detail(action.alarm_data, action.alarm_arn).change(ALARM, raw);
        return Ok(vec![change]);
    }
    let event: EventBridge<AlarmDetail> = eventbridge(ALARM, "CloudWatch Alarm State Change", raw)?;
    let arn = event.resources.into_iter().find(|r| r.contains(":alarm:"));
    Ok(vec![
        Transition::from_detail(event.detail, arn).change(ALARM, raw),
    ])
}

/// The one alarm transition of an event that carries exactly one (EventBridge, the direct
/// Lambda action, a one-record SNS message).
pub fn alarm_change(raw: &serde_json::Value) -> Result<AlarmChange, EventError> {
    let mut all = alarm_changes(raw)?;
    match (all.pop(), all.is_empty()) {
        (Some(one), true) => one,
        _ => Err(fail(ALARM, raw, "expected one alarm, found several")),
    }
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
    let d = eventbridge::<EcsDeploymentDetail>(KIND, "ECS Deployment State Change", raw)?.detail;
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
    // A phase change (every build sends one per phase when the rule matches them) says nothing
    // a finished build does not; it is read, and left.
    if raw["detail-type"] == "CodeBuild Build Phase Change" {
        return Ok(None);
    }
    let event: EventBridge<CodeBuildDetail> =
        eventbridge(KIND, "CodeBuild Build State Change", raw)?;
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

/// The delay queue's batch, as SQS's event source mapping delivers it: exactly one record
/// (the template's `BatchSize: 1`), whose body is dispatched work.
#[derive(Debug, Deserialize)]
struct SqsBatch {
    #[serde(rename = "Records")]
    records: Vec<SqsRecord>,
}

#[derive(Debug, Deserialize)]
struct SqsRecord {
    body: String,
}

/// Work that came back through the delay queue (`events/sqs-delayed-work.json`).
pub fn delayed(raw: &serde_json::Value) -> Result<Work, EventError> {
    const KIND: &str = "delayed work";
    let batch: SqsBatch = parse(KIND, raw)?;
    let [record] = batch.records.as_slice() else {
        return Err(fail(
            KIND,
            raw,
            format!(
                "{} records in one batch; the delay queue's mapping sends one (BatchSize 1)",
                batch.records.len()
            ),
        ));
    };
    let body: serde_json::Value = serde_json::from_str(&record.body)
        .map_err(|e| fail(KIND, raw, format!("the body is not JSON: {e}")))?;
    Work::deserialize(&body).map_err(|e| fail(KIND, raw, e.to_string()))
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
    /// `schedule`, dispatched work's `work`, the delay queue's SQS `eventSource`, anything else
    /// is EventBridge's — and the rest is
    /// that trigger's own parse, whose error names the event's id. Parsed here, not by
    /// `lambda_runtime`, so a malformed event is refused by id instead of retried.
    pub fn parse(raw: &serde_json::Value) -> Result<Self, EventError> {
        let named = |field: &str| raw.get(field).is_some();
        if named("schedule") {
            return parse("deploy function schedule", raw).map(DeployEvent::Maintenance);
        }
        // An EventBridge rule's schedule (`rate(5 minutes)` on a rule instead of a Scheduler
        // schedule) is the same maintenance, keyed by its event id.
        if raw["detail-type"] == "Scheduled Event" && raw["source"] == "aws.events" {
            return Ok(DeployEvent::Maintenance(MaintenanceSchedule {
                schedule: MaintenanceName::Maintenance,
                execution_id: raw["id"].as_str().map(str::to_owned),
            }));
        }
        if named("work") {
            return dispatched(raw).map(DeployEvent::Work);
        }
        if raw["Records"][0]["eventSource"] == "aws:sqs" {
            return delayed(raw).map(DeployEvent::Work);
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
            DeployEvent::parse(&event("sqs-delayed-work.json")).unwrap(),
            DeployEvent::Work(Work::Wake { revision: 7, .. })
        ));
        let mut two = event("sqs-delayed-work.json");
        let record = two["Records"][0].clone();
        two["Records"].as_array_mut().unwrap().push(record);
        let e = DeployEvent::parse(&two).unwrap_err();
        assert_eq!(e.kind, "delayed work");
        assert!(e.why.contains("2 records"), "{e}");
        assert!(matches!(
            DeployEvent::parse(&event("dispatch-prepare-deployment.json")).unwrap(),
            DeployEvent::Work(Work::PrepareDeployment { .. })
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
    fn the_direct_lambda_alarm_action_is_the_same_transition_with_the_same_key() {
        let action = alarm_change(&event("cloudwatch-alarm-lambda-action.json")).unwrap();
        let via_eventbridge = alarm_change(&event("cloudwatch-alarm-state-change.json")).unwrap();
        assert_eq!(
            (
                action.alarm.as_str(),
                action.previous,
                action.current,
                action.at,
                action.arn.as_deref()
            ),
            (
                via_eventbridge.alarm.as_str(),
                via_eventbridge.previous,
                via_eventbridge.current,
                via_eventbridge.at,
                via_eventbridge.arn.as_deref()
            )
        );
        assert_eq!(
            event_id(&event("cloudwatch-alarm-lambda-action.json")),
            "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:api-prod-5xx@2026-11-24T10:05:00.123+0000"
        );
    }

    #[test]
    fn every_record_of_an_sns_message_is_read_and_a_bad_one_is_refused_by_its_own_id() {
        let one = event("cloudwatch-alarm-sns.json");
        let mut second = one["Records"][0].clone();
        second["Sns"]["MessageId"] = "second-message".into();
        second["Sns"]["Message"] = second["Sns"]["Message"]
            .as_str()
            .unwrap()
            .replace("api-prod-5xx", "worker-prod-errors")
            .into();
        let mut broken = one["Records"][0].clone();
        broken["Sns"]["MessageId"] = "broken-message".into();
        broken["Sns"]["Message"] = "not an alarm".into();
        let three = serde_json::json!({ "Records": [one["Records"][0], second, broken] });
        let changes = alarm_changes(&three).unwrap();
        assert_eq!(changes.len(), 3);
        assert_eq!(changes[0].as_ref().unwrap().alarm, "api-prod-5xx");
        assert_eq!(changes[1].as_ref().unwrap().alarm, "worker-prod-errors");
        let refused = changes[2].as_ref().unwrap_err();
        assert_eq!(refused.id, "broken-message");
        assert!(refused.why.contains("not an alarm"), "{refused}");
        assert!(
            alarm_change(&three).is_err(),
            "one alarm was asked for; three came"
        );
    }

    #[test]
    fn an_alarm_time_of_any_characters_is_refused_not_a_panic() {
        for raw in [
            "ééééé",
            "éé+0000",
            "2026-11-24T10:05:00.123+00é",
            "+0000",
            "",
            "12345",
        ] {
            assert_eq!(cloudwatch_time(raw), None, "{raw}");
        }
        assert_eq!(
            cloudwatch_time("2026-11-24T10:05:00.123-0130"),
            "2026-11-24T11:35:00.123Z".parse().ok()
        );
        let mut bad = event("cloudwatch-alarm-state-change.json");
        bad["detail"]["state"]["timestamp"] = "ééééé".into();
        let e = alarm_change(&bad).unwrap_err();
        assert_eq!(e.id, "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92");
        assert!(e.why.contains("unreadable timestamp"), "{e}");
    }

    #[test]
    fn event_ids_are_cut_to_a_readable_length_on_a_character_boundary() {
        let id = event_id(&serde_json::json!({ "id": "é".repeat(500) }));
        assert!(id.len() <= MAX_ID + '…'.len_utf8(), "{}", id.len());
        assert!(id.ends_with('…'));
        assert_eq!(event_id(&serde_json::json!([1, 2])), "unknown");
        assert_eq!(event_id(&serde_json::json!({ "id": 7 })), "unknown");
    }

    #[test]
    fn a_codebuild_phase_change_is_read_and_left_and_a_scheduled_rule_is_maintenance() {
        assert_eq!(
            codebuild_build(&event("codebuild-build-phase-change.json"), &config()).unwrap(),
            None
        );
        assert_eq!(
            DeployEvent::parse(&event("eventbridge-scheduled-event.json")).unwrap(),
            DeployEvent::Maintenance(MaintenanceSchedule {
                schedule: MaintenanceName::Maintenance,
                execution_id: Some("89d1a02d-5ec7-412e-82f5-13505f849b41".into()),
            })
        );
        let e = rollout_outcome(&event("eventbridge-scheduled-event.json")).unwrap_err();
        assert!(
            e.why
                .contains("this function takes ECS Deployment State Change"),
            "{e}"
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
            "cloudwatch-alarm-lambda-action.json",
            "codebuild-build-phase-change.json",
            "eventbridge-scheduled-event.json",
            "cloudwatch-alarm-sns.json",
            "cloudwatch-alarm-state-change.json",
            "codebuild-build-succeeded.json",
            "dispatch-prepare-deployment.json",
            "dispatch-run-backup.json",
            "dispatch-run-deployment.json",
            "ecs-deployment-completed.json",
            "ecs-deployment-failed.json",
            "ecs-deployment-in-progress.json",
            "scheduler-backup.json",
            "sqs-delayed-work.json",
        ];
        // Webhook samples and the deploy function's schedule are the bot's; its tests parse them.
        let bot_parses = [
            "github-workflow-run.json",
            "gitlab-pipeline.json",
            "scheduler-maintenance.json",
        ];
        for entry in std::fs::read_dir(&dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if !name.ends_with(".json") {
                continue; // events/README.md says where each sample comes from
            }
            assert!(
                parsed_above.contains(&name.as_str()) || bot_parses.contains(&name.as_str()),
                "events/{name} is parsed by no test"
            );
        }
    }
}
