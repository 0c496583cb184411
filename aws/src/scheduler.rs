//! The backup plans' schedules on EventBridge Scheduler, in Deckhand's own schedule group.
//! Deckhand owns the group: every schedule in it is a plan's, and one no plan names is deleted.

use aws_sdk_scheduler::types::{
    DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode, RetryPolicy, ScheduleState,
    Target,
};
use deckhand_core::ports::{PortError, PortResult};
use deckhand_core::schedule::{PlanSchedule, ScheduleChange};

use crate::error::{misconfigured_if_missing, port_error};

/// Every field of a create or an update (two SDK builders with the same setters): an update
/// replaces the whole schedule, so both send all of it.
macro_rules! schedule_request {
    ($builder:expr, $self:ident, $s:ident, $window:ident, $target:ident) => {
        $builder
            .group_name(&$self.group)
            .name(&$s.name)
            .description(format!("Deckhand backup plan {}", $s.name))
            .schedule_expression(&$s.expression)
            .schedule_expression_timezone(&$s.timezone)
            .flexible_time_window($window)
            .state(ScheduleState::Enabled)
            .target($target($s)?)
    };
}

/// Where and how the plans' schedules fire.
#[derive(Debug, Clone)]
pub struct Scheduling {
    pub client: aws_sdk_scheduler::Client,
    /// Deckhand's schedule group (the template's `…-backups`).
    pub group: String,
    /// The backup function (its `live` alias).
    pub target_arn: String,
    /// The role Scheduler invokes it with.
    pub role_arn: String,
    /// Where a firing that failed every retry goes.
    pub dead_letter_arn: Option<String>,
}

impl Scheduling {
    /// From the deploy function's environment (`DECKHAND_SCHEDULE_GROUP`,
    /// `DECKHAND_BACKUP_TARGET_ARN`, `DECKHAND_SCHEDULER_ROLE_ARN`, `DECKHAND_DEAD_LETTER_ARN`);
    /// `None` when the group is not set.
    pub fn from_env(client: aws_sdk_scheduler::Client) -> Option<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Some(Self {
            client,
            group: var("DECKHAND_SCHEDULE_GROUP")?,
            target_arn: var("DECKHAND_BACKUP_TARGET_ARN")?,
            role_arn: var("DECKHAND_SCHEDULER_ROLE_ARN")?,
            dead_letter_arn: var("DECKHAND_DEAD_LETTER_ARN"),
        })
    }

    /// What the schedules fire, as [`PlanSchedule::target`] holds it.
    pub fn target(&self) -> String {
        format!("{}|{}", self.target_arn, self.role_arn)
    }

    fn missing(&self, e: PortError) -> PortError {
        misconfigured_if_missing(e, &format!("schedule group {}", self.group))
    }

    /// Every schedule in the group, as the plans' are compared.
    pub async fn list(&self) -> PortResult<Vec<PlanSchedule>> {
        let mut names = Vec::new();
        let mut next = None;
        loop {
            let out = self
                .client
                .list_schedules()
                .group_name(&self.group)
                .set_next_token(next)
                .send()
                .await
                .map_err(|e| self.missing(port_error("ListSchedules", &e)))?;
            names.extend(
                out.schedules()
                    .iter()
                    .filter_map(|s| s.name().map(str::to_owned)),
            );
            next = out.next_token().map(str::to_owned);
            if next.is_none() {
                break;
            }
        }
        let mut schedules = Vec::new();
        for name in names {
            let s = self
                .client
                .get_schedule()
                .group_name(&self.group)
                .name(&name)
                .send()
                .await
                .map_err(|e| port_error(&format!("GetSchedule {name}"), &e))?;
            let target = s.target();
            schedules.push(PlanSchedule {
                name,
                expression: s.schedule_expression().unwrap_or_default().to_owned(),
                timezone: s.schedule_expression_timezone().unwrap_or("UTC").to_owned(),
                input: target
                    .and_then(|t| t.input())
                    .unwrap_or_default()
                    .to_owned(),
                target: target
                    .map_or_else(String::new, |t| format!("{}|{}", t.arn(), t.role_arn())),
            });
        }
        Ok(schedules)
    }

    /// Creates, replaces (every field: an update replaces the whole schedule) or deletes one.
    pub async fn change(&self, change: &ScheduleChange) -> PortResult<()> {
        let target = |s: &PlanSchedule| -> PortResult<Target> {
            Target::builder()
                .arn(&self.target_arn)
                .role_arn(&self.role_arn)
                .input(&s.input)
                .retry_policy(
                    RetryPolicy::builder()
                        .maximum_retry_attempts(3)
                        .maximum_event_age_in_seconds(3600)
                        .build(),
                )
                .set_dead_letter_config(
                    self.dead_letter_arn
                        .as_ref()
                        .map(|arn| DeadLetterConfig::builder().arn(arn).build()),
                )
                .build()
                .map_err(|e| PortError::Failed(format!("building the schedule's target: {e}")))
        };
        let window = FlexibleTimeWindow::builder()
            .mode(FlexibleTimeWindowMode::Off)
            .build()
            .map_err(|e| PortError::Failed(format!("building the time window: {e}")))?;
        match change {
            ScheduleChange::Create(s) => {
                schedule_request!(self.client.create_schedule(), self, s, window, target)
                    .send()
                    .await
                    .map_err(|e| {
                        self.missing(port_error(&format!("CreateSchedule {}", s.name), &e))
                    })?;
            }
            ScheduleChange::Update(s) => {
                schedule_request!(self.client.update_schedule(), self, s, window, target)
                    .send()
                    .await
                    .map_err(|e| port_error(&format!("UpdateSchedule {}", s.name), &e))?;
            }
            ScheduleChange::Delete(name) => {
                self.client
                    .delete_schedule()
                    .group_name(&self.group)
                    .name(name)
                    .send()
                    .await
                    .map_err(|e| port_error(&format!("DeleteSchedule {name}"), &e))?;
            }
        }
        Ok(())
    }
}
