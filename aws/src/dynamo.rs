//! `Store` on one DynamoDB table.
//!
//! Key design (also in `docs/dynamodb.md`). Every item has `pk` and `sk` (strings); items that
//! need a second access path also have `gsi1pk`/`gsi1sk` (index `gsi1`). Values live in `body`
//! as JSON, so the domain types stay the source of truth; attributes that conditions test are
//! stored beside it.
//!
//! | item | pk | sk | gsi1pk / gsi1sk | conditions |
//! |---|---|---|---|---|
//! | deployment | `DEP#<id>` | `DEP` | `DEPS#<env>` / `<id>` (ULIDs sort by time) | create: absent; save: `rev` = previous |
//! | its cards | `DEP#<id>` | `CARDS` | | |
//! | ECS deployment → deployment | `ECS#<ecs id>` | `ECS` | | written in the same transaction as the save |
//! | env lock | `LOCK#<env>` | `LOCK` | | free, expired, or same `owner`; `ttl` |
//! | hold | `HOLD#<env>` | `SVC#<service>` | | |
//! | pause | `PAUSE#<env>` | `PAUSE` | | absent |
//! | build | `BUILD#<service>` | `ID#<build id>` | `BUILDS#<service>` / `<finished ms>` | absent |
//! | release | `REL#<env>#<service>` | `DEP#<deployment>` | | absent; verdict: `baking` → `good`, not `bad` → `bad` |
//! | backup | `BACKUP#<plan>` | `SNAP#<snapshot>` | `BACKUPS#<plan>` / `<finished ms>` | absent |
//! | audit entry | `AUDIT#<env>` | `<at ms>#<random>` | | |
//! | idempotency claim | `CLAIM#<key>` | `CLAIM` | | absent; `ttl` |
//!
//! Every hot path is a `GetItem` or a `Query` on a key; nothing scans. Reads that decide a
//! write are strongly consistent.
//!
//! Every item written carries `schema` ([`SCHEMA`]). A reader takes its own schema and the
//! one before (items without `schema` were written before it existed, in today's format), and
//! refuses a newer one by name, so a Deckhand rolled back by hand never misreads what its
//! successor wrote: bump `SCHEMA` with any change to a stored shape, and keep reading the
//! previous one for a release.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, Projection, ProjectionType, Put,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TimeToLiveSpecification,
    TransactWriteItem, Update,
};
use deckhand_core::deployment::{Deployment, State};
use deckhand_core::policy::{EnvLock, LockOwner};
use deckhand_core::ports::{
    AuditEntry, BackupRecord, Build, Hold, MessageRef, Opened, Opening, Pause, PortError,
    PortResult, RollbackOpening, Store, Vote, Voted,
};
use deckhand_core::rollback::{Release, Verdict};
use deckhand_core::types::{DeploymentId, EnvName, ServiceName, Timestamp};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{port_error, resource_error};

type Item = HashMap<String, AttributeValue>;

/// The name of the TTL attribute (epoch seconds), enabled on the table.
pub const TTL_ATTRIBUTE: &str = "ttl";

#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

/// The shape of what this Deckhand stores; see the module docs.
pub const SCHEMA: i64 = 4;
const SCHEMA_ATTRIBUTE: &str = "schema";

/// `item` marked with the schema it is written in.
fn versioned(mut item: Item) -> Item {
    item.insert(SCHEMA_ATTRIBUTE.to_owned(), n(SCHEMA));
    item
}

/// Whether this Deckhand can read `item`: its schema or the one before.
fn readable(item: &Item) -> PortResult<()> {
    let written = match item.get(SCHEMA_ATTRIBUTE) {
        None => return Ok(()),
        Some(v) => v.as_n().ok().and_then(|n| n.parse::<i64>().ok()),
    };
    match written {
        Some(v) if (SCHEMA - 1..=SCHEMA).contains(&v) => Ok(()),
        Some(v) => Err(PortError::Failed(format!(
            "a stored record has schema {v}, and this Deckhand reads schemas {} and {SCHEMA}: it was written by {} Deckhand; deploy the matching version of every function",
            SCHEMA - 1,
            if v > SCHEMA {
                "a newer"
            } else {
                "a much older"
            }
        ))),
        None => Err(PortError::Failed(
            "a stored record's schema is not a number".into(),
        )),
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
fn ms(t: Timestamp) -> String {
    // Fixed width so string order is time order (until the year 5138).
    format!("{:015}", t.as_millisecond().max(0))
}
fn json<T: Serialize>(v: &T) -> PortResult<AttributeValue> {
    serde_json::to_string(v)
        .map(s)
        .map_err(|e| PortError::Failed(format!("cannot encode a record: {e}")))
}
fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}
fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}
fn body<T: DeserializeOwned>(item: &Item) -> PortResult<T> {
    readable(item)?;
    let raw = text(item, "body").ok_or_else(|| PortError::Failed("a record has no body".into()))?;
    serde_json::from_str(raw)
        .map_err(|e| PortError::Failed(format!("a stored record does not parse: {e}")))
}
/// A deployment as stored: its body, with the revision and the uncounted votes an approval
/// click may have written beside it since the body was last saved.
fn deployment(item: &Item) -> PortResult<Deployment> {
    let mut d: Deployment = body(item)?;
    if let Some(rev) = item.get("rev").and_then(|v| v.as_n().ok()?.parse().ok()) {
        d.revision = rev;
    }
    if let Some(AttributeValue::L(votes)) = item.get("votes") {
        d.votes = votes
            .iter()
            .map(|v| {
                let raw = v
                    .as_s()
                    .map_err(|_| PortError::Failed("a stored vote is not a string".into()))?;
                serde_json::from_str(raw)
                    .map_err(|e| PortError::Failed(format!("a stored vote does not parse: {e}")))
            })
            .collect::<PortResult<_>>()?;
    }
    Ok(d)
}

fn built<T>(r: Result<T, aws_sdk_dynamodb::error::BuildError>) -> PortResult<T> {
    r.map_err(|e| PortError::Failed(format!("building a DynamoDB request: {e}")))
}
fn is_conflict(e: &PortError) -> bool {
    matches!(e, PortError::Conflict(_))
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table as `infra/template.yaml` declares it (on-demand, `gsi1`, TTL on
    /// `ttl`), for the emulator and the local demo.
    pub async fn create_table(client: &Client, table: &str) -> PortResult<()> {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
        };
        let gsi = GlobalSecondaryIndex::builder()
            .index_name("gsi1")
            .key_schema(built(key("gsi1pk", KeyType::Hash))?)
            .key_schema(built(key("gsi1sk", KeyType::Range))?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            );
        client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(built(attr("pk"))?)
            .attribute_definitions(built(attr("sk"))?)
            .attribute_definitions(built(attr("gsi1pk"))?)
            .attribute_definitions(built(attr("gsi1sk"))?)
            .key_schema(built(key("pk", KeyType::Hash))?)
            .key_schema(built(key("sk", KeyType::Range))?)
            .global_secondary_indexes(built(gsi.build())?)
            .send()
            .await
            .map_err(|e| port_error(&format!("CreateTable {table}"), &e))?;
        let ttl = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(TTL_ATTRIBUTE)
            .build();
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(built(ttl)?)
            .send()
            .await
            .map_err(|e| port_error(&format!("UpdateTimeToLive {table}"), &e))?;
        Ok(())
    }

    async fn get(&self, pk: String, sk: &str) -> PortResult<Option<Item>> {
        let what = format!("GetItem {pk}");
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.port_error(&what, &e))?;
        Ok(out.item)
    }

    /// PutItem, conditional when `condition` is given (`Conflict` when it fails).
    async fn put(&self, item: Item, condition: Option<(&str, Item)>) -> PortResult<()> {
        let what = format!(
            "PutItem {}",
            item.get("pk")
                .and_then(|v| v.as_s().ok())
                .map_or("?", String::as_str)
        );
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(versioned(item)));
        if let Some((expr, values)) = condition {
            req = req.condition_expression(expr);
            if !values.is_empty() {
                req = req.set_expression_attribute_values(Some(values));
            }
        }
        req.send().await.map_err(|e| self.port_error(&what, &e))?;
        Ok(())
    }

    /// Deletes an item and returns the body it had, if it was there.
    async fn take<T: DeserializeOwned>(&self, pk: String, sk: &str) -> PortResult<Option<T>> {
        let what = format!("DeleteItem {pk}");
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| self.port_error(&what, &e))?;
        out.attributes
            .filter(|a| !a.is_empty())
            .map(|i| body(&i))
            .transpose()
    }

    /// An SDK error as a port error; a missing table is Deckhand's setup, not a missing item.
    fn port_error<E, R>(&self, what: &str, e: &aws_sdk_dynamodb::error::SdkError<E, R>) -> PortError
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata
            + std::error::Error
            + Send
            + Sync
            + 'static,
        R: std::fmt::Debug,
    {
        resource_error(what, &format!("DynamoDB table {}", self.table), e)
    }

    /// Writes `record` once at `item`'s key, listed under `list` in the `gsi1` index by `at`
    /// (then `id`, so two at the same millisecond both stay listed).
    async fn put_listed<T: Serialize>(
        &self,
        mut item: Item,
        record: &T,
        list: String,
        at: Timestamp,
        id: &str,
    ) -> PortResult<bool> {
        item.insert("body".into(), json(record)?);
        item.insert("gsi1pk".into(), s(list));
        item.insert("gsi1sk".into(), s(format!("{}#{id}", ms(at))));
        self.put_once(item).await
    }

    /// Up to `limit` records listed under `list`, newest first.
    async fn listed<T: DeserializeOwned>(&self, list: String, limit: usize) -> PortResult<Vec<T>> {
        self.query(Some("gsi1"), list, limit)
            .await?
            .iter()
            .map(body)
            .collect()
    }

    async fn put_once(&self, item: Item) -> PortResult<bool> {
        match self
            .put(item, Some(("attribute_not_exists(pk)", HashMap::new())))
            .await
        {
            Ok(()) => Ok(true),
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Query one partition (or `gsi1` partition), newest first, up to `limit` items.
    async fn query(&self, index: Option<&str>, pk: String, limit: usize) -> PortResult<Vec<Item>> {
        let (pk_name, what) = match index {
            Some(i) => ("gsi1pk", format!("Query {i} {pk}")),
            None => ("pk", format!("Query {pk}")),
        };
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let mut req = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(format!("{pk_name} = :pk"))
                .expression_attribute_values(":pk", s(pk.clone()))
                .scan_index_forward(false)
                .limit(i32::try_from(limit.clamp(1, 100)).unwrap_or(100))
                .set_exclusive_start_key(start);
            match index {
                Some(i) => req = req.index_name(i),
                None => req = req.consistent_read(true),
            }
            let out = req.send().await.map_err(|e| self.port_error(&what, &e))?;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() || items.len() >= limit {
                break;
            }
        }
        items.truncate(limit);
        Ok(items)
    }

    /// A deployment's item: its body, and beside it what an approval click's condition
    /// reads ([`DynamoStore::vote`]) and the votes not yet counted.
    fn deployment_item(d: &Deployment) -> PortResult<Item> {
        let mut item = key(format!("DEP#{}", d.id), "DEP");
        item.insert("body".into(), json(d)?);
        item.insert(
            "rev".into(),
            n(i64::try_from(d.revision).unwrap_or(i64::MAX)),
        );
        item.insert("env".into(), s(d.env.as_str()));
        item.insert("gsi1pk".into(), s(format!("DEPS#{}", d.env)));
        item.insert("gsi1sk".into(), s(d.id.to_string()));
        if d.state == State::PendingApproval {
            item.insert("awaits".into(), AttributeValue::Bool(true));
        }
        item.insert("approval_ms".into(), n(d.approval_expires.as_millisecond()));
        if let Some(requester) = d.requested_by.user_ref() {
            item.insert("requester".into(), s(requester.to_string()));
        }
        item.insert(
            "overridden".into(),
            AttributeValue::Bool(d.overridden.is_some()),
        );
        let voters: Vec<String> = d
            .approvals
            .iter()
            .chain(&d.votes)
            .filter_map(|a| a.by.user_ref())
            .map(|u| u.to_string())
            .collect();
        // A string set may not be empty: absent means nobody.
        if !voters.is_empty() {
            item.insert("voters".into(), AttributeValue::Ss(voters));
        }
        if !d.votes.is_empty() {
            let votes = d.votes.iter().map(json).collect::<PortResult<Vec<_>>>()?;
            item.insert("votes".into(), AttributeValue::L(votes));
        }
        Ok(item)
    }
}

/// Audit sort keys need to be unique across concurrent Lambdas writing in the same
/// millisecond: the per-process random hasher plus a counter gives that without a rand crate.
fn unique_suffix() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static SEED: std::sync::OnceLock<RandomState> = std::sync::OnceLock::new();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    SEED.get_or_init(RandomState::new).hash_one(n)
}

/// Whether a lock may be taken: nobody holds it, its holder's time is up, or it is ours.
const LOCK_FREE: &str = "attribute_not_exists(pk) OR expires_ms <= :now OR #o = :owner";

/// A lock's item and the values [`LOCK_FREE`] needs; `owner` is its owner as JSON.
fn lock_item(lock: &EnvLock, owner: &str, now: Timestamp) -> PortResult<(Item, Item)> {
    let mut item = key(format!("LOCK#{}", lock.env), "LOCK");
    item.insert("body".into(), json(lock)?);
    item.insert("owner".into(), s(owner));
    if let Some(exp) = lock.expires {
        item.insert("expires_ms".into(), n(exp.as_millisecond()));
        item.insert(TTL_ATTRIBUTE.into(), n(exp.as_second() + 3600));
    }
    let values = HashMap::from([
        (":now".to_owned(), n(now.as_millisecond())),
        (":owner".to_owned(), s(owner)),
    ]);
    Ok((item, values))
}

fn claim_item(claim_key: &str, value: &str, expires: Timestamp) -> Item {
    let mut item = key(format!("CLAIM#{claim_key}"), "CLAIM");
    item.insert("value".into(), s(value));
    item.insert(TTL_ATTRIBUTE.into(), n(expires.as_second()));
    item
}

/// Whether a lease may be taken: nobody holds it or its time is up (needs `#until`, `:now`).
const LEASE_FREE: &str = "attribute_not_exists(pk) OR #until < :now";

fn lease_item(lease_key: &str, holder: &str, until: Timestamp) -> Item {
    let mut item = key(format!("LEASE#{lease_key}"), "LEASE");
    item.insert("holder".into(), s(holder));
    item.insert("until".into(), n(until.as_millisecond()));
    // DynamoDB deletes it a day after it lapses.
    item.insert(TTL_ATTRIBUTE.into(), n(until.as_second() + 86_400));
    item
}

fn hold_item(hold: &Hold) -> PortResult<Item> {
    let mut item = key(
        format!("HOLD#{}", hold.env),
        &format!("SVC#{}", hold.service),
    );
    item.insert("body".into(), json(hold)?);
    Ok(item)
}

/// One `Put` of a transaction: `item` (marked with its schema) if `condition` holds.
fn tx_put(
    table: &str,
    item: Item,
    condition: Option<&str>,
    names: &[(&str, &str)],
    values: Item,
) -> PortResult<TransactWriteItem> {
    let mut p = Put::builder()
        .table_name(table)
        .set_item(Some(versioned(item)))
        .set_condition_expression(condition.map(str::to_owned))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    for (name, attribute) in names {
        p = p.expression_attribute_names(*name, *attribute);
    }
    if !values.is_empty() {
        p = p.set_expression_attribute_values(Some(values));
    }
    built(p.build()).map(|p| TransactWriteItem::builder().put(p).build())
}

/// The parts of [`Store::open_deployment`]'s transaction, in order: what a cancellation
/// reason at each index means.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OpenPart {
    Refusal,
    Claim,
    Lock,
    Deployment,
    Pause,
}

fn verdict_name(v: &Verdict) -> &'static str {
    match v {
        Verdict::Baking => "baking",
        Verdict::Good => "good",
        Verdict::Bad { .. } => "bad",
    }
}

fn release_from(item: &Item) -> PortResult<Release> {
    let mut r: Release = body(item)?;
    if let Some(v) = text(item, "verdict_body") {
        r.verdict = serde_json::from_str(v)
            .map_err(|e| PortError::Failed(format!("a stored verdict does not parse: {e}")))?;
    }
    Ok(r)
}

impl Store for DynamoStore {
    async fn create_deployment(&self, d: &Deployment) -> PortResult<()> {
        self.put(
            Self::deployment_item(d)?,
            Some(("attribute_not_exists(pk)", HashMap::new())),
        )
        .await
    }

    async fn open_deployment(&self, o: &Opening<'_>) -> PortResult<Opened> {
        let d = o.deployment;
        let id = d.id.to_string();
        let owner =
            serde_json::to_string(&o.lock.owner).map_err(|e| PortError::Failed(e.to_string()))?;
        let (lock, lock_values) = lock_item(o.lock, &owner, o.now)?;
        let claim = claim_item(o.claim, &id, o.claim_expires);
        let all_old = ReturnValuesOnConditionCheckFailure::AllOld;
        let check = |pk: String, sk: &str| {
            built(
                ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(pk, sk)))
                    .condition_expression("attribute_not_exists(pk)")
                    .return_values_on_condition_check_failure(all_old.clone())
                    .build(),
            )
            .map(|c| TransactWriteItem::builder().condition_check(c).build())
        };
        let put = |item: Item, condition: &str, names: Option<(&str, &str)>, values: Item| {
            let names: Vec<(&str, &str)> = names.into_iter().collect();
            tx_put(&self.table, item, Some(condition), &names, values)
        };
        let mut parts = vec![
            (
                OpenPart::Refusal,
                check(format!("CLAIM#{}", o.refusal), "CLAIM")?,
            ),
            (
                OpenPart::Claim,
                put(
                    claim,
                    "attribute_not_exists(pk) OR #v = :id",
                    Some(("#v", "value")),
                    HashMap::from([(":id".to_owned(), s(id))]),
                )?,
            ),
            (
                OpenPart::Lock,
                put(lock, LOCK_FREE, Some(("#o", "owner")), lock_values)?,
            ),
            (
                OpenPart::Deployment,
                put(
                    Self::deployment_item(d)?,
                    "attribute_not_exists(pk)",
                    None,
                    HashMap::new(),
                )?,
            ),
        ];
        if o.unless_paused {
            parts.push((OpenPart::Pause, check(format!("PAUSE#{}", d.env), "PAUSE")?));
        }
        let what = format!("TransactWriteItems DEP#{}", d.id);
        // Two deliveries of one event racing on the same items: DynamoDB cancels one with
        // `TransactionConflict`; the next attempt finds what the winner wrote.
        for _ in 0..3 {
            let sent = self
                .client
                .transact_write_items()
                .set_transact_items(Some(parts.iter().map(|(_, t)| t.clone()).collect()))
                .send()
                .await;
            let Err(e) = sent else {
                return Ok(Opened::Opened);
            };
            let Some(reasons) = e.as_service_error().and_then(|se| match se {
                TransactWriteItemsError::TransactionCanceledException(c) => {
                    Some(c.cancellation_reasons().to_vec())
                }
                _ => None,
            }) else {
                return Err(self.port_error(&what, &e));
            };
            let failed = |part: OpenPart| {
                parts
                    .iter()
                    .position(|(p, _)| *p == part)
                    .and_then(|i| reasons.get(i))
                    .filter(|r| r.code() == Some("ConditionalCheckFailed"))
                    .map(|r| r.item().cloned().unwrap_or_default())
            };
            if let Some(item) = failed(OpenPart::Refusal) {
                return Ok(Opened::RefusedBefore(
                    text(&item, "value").unwrap_or_default().to_owned(),
                ));
            }
            if let Some(item) = failed(OpenPart::Claim) {
                return Ok(Opened::Claimed(
                    text(&item, "value").unwrap_or_default().to_owned(),
                ));
            }
            if let Some(item) = failed(OpenPart::Pause) {
                return Ok(Opened::Paused(body(&item)?));
            }
            if let Some(item) = failed(OpenPart::Lock).filter(|i| !i.is_empty()) {
                return Ok(Opened::Locked(body(&item)?));
            }
            if failed(OpenPart::Deployment).is_some() {
                // A concurrent copy of this event, derived the same id in the same millisecond.
                return Ok(Opened::Claimed(d.id.to_string()));
            }
            tracing::debug!(deployment = %d.id, ?reasons, "opening a request lost a race; trying again");
        }
        Err(PortError::Transient(format!(
            "opening {} lost to concurrent writes three times",
            d.id
        )))
    }

    async fn open_rollback(&self, o: &RollbackOpening<'_>) -> PortResult<bool> {
        let d = o.deployment;
        let t = self.table.as_str();
        let owner =
            serde_json::to_string(&o.lock.owner).map_err(|e| PortError::Failed(e.to_string()))?;
        let (lock, lock_values) = lock_item(o.lock, &owner, o.now)?;
        let absent = Some("attribute_not_exists(pk)");
        let (service, bad, verdict) = o.judged;
        let (lease, holder, until) = o.lease;
        let pause = built(
            ConditionCheck::builder()
                .table_name(t)
                .set_key(Some(key(format!("PAUSE#{}", d.env), "PAUSE")))
                .condition_expression("attribute_not_exists(pk)")
                .build(),
        )?;
        let judge = built(
            Update::builder()
                .table_name(t)
                .set_key(Some(key(
                    format!("REL#{}#{service}", d.env),
                    &format!("DEP#{bad}"),
                )))
                .update_expression("SET verdict = :v, verdict_body = :vb")
                .condition_expression("attribute_exists(pk) AND verdict <> :v")
                .expression_attribute_values(":v", s(verdict_name(verdict)))
                .expression_attribute_values(":vb", json(verdict)?)
                .build(),
        )?;
        let mut parts = vec![
            tx_put(
                t,
                claim_item(o.decision.0, o.decision.1, o.claims_expire),
                absent,
                &[],
                Item::new(),
            )?,
            tx_put(
                t,
                claim_item(o.claim, &d.id.to_string(), o.claims_expire),
                absent,
                &[],
                Item::new(),
            )?,
            TransactWriteItem::builder().condition_check(pause).build(),
            tx_put(t, lock, Some(LOCK_FREE), &[("#o", "owner")], lock_values)?,
            tx_put(t, Self::deployment_item(d)?, absent, &[], Item::new())?,
            tx_put(
                t,
                lease_item(lease, holder, until),
                Some(LEASE_FREE),
                &[("#until", "until")],
                HashMap::from([(":now".to_owned(), n(o.now.as_millisecond()))]),
            )?,
            TransactWriteItem::builder().update(judge).build(),
        ];
        if let Some(hold) = o.hold {
            parts.push(tx_put(t, hold_item(hold)?, None, &[], Item::new())?);
        }
        if let Some(j) = o.judged_record {
            let previous = i64::try_from(j.revision.saturating_sub(1)).unwrap_or(i64::MAX);
            parts.push(tx_put(
                t,
                Self::deployment_item(j)?,
                Some("rev = :prev"),
                &[],
                HashMap::from([(":prev".to_owned(), n(previous))]),
            )?);
        }
        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(parts))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(e) => match e.as_service_error() {
                // A condition did not hold, or a concurrent delivery raced on the same items:
                // either way the caller reads what it needs and carries on from there.
                Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                    tracing::info!(deployment = %d.id, reasons = ?c.cancellation_reasons(), "the rollback's one write did not hold");
                    Ok(false)
                }
                _ => Err(self.port_error(&format!("TransactWriteItems DEP#{}", d.id), &e)),
            },
        }
    }

    async fn get_deployment(&self, id: DeploymentId) -> PortResult<Option<Deployment>> {
        self.get(format!("DEP#{id}"), "DEP")
            .await?
            .map(|i| deployment(&i))
            .transpose()
    }

    async fn vote(&self, vote: &Vote) -> PortResult<Voted> {
        let voter = vote
            .approval
            .by
            .user_ref()
            .ok_or_else(|| PortError::Failed("only a person votes".into()))?
            .to_string();
        let mut condition = "attribute_exists(pk) AND env = :env AND awaits = :yes \
             AND approval_ms > :at AND (attribute_not_exists(requester) OR requester <> :voter) \
             AND NOT contains(voters, :voter)"
            .to_owned();
        if vote.needs_override {
            condition.push_str(" AND overridden = :yes");
        }
        let values = HashMap::from([
            (":env".to_owned(), s(vote.env.as_str())),
            (":yes".to_owned(), AttributeValue::Bool(true)),
            (":at".to_owned(), n(vote.approval.at.as_millisecond())),
            (":voter".to_owned(), s(voter.clone())),
            (":voters".to_owned(), AttributeValue::Ss(vec![voter])),
            (
                ":vote".to_owned(),
                AttributeValue::L(vec![json(&vote.approval)?]),
            ),
            (":none".to_owned(), AttributeValue::L(Vec::new())),
            (":one".to_owned(), n(1)),
            (":schema".to_owned(), n(SCHEMA)),
        ]);
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("DEP#{}", vote.id), "DEP")))
            .update_expression(
                "SET votes = list_append(if_not_exists(votes, :none), :vote), rev = rev + :one, \
                 #schema = :schema ADD voters :voters",
            )
            .condition_expression(condition)
            .expression_attribute_names("#schema", SCHEMA_ATTRIBUTE)
            .set_expression_attribute_values(Some(values))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match out {
            Ok(out) => match out.attributes {
                Some(item) => Ok(Voted::Recorded(Box::new(deployment(&item)?))),
                None => Err(PortError::Failed(format!(
                    "UpdateItem DEP#{} returned no attributes",
                    vote.id
                ))),
            },
            Err(e) => {
                if let Some(UpdateItemError::ConditionalCheckFailedException(failed)) =
                    e.as_service_error()
                {
                    return Ok(match failed.item() {
                        Some(item) if !item.is_empty() => {
                            Voted::Refused(Box::new(deployment(item)?))
                        }
                        _ => Voted::Unknown,
                    });
                }
                Err(self.port_error(&format!("UpdateItem DEP#{}", vote.id), &e))
            }
        }
    }

    async fn save_deployment(&self, d: &Deployment) -> PortResult<()> {
        let previous = i64::try_from(d.revision.saturating_sub(1)).unwrap_or(i64::MAX);
        let condition_values = HashMap::from([(":prev".to_owned(), n(previous))]);
        let pointers: Vec<&String> = d
            .services
            .iter()
            .filter_map(|s| s.progress.ecs_deployment.as_ref())
            .collect();
        if pointers.is_empty() {
            return self
                .put(
                    Self::deployment_item(d)?,
                    Some(("rev = :prev", condition_values)),
                )
                .await;
        }
        // The deployment and its ECS-deployment pointers are written in one transaction, so
        // an ECS outcome event can always find the deployment that started the rollout.
        let mut req = self.client.transact_write_items().transact_items(
            TransactWriteItem::builder()
                .put(built(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(versioned(Self::deployment_item(d)?)))
                        .condition_expression("rev = :prev")
                        .set_expression_attribute_values(Some(condition_values))
                        .build(),
                )?)
                .build(),
        );
        for ecs in pointers {
            let mut item = key(format!("ECS#{ecs}"), "ECS");
            item.insert("deployment".into(), s(d.id.to_string()));
            req = req.transact_items(
                TransactWriteItem::builder()
                    .put(built(
                        Put::builder()
                            .table_name(&self.table)
                            .set_item(Some(versioned(item)))
                            .build(),
                    )?)
                    .build(),
            );
        }
        req.send()
            .await
            .map_err(|e| self.port_error(&format!("TransactWriteItems DEP#{}", d.id), &e))?;
        Ok(())
    }

    async fn deployment_by_ecs_id(&self, ecs_deployment: &str) -> PortResult<Option<Deployment>> {
        let Some(pointer) = self.get(format!("ECS#{ecs_deployment}"), "ECS").await? else {
            return Ok(None);
        };
        let Some(id) = text(&pointer, "deployment").and_then(|raw| DeploymentId::parse(raw).ok())
        else {
            return Err(PortError::Failed(format!(
                "corrupt pointer for ECS deployment {ecs_deployment}"
            )));
        };
        self.get_deployment(id).await
    }

    async fn recent_deployments(
        &self,
        env: &EnvName,
        service: Option<&ServiceName>,
        limit: usize,
    ) -> PortResult<Vec<Deployment>> {
        // With a service filter, read a few pages more than asked: most deploys in an env touch
        // most of its services, so this rarely needs a second query.
        let fetch = if service.is_some() {
            limit.saturating_mul(4).min(200)
        } else {
            limit
        };
        let items = self
            .query(Some("gsi1"), format!("DEPS#{env}"), fetch)
            .await?;
        let mut out = Vec::new();
        for item in items {
            let d = deployment(&item)?;
            if service.is_none_or(|s| d.services.iter().any(|r| &r.service == s)) {
                out.push(d);
            }
            if out.len() == limit {
                break;
            }
        }
        Ok(out)
    }

    async fn set_cards(&self, id: DeploymentId, cards: &[MessageRef]) -> PortResult<()> {
        let mut item = key(format!("DEP#{id}"), "CARDS");
        item.insert("body".into(), json(&cards)?);
        self.put(item, None).await
    }

    async fn cards(&self, id: DeploymentId) -> PortResult<Vec<MessageRef>> {
        Ok(self
            .get(format!("DEP#{id}"), "CARDS")
            .await?
            .map(|i| body(&i))
            .transpose()?
            .unwrap_or_default())
    }

    async fn card_shown(&self, id: DeploymentId, revision: u64) -> PortResult<()> {
        let revision = i64::try_from(revision).unwrap_or(i64::MAX);
        let mut item = key(format!("DEP#{id}"), "SHOWN");
        item.insert("shown_rev".into(), n(revision));
        let values = HashMap::from([(":r".to_owned(), n(revision))]);
        match self
            .put(
                item,
                Some(("attribute_not_exists(pk) OR shown_rev < :r", values)),
            )
            .await
        {
            // A newer revision was shown already.
            Err(e) if is_conflict(&e) => Ok(()),
            other => other,
        }
    }

    async fn shown_revision(&self, id: DeploymentId) -> PortResult<Option<u64>> {
        Ok(self
            .get(format!("DEP#{id}"), "SHOWN")
            .await?
            .and_then(|i| i.get("shown_rev")?.as_n().ok()?.parse().ok()))
    }

    async fn get_lock(&self, env: &EnvName) -> PortResult<Option<EnvLock>> {
        self.get(format!("LOCK#{env}"), "LOCK")
            .await?
            .map(|i| body(&i))
            .transpose()
    }

    async fn acquire_lock(
        &self,
        lock: &EnvLock,
        now: Timestamp,
    ) -> PortResult<Result<(), EnvLock>> {
        let owner =
            serde_json::to_string(&lock.owner).map_err(|e| PortError::Failed(e.to_string()))?;
        // A lock that is released between our failed write and our read is retried.
        for _ in 0..3 {
            let (item, values) = lock_item(lock, &owner, now)?;
            let req = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression(LOCK_FREE)
                .expression_attribute_names("#o", "owner")
                .set_expression_attribute_values(Some(values));
            match req
                .send()
                .await
                .map_err(|e| self.port_error(&format!("PutItem LOCK#{}", lock.env), &e))
            {
                Ok(_) => return Ok(Ok(())),
                Err(e) if is_conflict(&e) => {
                    if let Some(holder) = self.get_lock(&lock.env).await? {
                        return Ok(Err(holder));
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(PortError::Transient(format!(
            "the lock on {} changed hands three times while taking it",
            lock.env
        )))
    }

    async fn release_lock(&self, env: &EnvName, owner: &LockOwner) -> PortResult<bool> {
        let owner = serde_json::to_string(owner).map_err(|e| PortError::Failed(e.to_string()))?;
        let res = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("LOCK#{env}"), "LOCK")))
            .condition_expression("#o = :owner")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await
            .map_err(|e| self.port_error(&format!("DeleteItem LOCK#{env}"), &e));
        match res {
            Ok(_) => Ok(true),
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn break_lock(&self, env: &EnvName) -> PortResult<Option<EnvLock>> {
        self.take(format!("LOCK#{env}"), "LOCK").await
    }

    async fn put_hold(&self, hold: &Hold) -> PortResult<()> {
        self.put(hold_item(hold)?, None).await
    }

    async fn holds(&self, env: &EnvName) -> PortResult<Vec<Hold>> {
        self.query(None, format!("HOLD#{env}"), 100)
            .await?
            .iter()
            .map(body)
            .collect()
    }

    async fn clear_holds(&self, env: &EnvName) -> PortResult<Vec<Hold>> {
        let holds = self.holds(env).await?;
        for h in &holds {
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key(
                    format!("HOLD#{env}"),
                    &format!("SVC#{}", h.service),
                )))
                .send()
                .await
                .map_err(|e| self.port_error(&format!("DeleteItem HOLD#{env}"), &e))?;
        }
        Ok(holds)
    }

    async fn pause(&self, pause: &Pause) -> PortResult<Option<Pause>> {
        let mut item = key(format!("PAUSE#{}", pause.env), "PAUSE");
        item.insert("body".into(), json(pause)?);
        if self.put_once(item).await? {
            return Ok(None);
        }
        // Paused already (or by a racing delivery): that pause stands.
        Ok(self
            .paused(&pause.env)
            .await?
            .or_else(|| Some(pause.clone())))
    }

    async fn paused(&self, env: &EnvName) -> PortResult<Option<Pause>> {
        self.get(format!("PAUSE#{env}"), "PAUSE")
            .await?
            .map(|i| body(&i))
            .transpose()
    }

    async fn resume(&self, env: &EnvName) -> PortResult<Option<Pause>> {
        self.take(format!("PAUSE#{env}"), "PAUSE").await
    }

    async fn record_build(&self, build: &Build) -> PortResult<bool> {
        let (service, id) = (&build.service, &build.build_id);
        let item = key(format!("BUILD#{service}"), &format!("ID#{id}"));
        self.put_listed(
            item,
            build,
            format!("BUILDS#{service}"),
            build.finished_at,
            id,
        )
        .await
    }

    async fn builds(&self, service: &ServiceName, limit: usize) -> PortResult<Vec<Build>> {
        self.listed(format!("BUILDS#{service}"), limit).await
    }

    async fn record_release(&self, release: &Release) -> PortResult<()> {
        let mut item = key(
            format!("REL#{}#{}", release.env, release.service),
            &format!("DEP#{}", release.deployment),
        );
        item.insert("body".into(), json(release)?);
        item.insert("verdict".into(), s(verdict_name(&release.verdict)));
        item.insert("verdict_body".into(), json(&release.verdict)?);
        self.put_once(item).await.map(|_| ())
    }

    async fn releases(
        &self,
        env: &EnvName,
        service: &ServiceName,
        limit: usize,
    ) -> PortResult<Vec<Release>> {
        // The sort key orders by deployment id (request time); success order can differ for
        // deployments that overlapped, so sort by success time after reading.
        let items = self
            .query(None, format!("REL#{env}#{service}"), limit)
            .await?;
        let mut out = items
            .iter()
            .map(release_from)
            .collect::<PortResult<Vec<_>>>()?;
        out.sort_by_key(|r| std::cmp::Reverse(r.succeeded_at));
        Ok(out)
    }

    async fn judge_release(
        &self,
        env: &EnvName,
        service: &ServiceName,
        deployment: DeploymentId,
        verdict: &Verdict,
    ) -> PortResult<bool> {
        let condition = match verdict {
            Verdict::Good => "attribute_exists(pk) AND verdict = :baking",
            Verdict::Bad { .. } => "attribute_exists(pk) AND verdict <> :bad",
            Verdict::Baking => return Ok(false),
        };
        let mut values = HashMap::from([
            (":v".to_owned(), s(verdict_name(verdict))),
            (":vb".to_owned(), json(verdict)?),
        ]);
        match verdict {
            Verdict::Good => values.insert(":baking".into(), s("baking")),
            _ => values.insert(":bad".into(), s("bad")),
        };
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(
                format!("REL#{env}#{service}"),
                &format!("DEP#{deployment}"),
            )))
            .update_expression("SET verdict = :v, verdict_body = :vb")
            .condition_expression(condition)
            .set_expression_attribute_values(Some(values))
            .send()
            .await
            .map_err(|e| {
                self.port_error(&format!("UpdateItem REL#{env}#{service} {deployment}"), &e)
            });
        match res {
            Ok(_) => Ok(true),
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn record_backup(&self, record: &BackupRecord) -> PortResult<bool> {
        let (plan, snapshot) = (&record.plan, &record.snapshot);
        let item = key(format!("BACKUP#{plan}"), &format!("SNAP#{snapshot}"));
        self.put_listed(
            item,
            record,
            format!("BACKUPS#{plan}"),
            record.finished_at,
            snapshot,
        )
        .await
    }

    async fn backups(&self, plan: &str, limit: usize) -> PortResult<Vec<BackupRecord>> {
        self.listed(format!("BACKUPS#{plan}"), limit).await
    }

    async fn append_audit(&self, entry: &AuditEntry) -> PortResult<()> {
        let mut item = key(
            format!("AUDIT#{}", entry.env),
            &format!("{}#{:016x}", ms(entry.at), unique_suffix()),
        );
        item.insert("body".into(), json(entry)?);
        self.put(item, None).await
    }

    async fn audit(&self, env: &EnvName, limit: usize) -> PortResult<Vec<AuditEntry>> {
        self.query(None, format!("AUDIT#{env}"), limit)
            .await?
            .iter()
            .map(body)
            .collect()
    }

    async fn claim(
        &self,
        claim_key: &str,
        value: &str,
        expires: Timestamp,
    ) -> PortResult<Option<String>> {
        if self.put_once(claim_item(claim_key, value, expires)).await? {
            return Ok(None);
        }
        let existing = self.get(format!("CLAIM#{claim_key}"), "CLAIM").await?;
        Ok(Some(
            existing
                .as_ref()
                .and_then(|i| text(i, "value"))
                .unwrap_or_default()
                .to_owned(),
        ))
    }

    async fn claimed(&self, claim_key: &str) -> PortResult<Option<String>> {
        let existing = self.get(format!("CLAIM#{claim_key}"), "CLAIM").await?;
        Ok(existing
            .as_ref()
            .and_then(|i| text(i, "value"))
            .map(str::to_owned))
    }

    async fn lease(
        &self,
        lease_key: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> PortResult<bool> {
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(lease_item(lease_key, holder, until)))
            .condition_expression(LEASE_FREE)
            .expression_attribute_names("#until", "until")
            .expression_attribute_values(":now", n(now.as_millisecond()))
            .send()
            .await
            .map_err(|e| self.port_error(&format!("PutItem LEASE#{lease_key}"), &e));
        match res {
            Ok(_) => Ok(true),
            Err(e) if is_conflict(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn end_lease(&self, lease_key: &str, holder: &str) -> PortResult<()> {
        let res = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("LEASE#{lease_key}"), "LEASE")))
            .condition_expression("holder = :holder")
            .expression_attribute_values(":holder", s(holder))
            .send()
            .await
            .map_err(|e| self.port_error(&format!("DeleteItem LEASE#{lease_key}"), &e));
        match res {
            Ok(_) => Ok(()),
            // Someone else's lease by now (ours ran out and was taken): leave it.
            Err(e) if is_conflict(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
