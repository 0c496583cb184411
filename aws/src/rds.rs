//! `Backups` on RDS: instance and cluster snapshots, tagged as Deckhand's.
//!
//! One adapter per kind of snapshot ([`InstanceSnapshots`], [`ClusterSnapshots`]): each is the
//! handful of RDS calls that differ, and [`Snapshots`] is what both do with them (wait, list
//! page by page, refuse to delete what is not Deckhand's). [`RdsBackups`] hands a plan to the
//! adapter of its kind.

use std::future::Future;
use std::time::Duration;

use aws_sdk_rds::primitives::DateTime;
use aws_sdk_rds::types::Tag;
use deckhand_core::config::{BackupKind, BackupPlan};
use deckhand_core::ports::{Backups, NewSnapshot, PortError, PortResult};
use deckhand_core::retention::{SnapshotInfo, SnapshotStatus};
use deckhand_core::schedule::{PlanSchedule, ScheduleChange};
use deckhand_core::types::Timestamp;

use crate::error::port_error;

/// The tag that marks a snapshot as made by a Deckhand plan. Retention lists and deletes only
/// snapshots carrying it with the plan's name.
pub const PLAN_TAG: &str = "deckhand:plan";

/// A snapshot as either API describes it: the fields instance and cluster snapshots share.
#[derive(Debug, Clone)]
pub struct Snapshot {
    id: String,
    arn: Option<String>,
    created: Option<DateTime>,
    status: Option<String>,
    tags: Vec<Tag>,
}

impl Snapshot {
    fn info(&self, plan: &BackupPlan) -> SnapshotInfo {
        SnapshotInfo {
            id: self.id.clone(),
            created: self
                .created
                .and_then(|t| Timestamp::new(t.secs(), 0).ok())
                .unwrap_or(Timestamp::UNIX_EPOCH),
            status: status_of(self.status.as_deref()),
            made_by_deckhand: self
                .tags
                .iter()
                .any(|t| t.key() == Some(PLAN_TAG) && t.value() == Some(plan.name.as_str())),
        }
    }
}

/// A [`Snapshot`] from an RDS `DbSnapshot` or `DbClusterSnapshot`: two SDK types with the same
/// accessors and no trait in common.
macro_rules! snapshot {
    ($s:expr, $id:expr, $arn:ident) => {
        Snapshot {
            id: $id,
            arn: $s.$arn().map(str::to_owned),
            created: $s.snapshot_create_time().copied(),
            status: $s.status().map(str::to_owned),
            tags: $s.tag_list().to_vec(),
        }
    };
}

fn status_of(raw: Option<&str>) -> SnapshotStatus {
    match raw {
        Some("available") => SnapshotStatus::Available,
        Some("creating" | "pending" | "copying" | "backing-up") | None => SnapshotStatus::Creating,
        Some(_) => SnapshotStatus::Failed,
    }
}

/// The RDS calls that differ between instance and cluster snapshots.
pub trait SnapshotApi: Send + Sync {
    fn describe(&self, snapshot: &str)
    -> impl Future<Output = PortResult<Option<Snapshot>>> + Send;
    /// One page of the target's manual snapshots, and the marker of the next.
    fn page(
        &self,
        target: &str,
        marker: Option<String>,
    ) -> impl Future<Output = PortResult<(Vec<Snapshot>, Option<String>)>> + Send;
    fn create(
        &self,
        target: &str,
        snapshot: &str,
        tags: Vec<Tag>,
    ) -> impl Future<Output = PortResult<()>> + Send;
    /// Copies the snapshot `source_arn` (in another region) into this client's region as
    /// `snapshot`, tagged, encrypted with `kms_key` when given.
    fn copy(
        &self,
        source_arn: &str,
        snapshot: &str,
        tags: Vec<Tag>,
        kms_key: Option<&str>,
    ) -> impl Future<Output = PortResult<()>> + Send;
    fn delete(&self, snapshot: &str) -> impl Future<Output = PortResult<()>> + Send;
    /// The same calls in `region`.
    fn in_region(&self, region: &str) -> Self
    where
        Self: Sized;
}

/// DB instance snapshots (`CreateDBSnapshot` and friends).
#[derive(Debug, Clone)]
pub struct InstanceSnapshots(aws_sdk_rds::Client);

/// Aurora cluster snapshots (`CreateDBClusterSnapshot` and friends).
#[derive(Debug, Clone)]
pub struct ClusterSnapshots(aws_sdk_rds::Client);

/// The four calls for one kind of snapshot: the same calls under that kind's SDK names.
macro_rules! snapshot_api {
    ($ty:ident {
        describe: $describe:ident, list: $list:ident, id: $id:ident, arn: $arn:ident,
        create: $create:ident, target: $target:ident, delete: $delete:ident,
        copy: $copy:ident, source: $source:ident, copy_id: $copy_id:ident,
    }) => {
        impl SnapshotApi for $ty {
            async fn describe(&self, snapshot: &str) -> PortResult<Option<Snapshot>> {
                let out = self
                    .0
                    .$describe()
                    .$id(snapshot)
                    .send()
                    .await
                    .map_err(|e| port_error(&format!("describe snapshot {snapshot}"), &e))?;
                Ok(out
                    .$list()
                    .first()
                    .map(|s| snapshot!(s, snapshot.to_owned(), $arn)))
            }

            async fn page(
                &self,
                target: &str,
                marker: Option<String>,
            ) -> PortResult<(Vec<Snapshot>, Option<String>)> {
                let r = self
                    .0
                    .$describe()
                    .$target(target)
                    .snapshot_type("manual")
                    .set_marker(marker)
                    .send()
                    .await
                    .map_err(|e| port_error(&format!("list snapshots of {target}"), &e))?;
                let page = r
                    .$list()
                    .iter()
                    .map(|s| snapshot!(s, s.$id().unwrap_or_default().to_owned(), $arn))
                    .collect();
                Ok((page, r.marker))
            }

            async fn create(&self, target: &str, snapshot: &str, tags: Vec<Tag>) -> PortResult<()> {
                self.0
                    .$create()
                    .$target(target)
                    .$id(snapshot)
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .map_err(|e| port_error(&format!("snapshot {snapshot} of {target}"), &e))?;
                Ok(())
            }

            async fn copy(
                &self,
                source_arn: &str,
                snapshot: &str,
                tags: Vec<Tag>,
                kms_key: Option<&str>,
            ) -> PortResult<()> {
                // RDS in the destination region reads the source by its ARN (a presigned URL is
                // needed only between GovCloud regions).
                self.0
                    .$copy()
                    .$source(source_arn)
                    .$copy_id(snapshot)
                    .set_tags(Some(tags))
                    .set_kms_key_id(kms_key.map(str::to_owned))
                    .send()
                    .await
                    .map_err(|e| {
                        port_error(&format!("copy snapshot {source_arn} as {snapshot}"), &e)
                    })?;
                Ok(())
            }

            async fn delete(&self, snapshot: &str) -> PortResult<()> {
                self.0
                    .$delete()
                    .$id(snapshot)
                    .send()
                    .await
                    .map_err(|e| port_error(&format!("delete snapshot {snapshot}"), &e))?;
                Ok(())
            }

            fn in_region(&self, region: &str) -> Self {
                let config = self
                    .0
                    .config()
                    .to_builder()
                    .region(aws_sdk_rds::config::Region::new(region.to_owned()))
                    .build();
                Self(aws_sdk_rds::Client::from_conf(config))
            }
        }
    };
}

snapshot_api!(InstanceSnapshots {
    describe: describe_db_snapshots,
    list: db_snapshots,
    id: db_snapshot_identifier,
    arn: db_snapshot_arn,
    create: create_db_snapshot,
    target: db_instance_identifier,
    delete: delete_db_snapshot,
    copy: copy_db_snapshot,
    source: source_db_snapshot_identifier,
    copy_id: target_db_snapshot_identifier,
});

snapshot_api!(ClusterSnapshots {
    describe: describe_db_cluster_snapshots,
    list: db_cluster_snapshots,
    id: db_cluster_snapshot_identifier,
    arn: db_cluster_snapshot_arn,
    create: create_db_cluster_snapshot,
    target: db_cluster_identifier,
    delete: delete_db_cluster_snapshot,
    copy: copy_db_cluster_snapshot,
    source: source_db_cluster_snapshot_identifier,
    copy_id: target_db_cluster_snapshot_identifier,
});

/// `Backups` on one kind of snapshot: what instance and cluster plans do alike.
#[derive(Debug, Clone)]
pub struct Snapshots<A> {
    api: A,
    pub poll: Duration,
    pub timeout: Duration,
}

impl<A> Snapshots<A> {
    fn new(api: A) -> Self {
        Self {
            api,
            poll: Duration::from_secs(15),
            timeout: Duration::from_secs(14 * 60),
        }
    }
}

impl<A: SnapshotApi> Snapshots<A> {
    /// The same kind of snapshots in the plan's `copy_to` region.
    fn copies(&self, plan: &BackupPlan) -> PortResult<Self> {
        let region = plan.copy_to.as_deref().ok_or_else(|| {
            PortError::Misconfigured(format!("backup plan {} has no copy_to", plan.name))
        })?;
        Ok(Self {
            api: self.api.in_region(region),
            poll: self.poll,
            timeout: self.timeout,
        })
    }

    async fn describe(&self, plan: &BackupPlan, snapshot: &str) -> PortResult<SnapshotInfo> {
        self.api
            .describe(snapshot)
            .await?
            .map(|s| s.info(plan))
            .ok_or_else(|| PortError::NotFound(format!("snapshot {snapshot}")))
    }
}

impl<A: SnapshotApi> Backups for Snapshots<A> {
    async fn create(&self, new: NewSnapshot<'_>) -> PortResult<()> {
        let (plan, snapshot, tags) = (new.plan, new.name, new.tags);
        let tags = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        self.api.create(&plan.target, snapshot, tags).await
    }

    async fn wait(&self, plan: &BackupPlan, snapshot: &str) -> PortResult<SnapshotStatus> {
        let started = tokio::time::Instant::now();
        loop {
            let info = self.describe(plan, snapshot).await?;
            if info.status != SnapshotStatus::Creating {
                return Ok(info.status);
            }
            if started.elapsed() >= self.timeout {
                return Err(PortError::Transient(format!(
                    "snapshot {snapshot} is still being created after {:?}",
                    self.timeout
                )));
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    async fn list(&self, plan: &BackupPlan) -> PortResult<Vec<SnapshotInfo>> {
        let mut out = Vec::new();
        let mut marker = None;
        loop {
            let (page, next) = self.api.page(&plan.target, marker).await?;
            out.extend(
                page.iter()
                    .filter(|s| !s.id.is_empty())
                    .map(|s| s.info(plan)),
            );
            marker = next;
            if marker.is_none() {
                return Ok(out);
            }
        }
    }

    async fn delete(&self, plan: &BackupPlan, snapshot: &str) -> PortResult<()> {
        // Belt and braces: retention only hands us our own snapshots, but a delete is the one
        // call here that loses data, so check the tag again right before it.
        let info = self.describe(plan, snapshot).await?;
        if !info.made_by_deckhand {
            return Err(PortError::Failed(format!(
                "refusing to delete {snapshot}: it does not carry {PLAN_TAG}={}",
                plan.name
            )));
        }
        self.api.delete(snapshot).await
    }
}

/// An `ecs-task` plan makes artifacts with its own task, not RDS snapshots: the backup use-case
/// runs it through the platform, never through this adapter.
fn not_snapshots(plan: &BackupPlan) -> PortError {
    PortError::Misconfigured(format!(
        "backup plan {} is an ecs-task plan: it takes no RDS snapshots",
        plan.name
    ))
}

/// Every plan on the adapter of its kind.
#[derive(Debug, Clone)]
pub struct RdsBackups {
    pub instances: Snapshots<InstanceSnapshots>,
    pub clusters: Snapshots<ClusterSnapshots>,
    /// The plans' schedules, where this function keeps them (the deploy function's
    /// maintenance, `deckhand schedules`).
    pub scheduling: Option<crate::scheduler::Scheduling>,
}

impl RdsBackups {
    pub fn new(rds: aws_sdk_rds::Client) -> Self {
        Self {
            instances: Snapshots::new(InstanceSnapshots(rds.clone())),
            clusters: Snapshots::new(ClusterSnapshots(rds)),
            scheduling: None,
        }
    }

    pub fn with_scheduling(mut self, scheduling: Option<crate::scheduler::Scheduling>) -> Self {
        self.scheduling = scheduling;
        self
    }
}

impl<A: SnapshotApi> Snapshots<A> {
    async fn copy(&self, new: NewSnapshot<'_>) -> PortResult<()> {
        let (plan, snapshot, tags) = (new.plan, new.name, new.tags);
        let source = self
            .api
            .describe(snapshot)
            .await?
            .and_then(|s| s.arn)
            .ok_or_else(|| PortError::NotFound(format!("snapshot {snapshot} (to copy)")))?;
        let tags = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        self.copies(plan)?
            .api
            .copy(&source, snapshot, tags, plan.copy_kms_key.as_deref())
            .await
    }
}

/// Calls `$call` on the adapter for `$plan`'s kind, bound to `$s`: the instance and cluster
/// adapters are different types, so a closure could not take either.
macro_rules! by_kind {
    ($self:ident, $plan:expr, |$s:ident| $call:expr) => {
        match $plan.kind {
            BackupKind::RdsInstance => {
                let $s = &$self.instances;
                $call.await
            }
            BackupKind::RdsCluster => {
                let $s = &$self.clusters;
                $call.await
            }
            BackupKind::EcsTask => Err(not_snapshots($plan)),
        }
    };
}

impl Backups for RdsBackups {
    async fn create(&self, new: NewSnapshot<'_>) -> PortResult<()> {
        by_kind!(self, new.plan, |s| s.create(new))
    }

    async fn wait(&self, plan: &BackupPlan, snapshot: &str) -> PortResult<SnapshotStatus> {
        by_kind!(self, plan, |s| s.wait(plan, snapshot))
    }

    async fn list(&self, plan: &BackupPlan) -> PortResult<Vec<SnapshotInfo>> {
        by_kind!(self, plan, |s| s.list(plan))
    }

    async fn delete(&self, plan: &BackupPlan, snapshot: &str) -> PortResult<()> {
        by_kind!(self, plan, |s| s.delete(plan, snapshot))
    }

    async fn copy(&self, new: NewSnapshot<'_>) -> PortResult<()> {
        by_kind!(self, new.plan, |s| s.copy(new))
    }

    async fn list_copies(&self, plan: &BackupPlan) -> PortResult<Vec<SnapshotInfo>> {
        if plan.copy_to.is_none() {
            return Ok(Vec::new());
        }
        by_kind!(self, plan, |s| s.copies(plan)?.list(plan))
    }

    async fn delete_copy(&self, plan: &BackupPlan, snapshot: &str) -> PortResult<()> {
        by_kind!(self, plan, |s| s.copies(plan)?.delete(plan, snapshot))
    }

    async fn schedules(&self) -> PortResult<Option<(String, Vec<PlanSchedule>)>> {
        match &self.scheduling {
            Some(s) => Ok(Some((s.target(), s.list().await?))),
            None => Ok(None),
        }
    }

    async fn change_schedule(&self, change: &ScheduleChange) -> PortResult<()> {
        match &self.scheduling {
            Some(s) => s.change(change).await,
            None => Err(PortError::Misconfigured(format!(
                "no schedule group to apply {change} in (DECKHAND_SCHEDULE_GROUP)"
            ))),
        }
    }
}
