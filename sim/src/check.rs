//! The engine's invariants, checked after every step against what the store holds and what the
//! world saw.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use deckhand_core::card::deployment_card;
use deckhand_core::config::Config;
use deckhand_core::deployment::{Deployment, DeploymentKind, Limits, State};
use deckhand_core::policy::{EnvLock, LockOwner};
use deckhand_core::ports::{Hold, MessageRef, PortResult, RolloutState, Store};
use deckhand_core::rollback::{Release, Verdict};
use deckhand_core::types::{Actor, DeploymentId, Timestamp};

use crate::world::{Target, UpdateCall, World};

/// The invariants, by number, as the simulation issue states them.
pub const INVARIANTS: [&str; 9] = [
    "automation never deploys or rolls back to a release judged bad",
    "a rollback never targets the revision it replaces",
    "at most one deployment in flight per environment, and its lock held exactly while it is",
    "a deployment in flight reaches a terminal state, or is resumed, within one maintenance period after its deadline",
    "a release whose rollout failed, or that was rolled back, never reads Succeeded",
    "after a maintenance tick, every card shows its deployment's current state",
    "an approval counts only from an eligible approver, once per person, before its expiry, never the requester's",
    "delivering an event twice leaves the store as delivering it once",
    "after a crash nothing is lost and no effect happens twice",
];

/// Invariants that cannot be checked in full until the engine has what they are about, with
/// the issue that brings it. Their violations are counted and shown, never failed on.
pub const PENDING: &[(u8, &str)] = &[];

/// Kinds of violation today's engine is known to produce, with the issue that fixes each. The
/// fixed budget in `cargo test` reports them and fails only on the others; their entries in
/// `tests/regressions.txt` must still fail until that issue takes the kind off this list.
pub const KNOWN: &[(&str, &str)] = &[
    (
        "9-rollback-after-circuit-breaker",
        "not yet filed: a rollback whose first attempt died after UpdateService, and whose rollout ECS's circuit breaker then undid, is sent again when resumed (a rollback registers no revision to mark its step by; ECS's ListServiceDeployments would tell, and moto does not have it)",
    ),
    (
        "9-lost-card",
        "not yet filed: a crash between posting a card and saving its reference loses the card (needs chat-side idempotency)",
    ),
];

/// Why `v`'s invariant is not checked in full yet, if it is not.
pub fn pending(v: &Violation) -> Option<&'static str> {
    PENDING
        .iter()
        .find(|(n, _)| *n == v.invariant)
        .map(|(_, why)| *why)
}

/// Which issue fixes `v`'s kind, if it is a known failure of today's engine.
pub fn known(v: &Violation) -> Option<&'static str> {
    KNOWN
        .iter()
        .find(|(kind, _)| *kind == v.kind)
        .map(|(_, why)| *why)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub invariant: u8,
    /// Which check found it: a short stable name, what [`KNOWN`] lists.
    pub kind: &'static str,
    /// Index of the step after which it was seen (the drain counts on from the last step).
    pub step: usize,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = INVARIANTS
            .get(usize::from(self.invariant).wrapping_sub(1))
            .copied()
            .unwrap_or("?");
        write!(
            f,
            "invariant {} ({what}) broken after step {} [{}]: {}",
            self.invariant, self.step, self.kind, self.detail
        )
    }
}

/// The store's state, read through the `Store` port so it is the same on any store.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub deployments: Vec<Deployment>,
    pub releases: Vec<Release>,
    pub locks: Vec<EnvLock>,
    pub holds: Vec<Hold>,
    pub cards: BTreeMap<DeploymentId, Vec<MessageRef>>,
}

impl Observed {
    /// Reads everything; the cards' references only `with_cards` (a read per deployment,
    /// which the checks need only after maintenance and to compare two deliveries).
    pub async fn read<S: Store>(
        store: &S,
        config: &Config,
        with_cards: bool,
    ) -> PortResult<Observed> {
        let mut o = Observed {
            deployments: Vec::new(),
            releases: Vec::new(),
            locks: Vec::new(),
            holds: Vec::new(),
            cards: BTreeMap::new(),
        };
        for env in config.environments.values() {
            o.deployments
                .extend(store.recent_deployments(&env.name, None, 10_000).await?);
            for s in config.services_in(&env.name) {
                o.releases
                    .extend(store.releases(&env.name, &s.name, 10_000).await?);
            }
            o.locks.extend(store.get_lock(&env.name).await?);
            o.holds.extend(store.holds(&env.name).await?);
        }
        o.deployments.sort_by_key(|d| d.id);
        o.releases.sort_by(|a, b| {
            (&a.env, &a.service, a.deployment).cmp(&(&b.env, &b.service, b.deployment))
        });
        for d in o.deployments.iter().filter(|_| with_cards) {
            let refs = store.cards(d.id).await?;
            if !refs.is_empty() {
                o.cards.insert(d.id, refs);
            }
        }
        Ok(o)
    }

    pub fn deployment(&self, id: DeploymentId) -> Option<&Deployment> {
        self.deployments.iter().find(|d| d.id == id)
    }

    /// The deployments whose progress names ECS deployment `ecs`.
    fn adopters(&self, ecs: &str) -> Vec<&Deployment> {
        self.deployments
            .iter()
            .filter(|d| {
                d.services
                    .iter()
                    .any(|s| s.progress.ecs_deployment.as_deref() == Some(ecs))
            })
            .collect()
    }
}

/// In flight: not finished, and not an approval request whose window has passed (the engine
/// refuses every click on it, whether or not its state says Expired yet).
pub fn in_flight(d: &Deployment, now: Timestamp) -> bool {
    let expired = d.state == State::PendingApproval && now >= d.approval_expires;
    !(d.state.is_terminal() || expired)
}

fn automatic(d: &Deployment) -> bool {
    matches!(
        d.kind,
        DeploymentKind::Rollback {
            automatic: true,
            ..
        }
    ) || matches!(d.requested_by, Actor::System { .. })
}

/// What a check needs besides the two observations.
#[derive(Debug)]
pub struct Context<'a> {
    pub config: &'a Config,
    pub world: &'a World,
    pub now: Timestamp,
    pub step: usize,
    /// `UpdateService` calls made during this step: `world.updates[new_updates..]`.
    pub new_updates: usize,
    /// Whether this step was a maintenance tick (or the drain's end).
    pub after_maintenance: bool,
    /// When a delivery last died half-way (its step lease still blocks a resume until it
    /// runs out).
    pub last_crash: Option<Timestamp>,
    /// Whether chat was up for the delivery checked: cards can only be current after a
    /// maintenance run that could reach it.
    pub chat_up: bool,
}

impl Context<'_> {
    fn violation(&self, kind: &'static str, detail: String) -> Violation {
        Violation {
            invariant: kind
                .split('-')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
            kind,
            step: self.step,
            detail,
        }
    }
}

/// Every invariant that can be judged from one step's before and after.
pub fn check(cx: &Context<'_>, before: &Observed, after: &Observed) -> Vec<Violation> {
    let mut v = Vec::new();
    automation_never_ships_bad(cx, before, after, &mut v);
    rollbacks_never_onto_themselves(cx, after, &mut v);
    one_in_flight(cx, after, &mut v);
    deadlines_met(cx, after, &mut v);
    records_are_honest(cx, after, &mut v);
    cards_are_current(cx, after, &mut v);
    approvals_count_right(cx, after, &mut v);
    effects_once(cx, after, &mut v);
    v
}

/// Invariant 1.
fn automation_never_ships_bad(
    cx: &Context<'_>,
    before: &Observed,
    after: &Observed,
    out: &mut Vec<Violation>,
) {
    for call in &cx.world.updates[cx.new_updates..] {
        let adopters = after.adopters(&call.ecs_deployment);
        let by_automation = match adopters.as_slice() {
            // Nobody recorded it: the rollback loop outside the state machine, or a step
            // that died before it was saved (attributed to the deployment rolling there).
            [] => after
                .deployments
                .iter()
                .find(|d| {
                    d.env == call.env
                        && in_flight(d, cx.now)
                        && d.services.iter().any(|s| {
                            s.service == call.service
                                && match &call.target {
                                    Target::Image(digest) => &s.image.digest == digest,
                                    Target::TaskDefinition => {
                                        s.target_task_definition.as_deref()
                                            == Some(call.task_definition.as_str())
                                    }
                                }
                        })
                })
                .is_none_or(automatic),
            ds => ds.iter().any(|d| automatic(d)),
        };
        if !by_automation {
            continue;
        }
        let bad = before.releases.iter().find(|r| {
            r.env == call.env
                && r.service == call.service
                && matches!(r.verdict, Verdict::Bad { .. })
                && match &call.target {
                    Target::Image(digest) => &r.image.digest == digest,
                    Target::TaskDefinition => r.task_definition == call.task_definition,
                }
        });
        if let Some(r) = bad {
            let Verdict::Bad { by, why, .. } = &r.verdict else {
                continue;
            };
            let reason = format!("{by} {why}");
            let also_good = before.releases.iter().any(|o| {
                o.env == r.env
                    && o.service == r.service
                    && o.task_definition == r.task_definition
                    && !matches!(o.verdict, Verdict::Bad { .. })
            });
            let kind = match (&call.target, also_good) {
                (Target::Image(_), _) => "1-deploys-bad-digest",
                (Target::TaskDefinition, false) => "1-back-to-bad-release",
                (Target::TaskDefinition, true) => "1-back-to-revision-judged-bad",
            };
            out.push(cx.violation(
                kind,
                format!(
                    "automation set {} in {} to `{}` ({}), the revision of release {} judged bad: {reason}",
                    call.service, call.env, call.task_definition, r.image.tag, r.deployment
                ),
            ));
        }
    }
}

/// Invariant 2.
fn rollbacks_never_onto_themselves(cx: &Context<'_>, after: &Observed, out: &mut Vec<Violation>) {
    let mut by_ecs: BTreeMap<&str, BTreeSet<DeploymentId>> = BTreeMap::new();
    for d in &after.deployments {
        for s in &d.services {
            if let Some(ecs) = &s.progress.ecs_deployment {
                by_ecs.entry(ecs).or_default().insert(d.id);
            }
        }
    }
    if let Some((ecs, ids)) = by_ecs.iter().find(|(_, ids)| ids.len() > 1) {
        out.push(cx.violation(
                "2-shared-ecs-deployment",
            format!(
                "ECS deployment {ecs} is claimed by {} deployments ({}): a rollback onto the revision already running reused its deployment",
                ids.len(),
                ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    for d in &after.deployments {
        let DeploymentKind::Rollback { of: Some(bad), .. } = &d.kind else {
            continue;
        };
        for s in &d.services {
            let replaced = after
                .releases
                .iter()
                .find(|r| r.env == d.env && r.service == s.service && r.deployment == *bad);
            if let (Some(r), Some(target)) = (replaced, &s.target_task_definition)
                && &r.task_definition == target
            {
                out.push(cx.violation(
                "2-targets-replaced",
                    format!(
                        "rollback {} of {} in {} targets `{target}`, the revision of the release {bad} it rolls back",
                        d.id, s.service, d.env
                    ),
                ));
            }
        }
    }
}

/// Invariant 3.
fn one_in_flight(cx: &Context<'_>, after: &Observed, out: &mut Vec<Violation>) {
    for env in cx.config.environments.values() {
        let flying: Vec<&Deployment> = after
            .deployments
            .iter()
            .filter(|d| d.env == env.name && in_flight(d, cx.now))
            .collect();
        let lock = after
            .locks
            .iter()
            .find(|l| l.env == env.name && l.is_live(cx.now));
        if flying.len() > 1 {
            out.push(cx.violation(
                "3-two-in-flight",
                format!(
                    "{} deployments in flight in {}: {}",
                    flying.len(),
                    env.name,
                    flying
                        .iter()
                        .map(|d| format!("{} ({})", d.id, d.state.name()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        if let Some(d) = flying.first() {
            let held = lock.is_some_and(|l| l.owner == LockOwner::Deployment { id: d.id });
            if !held {
                out.push(cx.violation(
                    "3-lock-not-held",
                    format!(
                        "{} in {} but the lock is {}",
                        deployment_is(d),
                        env.name,
                        lock.map_or("free".to_owned(), |l| format!("{:?}", l.owner))
                    ),
                ));
            }
        }
        // Right after a crash a lock can outlive its deployment's last step; maintenance is
        // what must clean that up.
        // A lock whose deployment is not in the store yet may belong to a request still
        // creating it: maintenance waits a step's time (`EnvLock::due`) before taking it back.
        let creating = |l: &EnvLock, id| {
            after.deployment(id).is_none()
                && cx.now < l.since + Limits::STEP + jiff::SignedDuration::from_mins(5)
        };
        if cx.after_maintenance
            && let Some(l) = lock
            && let LockOwner::Deployment { id } = l.owner
            && !after.deployment(id).is_some_and(|d| in_flight(d, cx.now))
            && !creating(l, id)
        {
            out.push(cx.violation(
                "3-stale-lock",
                format!(
                    "{} is locked by deployment {id}, which is {}, after a maintenance tick",
                    env.name,
                    after
                        .deployment(id)
                        .map_or("not in the store", |d| d.state.name())
                ),
            ));
        }
    }
}

/// "deployment ID is STATE", as the violations begin.
fn deployment_is(d: &Deployment) -> String {
    format!("deployment {} is {}", d.id, d.state.name())
}

/// Invariant 4: every waiting state has a deadline, and maintenance acts on it.
fn deadlines_met(cx: &Context<'_>, after: &Observed, out: &mut Vec<Violation>) {
    if !cx.after_maintenance {
        return;
    }
    let period = jiff::SignedDuration::from_mins(5);
    for d in after.deployments.iter().filter(|d| !d.state.is_terminal()) {
        let Some(env) = cx.config.environments.get(&d.env) else {
            continue;
        };
        let Some(deadline) = d.moves_by(Limits::with_rollout(env.lock_ttl)) else {
            out.push(cx.violation(
                "4-no-deadline",
                format!("{} with no deadline", deployment_is(d)),
            ));
            continue;
        };
        // A step lease a crashed delivery holds keeps a resume waiting until it runs out: the
        // deadline counts from then, when that is later.
        let leased_until = cx
            .last_crash
            .map(|c| c + deckhand_core::usecases::STEP_LEASE);
        let deadline = leased_until.map_or(deadline, |l| deadline.max(l));
        if cx.now > deadline + period {
            out.push(cx.violation(
                "4-past-deadline",
                format!(
                    "{} still at {}, past its deadline {}",
                    deployment_is(d),
                    cx.now,
                    deadline
                ),
            ));
        }
    }
}

/// Invariant 5.
fn records_are_honest(cx: &Context<'_>, after: &Observed, out: &mut Vec<Violation>) {
    for d in &after.deployments {
        if d.state != State::Succeeded || d.kind != DeploymentKind::Release {
            continue;
        }
        let judged_bad = after.releases.iter().find(|r| {
            r.deployment == d.id && matches!(r.verdict, Verdict::Bad { .. }) && r.env == d.env
        });
        let rolled_back = after.deployments.iter().find(
            |r| matches!(r.kind, DeploymentKind::Rollback { of: Some(of), .. } if of == d.id),
        );
        let failed = d.services.iter().find_map(|s| {
            let ecs = s.progress.ecs_deployment.as_deref()?;
            matches!(cx.world.ecs_state(ecs), Some(RolloutState::Failed { .. })).then_some(ecs)
        });
        let (kind, why) = match (judged_bad, rolled_back, failed) {
            (_, Some(r), _) => (
                "5-rolled-back-reads-succeeded",
                format!("rollback {} rolled it back", r.id),
            ),
            (Some(r), _, _) => (
                "5-bad-reads-succeeded",
                format!("its release of {} was judged bad", r.service),
            ),
            (_, _, Some(ecs)) => (
                "5-failed-reads-succeeded",
                format!("ECS deployment {ecs} failed"),
            ),
            _ => continue,
        };
        out.push(cx.violation(
            kind,
            format!("deployment {} ({d}) reads succeeded, but {why}", d.id),
        ));
    }
}

/// Invariant 6.
fn cards_are_current(cx: &Context<'_>, after: &Observed, out: &mut Vec<Violation>) {
    if !cx.after_maintenance || !cx.chat_up {
        return;
    }
    for (id, refs) in &after.cards {
        // Maintenance looks after a deployment's cards for a while after its last change (a
        // chat outage longer than that leaves them as they are).
        let Some(d) = after
            .deployment(*id)
            .filter(|d| cx.now < d.state_since + deckhand_core::usecases::CARDS_KEPT_CURRENT)
        else {
            continue;
        };
        let want = deployment_card(d, cx.now);
        for r in refs {
            let Some(shown) = cx.world.cards.get(&r.id) else {
                continue;
            };
            if shown.card.status != want.status || shown.card.buttons != want.buttons {
                out.push(cx.violation(
                "6-stale-card",
                    format!(
                        "card {} of deployment {id} shows \"{}\"{}, but the deployment is {} (\"{}\")",
                        r.id,
                        shown.card.status,
                        if shown.card.buttons.is_empty() { "" } else { " with buttons" },
                        d.state.name(),
                        want.status
                    ),
                ));
            }
        }
    }
}

/// Invariant 7.
fn approvals_count_right(cx: &Context<'_>, after: &Observed, out: &mut Vec<Violation>) {
    for d in &after.deployments {
        let Some(env) = cx.config.environments.get(&d.env) else {
            continue;
        };
        let mut seen: Vec<&Actor> = Vec::new();
        for a in &d.approvals {
            // An override's extra approval comes from the deployers where nobody approves.
            let group = env
                .approvers
                .as_ref()
                .or(env.deployers.as_ref().filter(|_| d.overridden.is_some()));
            let eligible =
                a.by.user_ref()
                    .is_some_and(|u| group.is_some_and(|g| cx.config.is_member(g, &u)));
            let problem = if !eligible {
                Some("is not an approver")
            } else if a.by.same_person(&d.requested_by) {
                Some("asked for it")
            } else if seen.iter().any(|s| s.same_person(&a.by)) {
                Some("was counted twice")
            } else if a.at >= d.approval_expires {
                Some("approved after it expired")
            } else {
                None
            };
            if let Some(problem) = problem {
                out.push(cx.violation(
                    "7-ineligible-approval",
                    format!(
                        "deployment {} counts an approval by {}, who {problem}",
                        d.id,
                        a.by.display()
                    ),
                ));
            }
            seen.push(&a.by);
        }
        let started = matches!(
            d.state,
            State::Approved
                | State::Migrating { .. }
                | State::Rolling { .. }
                | State::Verifying { .. }
                | State::Succeeded
                | State::RolledBack { .. }
        ) || d
            .services
            .iter()
            .any(|s| s.progress.touched || s.progress.snapshot.is_some() || s.progress.migrated);
        if started
            && d.kind == DeploymentKind::Release
            && d.approvals.len() < usize::from(d.required_approvals)
        {
            out.push(cx.violation(
                "7-without-approvals",
                format!(
                    "{}: it went ahead with {} of {} approvals",
                    deployment_is(d),
                    d.approvals.len(),
                    d.required_approvals
                ),
            ));
        }
    }
}

/// Invariant 9, the part one step shows: the same rollout step sent to ECS twice, and (after
/// maintenance) cards no deployment knows about.
fn effects_once(cx: &Context<'_>, after: &Observed, out: &mut Vec<Violation>) {
    for (i, call) in cx.world.updates.iter().enumerate().skip(cx.new_updates) {
        let Some(d) = after.adopters(&call.ecs_deployment).into_iter().next() else {
            continue;
        };
        let twin = cx.world.updates[..i].iter().find(|earlier: &&UpdateCall| {
            earlier.env == call.env
                && earlier.service == call.service
                && earlier.target == call.target
                && earlier.task_definition_matches(call)
                && earlier.at >= d.requested_at
                && (earlier.step.is_none() || earlier.step == call.step)
                && earlier.ecs_deployment != call.ecs_deployment
                && after.adopters(&earlier.ecs_deployment).is_empty()
        });
        if let Some(earlier) = twin {
            // ECS's circuit breaker rolled the first one back before the step was resumed: the
            // service no longer runs the step's revision, and ECS lists no record of it.
            let undone = matches!(
                cx.world.ecs_state(&earlier.ecs_deployment),
                Some(RolloutState::Failed { .. })
            );
            let kind = if undone && call.target == Target::TaskDefinition {
                "9-rollback-after-circuit-breaker"
            } else if undone {
                "9-update-after-circuit-breaker"
            } else {
                "9-update-twice"
            };
            out.push(cx.violation(
                kind,
                format!(
                    "deployment {} sent UpdateService for {} twice for one rollout step (ECS deployments {} and {})",
                    d.id, call.service, earlier.ecs_deployment, call.ecs_deployment
                ),
            ));
        }
    }
    if cx.after_maintenance {
        let known: BTreeSet<&str> = after
            .cards
            .values()
            .flatten()
            .map(|r| r.id.as_str())
            .collect();
        if let Some(lost) = cx
            .world
            .cards
            .keys()
            .find(|id| !known.contains(id.as_str()))
        {
            out.push(cx.violation(
                "9-lost-card",
                format!(
                    "card {lost} (\"{}\") was posted but no deployment knows it: posted twice, or lost",
                    cx.world.cards.get(lost).map_or("", |p| p.card.status.as_str())
                ),
            ));
        }
    }
}

impl UpdateCall {
    /// Two calls ask for the same thing: the same image (a new revision each time), or the same
    /// task definition.
    fn task_definition_matches(&self, other: &UpdateCall) -> bool {
        match self.target {
            Target::Image(_) => true,
            Target::TaskDefinition => self.task_definition == other.task_definition,
        }
    }
}

/// Invariant 9 at the end of a drained sequence: nothing is left half done, and no deployment
/// reads failed while a rollout it sent went through unclaimed (its first attempt died after
/// `UpdateService`, and the retry gave up on what was in fact under way).
pub fn drained(cx: &Context<'_>, after: &Observed) -> Vec<Violation> {
    let mut out = failed_though_through(cx, after);
    out.extend(after
        .deployments
        .iter()
        .filter(|d| {
            matches!(
                d.state,
                State::Requested
                    | State::Approved
                    | State::Migrating { .. }
                    | State::Rolling { .. }
                    | State::Verifying { .. }
            )
        })
        .map(|d| {
            cx.violation(
                "9-left-half-done",
                format!(
                    "{} still ({d}) after every delivery was retried, ECS finished everything and maintenance ran",
                    deployment_is(d),
                ),
            )
        }));
    out
}

fn failed_though_through(cx: &Context<'_>, after: &Observed) -> Vec<Violation> {
    let mut out = Vec::new();
    for call in &cx.world.updates {
        let undone = matches!(
            cx.world.ecs_state(&call.ecs_deployment),
            Some(RolloutState::Failed { .. })
        );
        if !call.started || undone || !after.adopters(&call.ecs_deployment).is_empty() {
            continue;
        }
        // Only the latest deployment of the service asked for before the call can have sent
        // it (one in flight per environment).
        let sender = after
            .deployments
            .iter()
            .filter(|d| {
                d.env == call.env
                    && d.requested_at <= call.at
                    && d.services.iter().any(|s| s.service == call.service)
            })
            .max_by_key(|d| d.requested_at);
        let sent_for = |d: &&Deployment| {
            matches!(d.state, State::Failed { .. })
                && d.services.iter().any(|s| {
                    s.service == call.service
                        && match &call.target {
                            Target::TaskDefinition => {
                                s.target_task_definition.as_deref()
                                    == Some(call.task_definition.as_str())
                            }
                            Target::Image(digest) => {
                                s.target_task_definition.is_none() && s.image.digest == *digest
                            }
                        }
                })
        };
        if let Some(d) = sender.filter(sent_for) {
            out.push(cx.violation(
                "9-failed-though-through",
                format!(
                    "{}, but ECS deployment {} of {} to {}, which nobody claims, went through",
                    deployment_is(d),
                    call.ecs_deployment,
                    call.service,
                    call.task_definition
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    //! The checks that today's engine never trips are shown to trip on a store that breaks
    //! them, so a quiet invariant means a held one, not a blind check.
    #![allow(clippy::unwrap_used)]

    use deckhand_core::deployment::{Approval, ImageRef, ServiceRelease};
    use deckhand_core::memory::release_draft;
    use deckhand_core::types::{ChatKind, EnvName, ServiceName, Version};

    use super::*;
    use crate::run::{config, start};
    use crate::world::digest;

    fn actor(id: &str) -> Actor {
        Actor::person(ChatKind::Slack, "T0SIM", id, id)
    }

    /// A prod deploy of api asked for by Alice, waiting for one approval.
    fn pending() -> Deployment {
        let version = Version::parse("v1.0.1").unwrap();
        let image = ImageRef {
            repository: "acme/api".into(),
            tag: version.clone(),
            digest: digest("acme/api", 1, 0),
        };
        let api = ServiceRelease::new(ServiceName::parse("api").unwrap(), image);
        let (id, prod) = (
            DeploymentId::derive(start(), "k"),
            EnvName::parse("prod").unwrap(),
        );
        let draft = release_draft(id, prod, version, vec![api], actor("U0ALICE"));
        let mut d = Deployment::new(draft, start());
        d.state = State::PendingApproval;
        d
    }

    /// The first step's context, chat up, no crash so far.
    fn context<'a>(config: &'a Config, world: &'a World, after_maintenance: bool) -> Context<'a> {
        Context {
            config,
            world,
            now: start(),
            step: 0,
            new_updates: 0,
            after_maintenance,
            last_crash: None,
            chat_up: true,
        }
    }

    fn kinds_of(d: Deployment) -> Vec<&'static str> {
        let config = config();
        let world = World::new(&config);
        let observed = Observed {
            locks: vec![EnvLock {
                env: d.env.clone(),
                owner: LockOwner::Deployment { id: d.id },
                held_by: d.requested_by.clone(),
                reason: "test".into(),
                since: start(),
                expires: None,
            }],
            deployments: vec![d],
            releases: Vec::new(),
            holds: Vec::new(),
            cards: BTreeMap::new(),
        };
        let cx = context(&config, &world, false);
        check(&cx, &observed, &observed)
            .into_iter()
            .map(|v| v.kind)
            .collect()
    }

    fn approved_by(who: &str, at: Timestamp) -> Deployment {
        let mut d = pending();
        d.approvals.push(Approval { by: actor(who), at });
        d
    }

    #[test]
    fn a_well_approved_deployment_passes() {
        assert_eq!(kinds_of(pending()), Vec::<&str>::new());
        assert_eq!(kinds_of(approved_by("U0BOB", start())), Vec::<&str>::new());
    }

    #[test]
    fn approvals_from_the_wrong_people_or_too_late_are_caught() {
        assert_eq!(
            kinds_of(approved_by("U0MALLORY", start())),
            ["7-ineligible-approval"]
        );
        assert_eq!(
            kinds_of(approved_by("U0DAVE", start())),
            ["7-ineligible-approval"],
            "a deployer, not an approver"
        );
        let late = pending().approval_expires;
        assert_eq!(
            kinds_of(approved_by("U0BOB", late)),
            ["7-ineligible-approval"]
        );
        let mut twice = approved_by("U0BOB", start());
        twice.approvals.push(twice.approvals[0].clone());
        assert_eq!(kinds_of(twice), ["7-ineligible-approval"]);
    }

    #[test]
    fn going_ahead_without_approval_is_caught() {
        let mut d = pending();
        d.state = State::Rolling { service: 0 };
        assert_eq!(kinds_of(d), ["7-without-approvals"]);
    }

    /// `9-failed-though-through`'s check trips on a failed rollback whose own ECS rollout went
    /// through unclaimed, and not on one ECS's circuit breaker undid.
    #[test]
    fn a_failed_deployment_whose_rollout_went_through_is_caught() {
        let config = config();
        let mut d = pending();
        d.state = State::Failed {
            reason: "api already runs `api:1`, its target; nothing to roll back".into(),
        };
        d.services[0].target_task_definition = Some("api:1".into());
        let observed = Observed {
            deployments: vec![d.clone()],
            releases: Vec::new(),
            locks: Vec::new(),
            holds: Vec::new(),
            cards: BTreeMap::new(),
        };
        let kinds = |state: RolloutState| {
            let mut world = World::new(&config);
            world.updates.push(UpdateCall {
                env: d.env.clone(),
                service: d.services[0].service.clone(),
                target: Target::TaskDefinition,
                task_definition: "api:1".into(),
                ecs_deployment: "ecs-00099".into(),
                desired_before: "api:2".into(),
                started: true,
                at: start(),
                step: None,
            });
            if let Some(service) = world.ecs.values_mut().next() {
                service.deployments.push(crate::world::EcsDeployment {
                    id: "ecs-00099".into(),
                    task_definition: "api:1".into(),
                    state,
                });
            }
            let cx = context(&config, &world, true);
            drained(&cx, &observed)
                .into_iter()
                .map(|v| v.kind)
                .collect::<Vec<_>>()
        };
        assert_eq!(kinds(RolloutState::Completed), ["9-failed-though-through"]);
        let undone = RolloutState::Failed {
            reason: "circuit breaker".into(),
        };
        assert!(
            kinds(undone).is_empty(),
            "ECS undid it: nothing went through"
        );
    }
}
