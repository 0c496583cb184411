//! `Backups` on RDS: instance and cluster snapshots, tagged as Deckhand's.

use std::time::Duration;

use aws_sdk_rds::types::Tag;
use deckhand_core::config::{BackupKind, BackupPlan};
use deckhand_core::ports::{Backups, PortError, PortResult};
use deckhand_core::retention::{SnapshotInfo, SnapshotStatus};
use deckhand_core::types::Timestamp;

use crate::error::port_error;

/// The tag that marks a snapshot as made by a Deckhand plan. Retention lists and deletes only
/// snapshots carrying it with the plan's name.
pub const PLAN_TAG: &str = "deckhand:plan";

#[derive(Debug, Clone)]
pub struct RdsBackups {
    rds: aws_sdk_rds::Client,
    pub poll: Duration,
    pub timeout: Duration,
}

fn status_of(raw: Option<&str>) -> SnapshotStatus {
    match raw {
        Some("available") => SnapshotStatus::Available,
        Some("creating" | "pending" | "copying" | "backing-up") | None => SnapshotStatus::Creating,
        Some(_) => SnapshotStatus::Failed,
    }
}

fn timestamp(t: Option<&aws_sdk_rds::primitives::DateTime>) -> Timestamp {
    t.and_then(|t| Timestamp::new(t.secs(), 0).ok())
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

fn ours(tags: &[Tag], plan: &BackupPlan) -> bool {
    tags.iter()
        .any(|t| t.key() == Some(PLAN_TAG) && t.value() == Some(plan.name.as_str()))
}

/// A snapshot as retention sees it, from the fields instance and cluster snapshots share.
fn info(
    id: &str,
    created: Option<&aws_sdk_rds::primitives::DateTime>,
    status: Option<&str>,
    tags: &[Tag],
    plan: &BackupPlan,
) -> SnapshotInfo {
    SnapshotInfo {
        id: id.to_owned(),
        created: timestamp(created),
        status: status_of(status),
        made_by_deckhand: ours(tags, plan),
    }
}

impl RdsBackups {
    pub fn new(rds: aws_sdk_rds::Client) -> Self {
        Self {
            rds,
            poll: Duration::from_secs(15),
            timeout: Duration::from_secs(14 * 60),
        }
    }

    async fn describe(&self, plan: &BackupPlan, snapshot: &str) -> PortResult<SnapshotInfo> {
        let what = format!("describe snapshot {snapshot}");
        match plan.kind {
            BackupKind::RdsInstance => {
                let out = self
                    .rds
                    .describe_db_snapshots()
                    .db_snapshot_identifier(snapshot)
                    .send()
                    .await
                    .map_err(|e| port_error(&what, &e))?;
                let s = out
                    .db_snapshots()
                    .first()
                    .ok_or_else(|| PortError::NotFound(format!("snapshot {snapshot}")))?;
                Ok(info(
                    snapshot,
                    s.snapshot_create_time(),
                    s.status(),
                    s.tag_list(),
                    plan,
                ))
            }
            BackupKind::RdsCluster => {
                let out = self
                    .rds
                    .describe_db_cluster_snapshots()
                    .db_cluster_snapshot_identifier(snapshot)
                    .send()
                    .await
                    .map_err(|e| port_error(&what, &e))?;
                let s = out
                    .db_cluster_snapshots()
                    .first()
                    .ok_or_else(|| PortError::NotFound(format!("snapshot {snapshot}")))?;
                Ok(info(
                    snapshot,
                    s.snapshot_create_time(),
                    s.status(),
                    s.tag_list(),
                    plan,
                ))
            }
        }
    }
}

impl Backups for RdsBackups {
    async fn create(
        &self,
        plan: &BackupPlan,
        snapshot: &str,
        tags: &[(String, String)],
    ) -> PortResult<()> {
        let tags: Vec<Tag> = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        let what = format!(
            "snapshot {} of {} for plan {}",
            snapshot, plan.target, plan.name
        );
        match plan.kind {
            BackupKind::RdsInstance => {
                self.rds
                    .create_db_snapshot()
                    .db_instance_identifier(&plan.target)
                    .db_snapshot_identifier(snapshot)
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .map_err(|e| port_error(&what, &e))?;
            }
            BackupKind::RdsCluster => {
                self.rds
                    .create_db_cluster_snapshot()
                    .db_cluster_identifier(&plan.target)
                    .db_cluster_snapshot_identifier(snapshot)
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .map_err(|e| port_error(&what, &e))?;
            }
        }
        Ok(())
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
        let what = format!("list snapshots of {} for plan {}", plan.target, plan.name);
        let mut out = Vec::new();
        let mut marker = None;
        loop {
            let (page, next) = match plan.kind {
                BackupKind::RdsInstance => {
                    let r = self
                        .rds
                        .describe_db_snapshots()
                        .db_instance_identifier(&plan.target)
                        .snapshot_type("manual")
                        .set_marker(marker)
                        .send()
                        .await
                        .map_err(|e| port_error(&what, &e))?;
                    let page: Vec<SnapshotInfo> = r
                        .db_snapshots()
                        .iter()
                        .map(|s| {
                            info(
                                s.db_snapshot_identifier().unwrap_or_default(),
                                s.snapshot_create_time(),
                                s.status(),
                                s.tag_list(),
                                plan,
                            )
                        })
                        .collect();
                    (page, r.marker)
                }
                BackupKind::RdsCluster => {
                    let r = self
                        .rds
                        .describe_db_cluster_snapshots()
                        .db_cluster_identifier(&plan.target)
                        .snapshot_type("manual")
                        .set_marker(marker)
                        .send()
                        .await
                        .map_err(|e| port_error(&what, &e))?;
                    let page: Vec<SnapshotInfo> = r
                        .db_cluster_snapshots()
                        .iter()
                        .map(|s| {
                            info(
                                s.db_cluster_snapshot_identifier().unwrap_or_default(),
                                s.snapshot_create_time(),
                                s.status(),
                                s.tag_list(),
                                plan,
                            )
                        })
                        .collect();
                    (page, r.marker)
                }
            };
            out.extend(page.into_iter().filter(|s| !s.id.is_empty()));
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
        let what = format!("delete snapshot {snapshot}");
        match plan.kind {
            BackupKind::RdsInstance => {
                self.rds
                    .delete_db_snapshot()
                    .db_snapshot_identifier(snapshot)
                    .send()
                    .await
                    .map_err(|e| port_error(&what, &e))?;
            }
            BackupKind::RdsCluster => {
                self.rds
                    .delete_db_cluster_snapshot()
                    .db_cluster_snapshot_identifier(snapshot)
                    .send()
                    .await
                    .map_err(|e| port_error(&what, &e))?;
            }
        }
        Ok(())
    }
}
