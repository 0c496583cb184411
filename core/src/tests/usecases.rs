#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::config::Config;
use crate::deployment::{Deployment, DeploymentKind, State, Work};
use crate::memory::{Memory, MemoryPorts, Said, join_all};
use crate::policy::Denied;
use crate::ports::{Backups as _, Build, ReplyTo, Store as _};
use crate::retention::{SnapshotInfo, SnapshotStatus};
use crate::rollback::{AlarmChange, AlarmState, Verdict};
use crate::testkit::{at, config, person};
use crate::types::{
    Actor, Digest, EnvName, EventKey, Sealed, ServiceName, SignedDuration, Version,
};

// Tuesday morning: no freeze window is active.
const T0: &str = "2026-11-24T09:00:00Z";

fn digest(n: u8) -> Digest {
    Digest::parse(&format!("sha256:{}", format!("{n:02x}").repeat(32))).unwrap()
}

struct World {
    mem: Memory,
    ports: MemoryPorts,
    config: Config,
}

impl World {
    fn new() -> Self {
        let mem = Memory::new(at(T0));
        for s in ["worker", "api", "web"] {
            mem.set_running(s, &format!("{s}:1"), &format!("acme/{s}:v1.2.2"));
            mem.push_image(&format!("acme/{s}"), "v1.2.2", &digest(2));
            mem.push_image(&format!("acme/{s}"), "v1.2.3", &digest(3));
        }
        let config = config();
        mem.serve_checks(&config);
        World {
            ports: mem.ports(),
            mem,
            config,
        }
    }
    fn app(&self) -> App<'_, MemoryPorts> {
        App::new(&self.ports, &self.config)
    }
    fn env(n: &str) -> EnvName {
        EnvName::parse(n).unwrap()
    }
    fn svc(n: &str) -> ServiceName {
        ServiceName::parse(n).unwrap()
    }
    fn request(
        &self,
        env: &str,
        services: &[&str],
        version: &str,
        who: &str,
        key: &str,
    ) -> DeployRequest {
        DeployRequest {
            env: Self::env(env),
            services: services.iter().map(|s| Self::svc(s)).collect(),
            version: Version::parse(version).unwrap(),
            override_reason: None,
            force: false,
            actor: person(who),
            event_key: EventKey::test(key),
            reply_to: Some(ReplyTo::Slack {
                response_url: Sealed::new(format!("https://hooks.slack.com/commands/{key}")),
            }),
        }
    }
    /// `/deploy` as a person meets it: the acknowledgement, then the dispatched checks it
    /// handed over (what the deploy function does with its `RunDeployment`). A refusal those
    /// checks find comes back as the error they judged; the acknowledgement's own as its own.
    async fn deploy(&self, req: DeployRequest) -> Result<Requested, RequestError> {
        let app = self.app();
        let told = self.told().len();
        let mut r = app.request_deploy(req).await?;
        if r.deployment.awaits_preparation() {
            let (d, refused) =
                app.prepare_judged(r.deployment.clone())
                    .await
                    .map_err(|e| match e {
                        super::RunError::Port(p) => RequestError::Port(p),
                        other => RequestError::AnsweredBefore {
                            answer: other.to_string(),
                        },
                    })?;
            if let Some(no) = refused {
                return Err(no);
            }
            r.notes = self.told()[told..].to_vec();
            r.deployment = d;
        }
        Ok(r)
    }
    /// `/deploy` typed by Alice in `env` (Slack's trigger id `key`), accepted.
    async fn asked(&self, env: &str, services: &[&str], version: &str, key: &str) -> Requested {
        self.alice_asks(env, services, version, key).await.unwrap()
    }
    /// `/deploy` typed by Alice in `env` (Slack's trigger id `key`), refused: why.
    async fn refused(
        &self,
        env: &str,
        services: &[&str],
        version: &str,
        key: &str,
    ) -> RequestError {
        self.alice_asks(env, services, version, key)
            .await
            .unwrap_err()
    }
    /// `/deploy` typed by Alice in `env`, with Slack's trigger id `key`.
    async fn alice_asks(
        &self,
        env: &str,
        services: &[&str],
        version: &str,
        key: &str,
    ) -> Result<Requested, RequestError> {
        self.deploy(self.request(env, services, version, "U0ALICE", key))
            .await
    }
    /// The status text of `env`, as `/status env` shows it.
    async fn status(&self, env: &str) -> String {
        let status = self.app().status(Some(&Self::env(env))).await;
        status.unwrap().to_text()
    }
    /// `/rollback env service [version]` typed by Carol, with Slack's trigger id `key`.
    async fn carol_rolls_back(
        &self,
        env: &str,
        service: &str,
        version: Option<&str>,
        key: &str,
    ) -> Result<Requested, RequestError> {
        let version = version.map(|v| Version::parse(v).unwrap());
        let (env, services) = (Self::env(env), [Self::svc(service)]);
        let (by, key) = (person("U0CAROL"), EventKey::test(key));
        let app = self.app();
        app.manual_rollback(&env, &services, version.as_ref(), &by, &key)
            .await
    }
    /// A person's click on Approve or Reject, counted.
    async fn decide(
        &self,
        id: crate::types::DeploymentId,
        decision: Decision,
        who: &str,
    ) -> Deployment {
        let app = self.app();
        app.decide(id, decision, &person(who), None).await.unwrap()
    }
    /// The deployment `id` as stored.
    fn deployment(&self, id: crate::types::DeploymentId) -> Deployment {
        let found = self.mem.deployments().into_iter().find(|d| d.id == id);
        found.unwrap()
    }
    /// A build of `api` finished on `branch`, as CodeBuild reports it.
    async fn built(&self, id: &str, branch: &str, version: &str) -> BuildOutcome {
        self.app()
            .build_completed(&build(id, branch, version))
            .await
            .unwrap()
    }
    /// Maintenance leaves the deployment `id` alone until its next step is late (`not_yet`
    /// says why), then takes it up: the deployment after.
    async fn resumed_once_late(&self, id: crate::types::DeploymentId, not_yet: &str) -> Deployment {
        let app = self.app();
        assert!(
            app.maintain().await.unwrap().resumed.is_empty(),
            "{not_yet}"
        );
        self.mem.advance(SignedDuration::from_mins(6));
        assert_eq!(app.maintain().await.unwrap().resumed, vec![id]);
        self.mem.get_deployment(id).await.unwrap().unwrap()
    }
    /// The `startedBy` of the first one-off task that `pick` picks.
    fn task_started_by(&self, pick: impl Fn(&String) -> bool) -> String {
        let tasks = self.mem.one_off_tasks().into_iter().map(|(by, _)| by);
        tasks.into_iter().find(pick).unwrap()
    }
    /// Deployments that went anywhere: not declined by the request's checks.
    fn started(&self) -> Vec<Deployment> {
        self.mem
            .deployments()
            .into_iter()
            .filter(|d| !matches!(d.state, State::Declined { .. }))
            .collect()
    }
    /// What requesters were told privately (notes, or why a request was declined).
    fn told(&self) -> Vec<String> {
        self.said(|s| match s {
            Said::Response { text, .. } => Some(text),
            _ => None,
        })
    }
    fn cards(&self) -> usize {
        self.mem
            .said()
            .iter()
            .filter(|s| matches!(s, Said::Card { .. }))
            .count()
    }
    /// What was posted or replied in Slack (every env here also posts the same to Discord).
    fn posts(&self) -> Vec<String> {
        use crate::types::ChatKind;
        self.said(|s| match s {
            Said::Post { text, channel } if channel.chat == ChatKind::Slack => Some(text),
            Said::Reply { text, message } if message.chat == ChatKind::Slack => Some(text),
            _ => None,
        })
    }
    /// What was said to chat, as `pick` keeps it.
    fn said<T>(&self, pick: impl Fn(Said) -> Option<T>) -> Vec<T> {
        self.mem.said().into_iter().filter_map(pick).collect()
    }

    /// How many posts (or thread replies) contain `needle`.
    fn posted(&self, needle: &str) -> usize {
        self.posts().iter().filter(|p| p.contains(needle)).count()
    }
    /// Some post (or thread reply) contains `needle`; the failure lists them all.
    #[track_caller]
    fn assert_posted(&self, needle: &str) {
        let posts = self.posts();
        assert!(
            posts.iter().any(|p| p.contains(needle)),
            "{needle:?} in {posts:#?}"
        );
    }

    /// Runs a dispatched deployment and finishes its rollouts as ECS would report them, and
    /// its checks and smoke tests as the delay queue would come back for them.
    async fn run_to_end(&self, id: crate::types::DeploymentId, ecs_ok: bool) -> Deployment {
        let app = self.app();
        let mut d = app.run_deployment(id).await.unwrap();
        for _ in 0..20 {
            if let State::Verifying { .. } = d.state {
                let wake = self
                    .mem
                    .delayed()
                    .into_iter()
                    .rev()
                    .find_map(|(w, at)| match w {
                        Work::Wake { id, revision } if id == d.id => Some((revision, at)),
                        _ => None,
                    });
                let Some((revision, at)) = wake else { break };
                self.mem.set_now(at.max(self.mem.the_time()));
                d = app.wake(d.id, Some(revision)).await.unwrap();
                continue;
            }
            let Some(State::Rolling { service }) = Some(d.state.clone()) else {
                break;
            };
            let ecs = d.services[service].progress.ecs_deployment.clone().unwrap();
            let outcome = if ecs_ok {
                Ok(())
            } else {
                Err("ECS deployment circuit breaker: tasks failed to start".to_owned())
            };
            d = app.on_rollout(&ecs, outcome).await.unwrap().unwrap();
        }
        d
    }

    /// `api v1.2.3` shipped to staging and then requested for prod by Alice: waiting for approval.
    async fn pending_prod(&self) -> Requested {
        self.ship("staging", "v1.2.3", "s1").await;
        let r = self.asked("prod", &["api"], "v1.2.3", "p1").await;
        assert_eq!(r.deployment.state, State::PendingApproval);
        r
    }

    /// A release of `api` `version` that succeeded in `env`, baked or not.
    async fn ship(&self, env: &str, version: &str, key: &str) -> Deployment {
        let r = self
            .deploy(self.request(env, &["api"], version, "U0ALICE", key))
            .await
            .unwrap();
        let mut id = r.deployment.id;
        if r.deployment.state == State::PendingApproval {
            id = self.decide(id, Decision::Approve, "U0BOB").await.id;
        }
        let d = self.run_to_end(id, true).await;
        assert_eq!(d.state, State::Succeeded, "{d}");
        d
    }
}

#[tokio::test]
async fn staging_deploy_runs_to_success_and_records_a_release() {
    let w = World::new();
    let r = w.asked("staging", &["api"], "v1.2.3", "t1").await;
    assert_eq!(
        r.deployment.state,
        State::Approved,
        "staging needs no approval"
    );
    assert_eq!(
        w.mem.dispatched(),
        vec![
            Work::PrepareDeployment {
                id: r.deployment.id
            },
            Work::RunDeployment {
                id: r.deployment.id
            }
        ],
        "the request's checks, then the run"
    );
    assert_eq!(w.cards(), 2, "a card in Slack and one in Discord");
    assert_eq!(
        r.deployment.services[0].image.digest,
        digest(3),
        "bound to the digest at request time"
    );
    assert_eq!(
        r.deployment.services[0].previous_version.as_deref(),
        Some("v1.2.2")
    );

    let d = w.run_to_end(r.deployment.id, true).await;
    assert_eq!(d.state, State::Succeeded);
    assert_eq!(w.mem.roll_outs().len(), 1);
    let releases = w.mem.all_releases();
    assert_eq!(
        releases.len(),
        2,
        "the adopted baseline and the release: {releases:#?}"
    );
    let adopted = &releases[0];
    assert_eq!(adopted.origin, crate::rollback::Origin::Adopted);
    assert_eq!(
        (
            adopted.image.tag.as_str(),
            adopted.task_definition.as_str(),
            &adopted.verdict
        ),
        ("v1.2.2", "api:1", &Verdict::Good),
        "what ran before Deckhand's first release, known-good"
    );
    assert_eq!(releases[1].verdict, Verdict::Baking);
    assert!(w.status("staging").await.contains("v1.2.3"));
    // The lock is free again: another deploy may start.
    w.asked("staging", &["web"], "v1.2.3", "t2").await;
}

#[tokio::test]
async fn the_same_deploy_request_delivered_twice_and_concurrently_creates_one_deployment() {
    let w = World::new();
    let first = w.asked("staging", &["api"], "v1.2.3", "trigger-1").await;
    w.mem.advance(SignedDuration::from_secs(3)); // Slack retries a few seconds later
    let again = w.asked("staging", &["api"], "v1.2.3", "trigger-1").await;
    assert!(again.duplicate);
    assert_eq!(again.deployment.id, first.deployment.id);

    let reqs: Vec<_> = (0..20)
        .map(|_| w.request("staging", &["web"], "v1.2.3", "U0ALICE", "trigger-2"))
        .collect();
    let w2 = World::new();
    let app2 = w2.app();
    let results = join_all(reqs.into_iter().map(|r| app2.request_deploy(r))).await;
    let ids: std::collections::HashSet<_> = results
        .iter()
        .map(|r| r.as_ref().unwrap().deployment.id)
        .collect();
    assert_eq!(ids.len(), 1, "20 concurrent deliveries, one deployment");
    assert_eq!(w2.mem.deployments().len(), 1);
    assert_eq!(w2.mem.dispatched().len(), 1, "dispatched once");
    assert_eq!(w2.cards(), 0, "the card is the dispatched work's");
    // Lambda may deliver the dispatched work twice, at once: one card per channel still.
    let id = *ids.iter().next().unwrap();
    for r in join_all([app2.run_deployment(id), app2.run_deployment(id)]).await {
        assert_eq!(
            r.unwrap().state,
            State::Approved,
            "staging needs no approval"
        );
    }
    assert_eq!(w2.cards(), 2, "one card per channel");
}

#[tokio::test]
async fn prod_needs_promotion_then_approval_from_someone_else_once() {
    let w = World::new();
    let app = w.app();
    let refused = w.refused("prod", &["api"], "v1.2.3", "p0").await;
    assert!(
        matches!(refused, RequestError::Denied(Denied::NotPromoted { .. })),
        "{refused}"
    );
    assert!(w.started().is_empty(), "a refusal starts nothing");
    assert!(
        w.told().iter().any(|t| t.starts_with(
            "Not deploying api v1.2.3 to prod: api v1.2.3 has not succeeded in staging"
        )),
        "the person is told privately: {:?}",
        w.told()
    );
    assert!(
        crate::ports::Store::get_lock(&w.mem, &World::env("prod"))
            .await
            .unwrap()
            .is_none(),
        "and the environment is free again"
    );

    w.ship("staging", "v1.2.3", "s1").await;
    let r = w.asked("prod", &["api"], "v1.2.3", "p1").await;
    assert_eq!(r.deployment.state, State::PendingApproval);
    let card = w.mem.said().into_iter().rev().find_map(|s| match s {
        Said::Card { card, .. } => Some(card),
        _ => None,
    });
    let card = card.unwrap();
    assert_eq!(card.buttons.len(), 2);
    assert!(
        card.status.contains("Waiting for 1 more approval"),
        "{}",
        card.status
    );
    let dispatched_before = w.mem.dispatched().len();

    let own = app
        .decide(r.deployment.id, Decision::Approve, &person("U0ALICE"), None)
        .await
        .unwrap_err();
    assert_eq!(
        own.to_string(),
        "you asked for this deploy, so someone else has to approve it"
    );
    let stranger = app
        .decide(r.deployment.id, Decision::Approve, &person("U0DAVE"), None)
        .await
        .unwrap_err();
    assert!(matches!(
        stranger,
        DecideError::Denied(Denied::NotAnApprover { .. })
    ));

    let bob = person("U0BOB");
    let (a, b) = tokio::join!(
        app.decide(r.deployment.id, Decision::Approve, &bob, None),
        app.decide(r.deployment.id, Decision::Approve, &bob, None)
    );
    assert_eq!(a.unwrap().state, State::Approved);
    assert_eq!(b.unwrap().state, State::Approved);
    let again = app
        .decide(r.deployment.id, Decision::Approve, &bob, None)
        .await
        .unwrap();
    assert_eq!(again.approvals.len(), 1, "a person counts once");
    assert_eq!(
        w.mem.dispatched().len(),
        dispatched_before + 1,
        "one dispatch for three clicks"
    );
}

#[tokio::test]
async fn an_approve_click_is_one_write_and_the_deploy_function_counts_it() {
    let w = World::new();
    let app = w.app();
    let r = w.pending_prod().await;
    let (id, prod) = (r.deployment.id, World::env("prod"));
    let dispatched_before = w.mem.dispatched().len();

    let own = app
        .approve(id, &prod, &person("U0ALICE"))
        .await
        .unwrap_err();
    assert_eq!(
        own.to_string(),
        "you asked for this deploy, so someone else has to approve it"
    );
    let stranger = app.approve(id, &prod, &person("U0DAVE")).await.unwrap_err();
    assert!(matches!(
        stranger,
        DecideError::Denied(Denied::NotAnApprover { .. })
    ));
    // A button naming another environment (where Dave may approve overrides) is judged by
    // the deployment's own: the write's condition does not hold, and prod's rules refuse.
    let elsewhere = app
        .approve(id, &World::env("staging"), &person("U0DAVE"))
        .await
        .unwrap_err();
    assert!(
        matches!(elsewhere, DecideError::Denied(Denied::NotAnApprover { .. })),
        "{elsewhere}"
    );
    assert_eq!(
        w.mem.dispatched().len(),
        dispatched_before,
        "refusals dispatch nothing"
    );

    // Bob's click, delivered three times at once: one vote, one dispatch.
    let bob = person("U0BOB");
    let clicks = crate::memory::join_all((0..3).map(|_| app.approve(id, &prod, &bob))).await;
    for c in &clicks {
        let d = c.as_ref().unwrap();
        assert_eq!(d.state, State::PendingApproval, "counted later: {d}");
        assert_eq!(d.votes.len(), 1, "{:?}", d.votes);
    }
    let dispatched = w.mem.dispatched();
    assert_eq!(dispatched.len(), dispatched_before + 1, "{dispatched:?}");
    assert_eq!(
        dispatched.last(),
        Some(&crate::deployment::Work::RunDeployment { id })
    );
    let stored = w.deployment(id);
    assert!(stored.approvals.is_empty() && stored.votes.len() == 1);

    // The deploy function counts the vote and, the count complete, starts at once.
    let started = app.run_deployment(id).await.unwrap();
    assert!(matches!(started.state, State::Rolling { .. }), "{started}");
    assert_eq!(started.approvals.len(), 1);
    assert!(started.approvals[0].by.same_person(&bob));
    assert!(started.votes.is_empty(), "counted votes are not kept twice");
    assert_eq!(
        w.mem.dispatched().len(),
        dispatched_before + 1,
        "counting a vote dispatches nothing more"
    );
    // A late copy of the click, and of the dispatch, change nothing.
    let late = app.approve(id, &prod, &bob).await.unwrap();
    assert_eq!(late.revision, started.revision);
    let again = app.run_deployment(id).await.unwrap();
    assert_eq!(again.revision, started.revision);
}

#[tokio::test]
async fn a_vote_that_does_not_complete_the_count_updates_the_card_and_one_after_the_window_is_refused()
 {
    let w = World::new();
    let app = w.app();
    w.ship("staging", "v1.2.3", "s1").await;
    w.mem.set_now(at("2026-11-28T12:00:00Z")); // a Saturday: frozen
    let mut req = w.request("prod", &["api"], "v1.2.3", "U0ALICE", "v1");
    req.override_reason = Some("INC-42 hotfix".into());
    let r = w.deploy(req).await.unwrap();
    let (id, prod) = (r.deployment.id, World::env("prod"));
    assert_eq!(r.deployment.required_approvals, 2);

    app.approve(id, &prod, &person("U0BOB")).await.unwrap();
    let counted = app.run_deployment(id).await.unwrap();
    assert_eq!(counted.state, State::PendingApproval);
    assert_eq!(counted.approvals.len(), 1);
    let card = w.mem.said().into_iter().rev().find_map(|s| match s {
        Said::Update { card, .. } => Some(card),
        _ => None,
    });
    assert!(
        card.as_ref()
            .is_some_and(|c| c.status.contains("Waiting for 1 more approval")),
        "{card:?}"
    );

    w.mem.set_now(counted.approval_expires);
    let late = app
        .approve(id, &prod, &person("U0CAROL"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            late,
            DecideError::Refused(crate::deployment::Refused::Expired { .. })
        ),
        "{late}"
    );
    let d = w.deployment(id);
    assert_eq!(
        d.state,
        State::Expired,
        "the late click expires it, as before"
    );
    assert!(d.votes.is_empty());
}

#[tokio::test]
async fn a_second_deploy_is_told_who_holds_the_environment() {
    let w = World::new();
    w.asked("staging", &["api"], "v1.2.3", "a").await;
    let err = w
        .deploy(w.request("staging", &["web"], "v1.2.3", "U0CAROL", "b"))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(
            "staging is busy: Alice is deploying (api v1.2.3) since 2026-11-24 09:00 UTC"
        ),
        "{msg}"
    );
}

#[tokio::test]
async fn a_refusal_is_final_for_its_event_even_once_the_environment_is_free() {
    let w = World::new();
    let staging = World::env("staging");
    w.app()
        .lock(&staging, None, "incident", &person("U0BOB"))
        .await
        .unwrap();
    let first = w
        .refused("staging", &["api"], "v1.2.3", "slack:T0:t1")
        .await
        .to_string();
    assert!(first.starts_with("staging is locked by Bob"), "{first}");
    w.app().unlock(&staging, &person("U0BOB")).await.unwrap();
    // Slack retries the same trigger: it gets the same answer, and nothing is created.
    let again = w
        .refused("staging", &["api"], "v1.2.3", "slack:T0:t1")
        .await;
    assert!(
        matches!(again, RequestError::AnsweredBefore { .. }),
        "{again:?}"
    );
    assert_eq!(again.to_string(), first);
    let made = w.mem.recent_deployments(&staging, None, 10).await.unwrap();
    assert!(made.is_empty(), "nothing was deployed: {made:?}");
    // A new request (a new trigger) is decided afresh and goes ahead.
    w.asked("staging", &["api"], "v1.2.3", "slack:T0:t2").await;
}

#[tokio::test]
async fn the_first_bake_check_adopts_what_runs_where_deckhand_never_released() {
    let w = World::new();
    let (prod, api) = (World::env("prod"), World::svc("api"));
    assert!(w.mem.releases(&prod, &api, 10).await.unwrap().is_empty());
    w.app().bake_check().await.unwrap();
    let adopted = w.mem.releases(&prod, &api, 10).await.unwrap();
    assert_eq!(adopted.len(), 1, "{adopted:?}");
    assert_eq!(adopted[0].origin, crate::rollback::Origin::Adopted);
    assert_eq!(adopted[0].image.tag.as_str(), "v1.2.2");
    assert_eq!(adopted[0].image.digest, digest(2));
    // Once is enough: the next check finds a release and adopts nothing more.
    w.app().bake_check().await.unwrap();
    assert_eq!(w.mem.releases(&prod, &api, 10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_expired_card_says_so_and_frees_the_environment() {
    let w = World::new();
    let r = w.pending_prod().await;
    w.mem.advance(SignedDuration::from_hours(3));
    let err = w
        .app()
        .decide(r.deployment.id, Decision::Approve, &person("U0BOB"), None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
    let d = w.deployment(r.deployment.id);
    assert_eq!(d.state, State::Expired);
    assert!(
        w.alice_asks("prod", &["api"], "v1.2.3", "p2").await.is_ok(),
        "lock released"
    );
}

#[tokio::test]
async fn rejection_says_who_and_a_requester_can_withdraw() {
    let w = World::new();
    let r = w.pending_prod().await;
    let d = w
        .app()
        .decide(
            r.deployment.id,
            Decision::Reject,
            &person("U0CAROL"),
            Some("not during the incident".into()),
        )
        .await
        .unwrap();
    let card = crate::card::deployment_card(&d, w.mem.the_time());
    assert_eq!(card.status, "Rejected by Carol: not during the incident");
    assert!(card.buttons.is_empty(), "buttons go once they mean nothing");

    // The requester may withdraw their own request.
    let w = World::new();
    let r = w.pending_prod().await;
    let d = w.decide(r.deployment.id, Decision::Reject, "U0ALICE").await;
    assert!(matches!(&d.state, State::Rejected { by, .. } if by.same_person(&person("U0ALICE"))));
    // Someone outside the approvers cannot reject somebody else's request.
    let w = World::new();
    let r = w.pending_prod().await;
    let err = w
        .app()
        .decide(r.deployment.id, Decision::Reject, &person("U0DAVE"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, DecideError::Denied(Denied::NotAnApprover { .. })),
        "{err}"
    );
}

#[tokio::test]
async fn a_failed_migration_leaves_the_service_untouched_and_releases_the_lock() {
    let w = World::new();
    w.mem.set_migration_exit("worker", 2);
    let r = w.asked("staging", &["worker"], "v1.2.3", "m").await;
    let d = w.app().run_deployment(r.deployment.id).await.unwrap();
    assert_failed(&d, "exited with code 2");
    assert!(w.mem.roll_outs().is_empty());
    assert_eq!(w.mem.migrations().len(), 1);
    w.asked("staging", &["api"], "v1.2.3", "n").await;
}

#[tokio::test]
async fn ecs_failure_rolls_back_to_last_known_good_not_the_previous_number() {
    let w = World::new();
    w.mem.push_image("acme/api", "v1.2.4", &digest(4));
    w.mem.push_image("acme/api", "v1.2.5", &digest(5));
    let good = w.ship("staging", "v1.2.3", "s1").await;
    w.mem.advance(SignedDuration::from_hours(1)); // v1.2.3 bakes
    w.ship("staging", "v1.2.4", "s2").await; // not baked yet
    let r = w.asked("staging", &["api"], "v1.2.5", "s3").await;
    let d = w.run_to_end(r.deployment.id, false).await;
    assert!(matches!(d.state, State::RolledBack { .. }), "{:?}", d.state);
    assert!(
        w.mem.roll_backs().is_empty(),
        "nothing is rolled outside a deployment"
    );
    // The one rollback road: a Rollback deployment, run and tracked like any other.
    let rollback = w
        .mem
        .deployments()
        .into_iter()
        .find(|x| matches!(x.kind, DeploymentKind::Rollback { of: Some(of), .. } if of == d.id))
        .expect("the failure started a rollback deployment");
    w.assert_posted(&format!(
        "Rolling api back to its last known-good revision: {}",
        rollback.id
    ));
    assert_eq!(
        w.mem.dispatched().last(),
        Some(&Work::RunDeployment { id: rollback.id }),
        "handed to the deploy function"
    );
    let done = w.run_to_end(rollback.id, true).await;
    assert_eq!(done.state, State::Succeeded, "its ECS outcome is tracked");
    let target = good.services[0].progress.task_definition.clone().unwrap();
    assert_eq!(
        w.mem.roll_backs(),
        vec![(World::svc("api"), target)],
        "back to v1.2.3, which baked, not to v1.2.4"
    );
}

#[tokio::test]
async fn a_tag_that_moved_after_approval_is_refused() {
    let w = World::new();
    let r = w.asked("staging", &["api"], "v1.2.3", "t").await;
    w.mem.push_image("acme/api", "v1.2.3", &digest(9));
    let d = w.app().run_deployment(r.deployment.id).await.unwrap();
    assert_failed(&d, "moved since it was approved");
    assert!(w.mem.roll_outs().is_empty());
}

#[tokio::test]
async fn a_missing_image_is_refused_up_front() {
    let w = World::new();
    let err = w
        .refused("staging", &["api"], "v9.9.9", "t")
        .await
        .to_string();
    let expected = "there is no image acme/api:v9.9.9 in the registry; is the build finished?";
    assert_eq!(err, expected);
}

#[tokio::test]
async fn a_retried_run_resumes_where_the_last_one_died() {
    let w = World::new();
    let r = w.asked("staging", &["api"], "v1.2.3", "t").await;
    // Simulate a run that saved Rolling but died before UpdateService reported back.
    let mut d = r.deployment.clone();
    d = d
        .apply(&crate::deployment::Input::Started, at(T0))
        .unwrap()
        .deployment;
    crate::ports::Store::save_deployment(&w.mem, &d)
        .await
        .unwrap();
    assert_eq!(d.state, State::Rolling { service: 0 });
    let resumed = w.app().run_deployment(d.id).await.unwrap();
    assert!(resumed.services[0].progress.ecs_deployment.is_some());
    assert_eq!(w.mem.roll_outs().len(), 1);
    let again = w.app().run_deployment(d.id).await.unwrap();
    assert_eq!(again, resumed, "running it again does nothing more");
    assert_eq!(w.mem.roll_outs().len(), 1);
}

fn alarm(w: &World, previous: AlarmState) -> AlarmChange {
    AlarmChange {
        alarm: "api-prod-5xx".into(),
        arn: None,
        previous,
        current: AlarmState::Alarm,
        at: w.mem.the_time(),
        reason: "5xx rate 4% > 1%".into(),
    }
}

async fn prod_with_two_releases(w: &World) -> (Deployment, Deployment) {
    w.mem.push_image("acme/api", "v1.2.4", &digest(4));
    w.ship("staging", "v1.2.3", "s1").await;
    w.ship("staging", "v1.2.4", "s2").await;
    let good = w.ship("prod", "v1.2.3", "p1").await;
    w.mem.advance(SignedDuration::from_hours(1));
    let bad = w.ship("prod", "v1.2.4", "p2").await;
    w.mem.advance(SignedDuration::from_mins(5));
    (good, bad)
}

#[tokio::test]
async fn an_alarm_after_a_release_rolls_it_back_once_and_holds_the_service() {
    let w = World::new();
    let (good, _bad) = prod_with_two_releases(&w).await;
    let change = alarm(&w, AlarmState::Ok);
    let app = w.app();
    let outcomes = join_all((0..20).map(|_| app.on_alarm(&change))).await;
    let rolled: Vec<_> = outcomes
        .iter()
        .flat_map(|o| o.as_ref().unwrap().rolled_back.clone())
        .collect();
    assert_eq!(rolled.len(), 1, "20 deliveries, one rollback: {outcomes:?}");
    let again = app.on_alarm(&change).await.unwrap();
    assert!(again.rolled_back.is_empty());

    let rb = w
        .mem
        .deployments()
        .into_iter()
        .find(|d| {
            matches!(
                d.kind,
                DeploymentKind::Rollback {
                    automatic: true,
                    ..
                }
            )
        })
        .unwrap();
    let d = w.run_to_end(rb.id, true).await;
    assert_eq!(d.state, State::Succeeded);
    let target = good.services[0].progress.task_definition.clone().unwrap();
    assert_eq!(w.mem.roll_backs(), vec![(World::svc("api"), target)]);
    assert!(w.status("prod").await.contains("held"));

    // The held service is not auto-deployed again until someone unlocks it.
    let holds = w
        .app()
        .unlock(&World::env("prod"), &person("U0ALICE"))
        .await
        .unwrap()
        .1;
    assert_eq!(holds.len(), 1);
}

#[tokio::test]
async fn an_alarm_retried_after_its_first_delivery_died_mid_way_still_rolls_back_once() {
    use crate::ports::Store as _;
    let w = World::new();
    let (_good, bad) = prod_with_two_releases(&w).await;
    let change = alarm(&w, AlarmState::Ok);
    // The first delivery judged the release bad, then its Lambda died before the rollback.
    let judged = w
        .mem
        .judge_release(
            &World::env("prod"),
            &World::svc("api"),
            bad.id,
            &change.verdict(),
        )
        .await
        .unwrap();
    assert!(judged);
    let retried = w.app().on_alarm(&change).await.unwrap();
    assert_eq!(retried.rolled_back.len(), 1, "{retried:?}");
    let again = w.app().on_alarm(&change).await.unwrap();
    assert!(again.rolled_back.is_empty(), "{again:?}");
    let rollback = retried.rolled_back[0].1;
    assert_eq!(w.run_to_end(rollback, true).await.state, State::Succeeded);
    let told_in_bad_thread = w
        .mem
        .said()
        .into_iter()
        .filter(|s| matches!(s, Said::Reply { text, .. } if text.contains("Rolling api back to v1.2.3")))
        .count();
    assert_eq!(
        told_in_bad_thread, 2,
        "once per chat the release's card is in"
    );

    // A late redelivery, after the rollback finished, says nothing more.
    let before = w.mem.said().len();
    let late = w.app().on_alarm(&change).await.unwrap();
    assert!(late.rolled_back.is_empty());
    assert_eq!(w.mem.said().len(), before, "{:#?}", &w.mem.said()[before..]);
}

#[tokio::test]
async fn an_alarm_already_firing_or_outside_the_window_changes_nothing_and_is_told_once() {
    let w = World::new();
    prod_with_two_releases(&w).await;
    let already = w
        .app()
        .on_alarm(&alarm(&w, AlarmState::Alarm))
        .await
        .unwrap();
    assert!(already.rolled_back.is_empty());
    w.mem.advance(SignedDuration::from_hours(2));
    let late = alarm(&w, AlarmState::Ok);
    let first = w.app().on_alarm(&late).await.unwrap();
    let second = w.app().on_alarm(&late).await.unwrap();
    assert!(first.rolled_back.is_empty() && second.rolled_back.is_empty());
    let told = w
        .posts()
        .iter()
        .filter(|p| p.contains("Not rolling api back"))
        .count();
    assert_eq!(told, 1, "{:#?}", w.posts());
    assert!(w.mem.roll_backs().is_empty());
}

#[tokio::test]
async fn an_alarm_for_an_unknown_service_is_ignored() {
    let w = World::new();
    let change = AlarmChange {
        alarm: "someone-elses-alarm".into(),
        arn: None,
        previous: AlarmState::Ok,
        current: AlarmState::Alarm,
        at: at(T0),
        reason: "x".into(),
    };
    let out = w.app().on_alarm(&change).await.unwrap();
    assert_eq!(out.ignored.len(), 1);
    assert!(w.mem.said().is_empty());
}

#[tokio::test]
async fn an_alarm_the_config_does_not_name_is_mapped_by_its_deckhand_tags() {
    let w = World::new();
    let (good, _bad) = prod_with_two_releases(&w).await;
    let before = w.posts().len();
    let change = AlarmChange {
        alarm: "api-prod-latency".into(),
        ..alarm(&w, AlarmState::Ok)
    };
    // Untagged, or with only one of the two tags: not Deckhand's to act on.
    assert_eq!(w.app().on_alarm(&change).await.unwrap().rolled_back, vec![]);
    w.mem
        .tag_alarm("api-prod-latency", &[("deckhand:env", "prod")]);
    assert_eq!(w.app().on_alarm(&change).await.unwrap().rolled_back, vec![]);
    w.mem.tag_alarm(
        "api-prod-latency",
        &[("deckhand:env", "prod"), ("deckhand:service", "nope")],
    );
    let unknown = w.app().on_alarm(&change).await.unwrap();
    assert!(
        unknown.ignored[0].contains("unknown service nope"),
        "{unknown:?}"
    );
    assert!(w.mem.roll_backs().is_empty());
    assert_eq!(w.posts().len(), before, "nobody told: {:#?}", w.posts());

    w.mem.tag_alarm(
        "api-prod-latency",
        &[
            ("deckhand:env", "prod"),
            ("deckhand:service", "api"),
            ("team", "x"),
        ],
    );
    let out = w.app().on_alarm(&change).await.unwrap();
    assert_eq!(out.rolled_back.len(), 1, "{out:?}");
    let d = w.run_to_end(out.rolled_back[0].1, true).await;
    assert_eq!(d.state, State::Succeeded);
    let target = good.services[0].progress.task_definition.clone().unwrap();
    assert_eq!(w.mem.roll_backs(), vec![(World::svc("api"), target)]);
    let said = format!("{:?}", w.mem.said());
    assert!(
        said.contains("alarm api-prod-latency went into ALARM"),
        "the channel is told which alarm: {said}"
    );
}

#[tokio::test]
async fn manual_rollback_goes_to_last_known_good() {
    let w = World::new();
    let (good, _) = prod_with_two_releases(&w).await;
    let r = w
        .carol_rolls_back("prod", "api", None, "rb-1")
        .await
        .unwrap();
    assert_eq!(
        r.deployment.services[0].target_task_definition,
        good.services[0].progress.task_definition
    );
    let none = w
        .carol_rolls_back("staging", "web", None, "rb-2")
        .await
        .unwrap_err();
    assert!(
        none.to_string().contains("no known-good revision"),
        "{none}"
    );
}

/// `d` failed, for a reason that says `why`.
#[track_caller]
fn assert_failed(d: &Deployment, why: &str) {
    let failed = matches!(&d.state, State::Failed { reason } if reason.contains(why));
    assert!(failed, "failed for {why:?}: {:?}", d.state);
}

fn build(id: &str, branch: &str, version: &str) -> Build {
    Build {
        service: World::svc("api"),
        version: Version::parse(version).unwrap(),
        build_id: id.into(),
        branch: Some(branch.into()),
        commit: Some("3f2a9c1d2e".into()),
        url: None,
        finished_at: at(T0),
        succeeded: true,
    }
}

#[tokio::test]
async fn a_finished_build_of_main_auto_deploys_to_staging_once() {
    let w = World::new();
    let b = build("codebuild/1", "main", "v1.2.3");
    let app = w.app();
    let (x, y) = tokio::join!(app.build_completed(&b), app.build_completed(&b));
    let started: Vec<_> = [x.unwrap(), y.unwrap()]
        .into_iter()
        .flat_map(|o| o.auto_deploys)
        .collect();
    assert_eq!(started.len(), 1, "{started:?}");
    assert!(
        matches!(&started[0], AutoDeployOutcome::Started { env, .. } if env.as_str() == "staging")
    );
    assert_eq!(w.mem.deployments().len(), 1);
    assert_eq!(w.posted("Build api v1.2.3 (main@3f2a9c1) finished"), 1);
    let feature = w.built("codebuild/2", "feature/x", "v1.2.3").await;
    assert!(
        feature.auto_deploys.is_empty(),
        "only configured branches auto-deploy"
    );
}

#[tokio::test]
async fn a_held_service_is_not_auto_deployed() {
    let w = World::new();
    let hold = crate::ports::Hold {
        env: World::env("staging"),
        service: World::svc("api"),
        reason: "alarm".into(),
        since: at(T0),
    };
    crate::ports::Store::put_hold(&w.mem, &hold).await.unwrap();
    let out = w.built("cb/3", "main", "v1.2.3").await;
    assert!(
        matches!(&out.auto_deploys[0], AutoDeployOutcome::Skipped { why, .. } if why.contains("held"))
    );
    assert!(w.started().is_empty());
    assert_eq!(
        w.posts()
            .iter()
            .filter(|p| p
                .starts_with("Not auto-deploying api v1.2.3 to staging: api in staging is held"))
            .count(),
        1,
        "said once, in the channel: {:#?}",
        w.posts()
    );
}

#[tokio::test]
async fn freeze_blocks_prod_unless_overridden_which_costs_an_extra_approval() {
    let w = World::new();
    w.ship("staging", "v1.2.3", "s1").await;
    w.mem.set_now(at("2026-11-28T12:00:00Z")); // a Saturday
    let frozen = w.refused("prod", &["api"], "v1.2.3", "f1").await;
    assert!(
        frozen.to_string().contains("prod is frozen (weekend)"),
        "{frozen}"
    );
    let mut req = w.request("prod", &["api"], "v1.2.3", "U0ALICE", "f2");
    req.override_reason = Some("INC-42 hotfix".into());
    let r = w.deploy(req).await.unwrap();
    assert_eq!(r.deployment.required_approvals, 2);
    let card = crate::card::deployment_card(&r.deployment, w.mem.the_time());
    assert!(
        card.fields
            .iter()
            .any(|(k, v)| k == "Override" && v.contains("INC-42") && v.contains("frozen"))
    );
}

#[tokio::test]
async fn an_alarm_already_firing_at_request_is_shown_on_the_card() {
    let w = World::new();
    w.ship("staging", "v1.2.3", "s1").await;
    w.mem.set_firing("api-prod-p99-latency", true);
    let r = w.asked("prod", &["api"], "v1.2.3", "p").await;
    assert_eq!(
        r.deployment.alarms_at_start,
        vec!["api-prod-p99-latency".to_owned()]
    );
}

#[tokio::test]
async fn a_manual_lock_blocks_deploys_until_unlocked() {
    let w = World::new();
    let app = w.app();
    app.lock(
        &World::env("staging"),
        None,
        "load test until 14:00",
        &person("U0CAROL"),
    )
    .await
    .unwrap();
    let err = w.refused("staging", &["api"], "v1.2.3", "x").await;
    assert!(
        err.to_string().contains("staging is locked by Carol"),
        "{err}"
    );
    let (released, _) = app
        .unlock(&World::env("staging"), &person("U0ALICE"))
        .await
        .unwrap();
    assert!(released.is_some());
    w.asked("staging", &["api"], "v1.2.3", "y").await;
}

#[tokio::test]
async fn a_deploy_snapshots_the_database_first_when_its_plan_says_so() {
    let w = World::new();
    // worker goes to prod after staging; the prod plan snapshots before worker deploys.
    let s = w.asked("staging", &["worker"], "v1.2.3", "s").await;
    w.run_to_end(s.deployment.id, true).await;
    let r = w.asked("prod", &["worker"], "v1.2.3", "p").await;
    w.decide(r.deployment.id, Decision::Approve, "U0BOB").await;
    let d = w.run_to_end(r.deployment.id, true).await;
    assert_eq!(d.state, State::Succeeded);
    let snap = d.services[0].progress.snapshot.clone().unwrap();
    assert!(snap.starts_with("deckhand-prod-db-nightly-"), "{snap}");
    assert!(w.mem.snapshot_ids().contains(&snap));
    assert_eq!(
        w.mem.copy_ids(),
        std::slice::from_ref(&snap),
        "copied to the plan's copy_to region like every snapshot of the plan"
    );
    assert_eq!(w.mem.migrations().len(), 2, "migrated in staging and prod");
}

#[tokio::test]
async fn a_backup_snapshots_prunes_reports_once_and_a_failure_deletes_nothing() {
    let w = World::new();
    let plan = "prod-db-nightly";
    for d in 1..=40 {
        let created = at(T0) - SignedDuration::from_hours(24 * d);
        w.mem.add_snapshot(
            plan,
            SnapshotInfo {
                id: format!("old-{d:02}"),
                created,
                status: SnapshotStatus::Available,
                made_by_deckhand: true,
            },
        );
    }
    w.mem.add_snapshot(
        plan,
        SnapshotInfo {
            id: "manual".into(),
            created: at("2020-01-01T00:00:00Z"),
            status: SnapshotStatus::Available,
            made_by_deckhand: false,
        },
    );
    let trigger = BackupTrigger::Schedule {
        event_id: EventKey::test("sched-1"),
    };
    let app = w.app();
    let (a, b) = tokio::join!(
        app.run_backup(plan, &trigger),
        app.run_backup(plan, &trigger)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.snapshot, b.snapshot, "one snapshot for one trigger");
    assert!(a.duplicate != b.duplicate, "exactly one run reports");
    let pruned = if a.duplicate { b.pruned } else { a.pruned };
    assert!(!pruned.is_empty());
    assert!(
        w.mem.snapshot_ids().contains(&"manual".to_owned()),
        "not ours: never touched"
    );
    assert_eq!(w.posted("Backup prod-db-nightly took"), 1);
    assert!(
        w.mem
            .metrics()
            .iter()
            .any(|m| m.name == "BackupDurationSeconds")
    );

    let before = w.mem.snapshot_ids();
    w.mem.fail_snapshots(true);
    w.mem.advance(SignedDuration::from_hours(24));
    let failed = w
        .app()
        .run_backup(
            plan,
            &BackupTrigger::Schedule {
                event_id: EventKey::test("sched-2"),
            },
        )
        .await
        .unwrap();
    assert_eq!(failed.status, SnapshotStatus::Failed);
    assert!(failed.pruned.is_empty());
    let after = w.mem.snapshot_ids();
    assert!(
        before.iter().all(|s| after.contains(s)),
        "a failed backup deletes nothing"
    );
    assert!(w.posts().iter().any(|p| p.contains("FAILED")));
    let list = w
        .app()
        .backup_list(&World::env("prod"))
        .await
        .unwrap()
        .to_text();
    assert!(
        list.contains("failed") && list.contains("available"),
        "{list}"
    );
}

#[tokio::test]
async fn the_scheduled_check_picks_up_a_lost_dispatch_a_lost_ecs_event_and_a_lost_wake() {
    let w = World::new();
    let app = w.app();
    let r = w.asked("staging", &["api"], "v1.2.3", "k-maint").await;
    let id = r.deployment.id;
    assert_eq!(
        r.deployment.state,
        State::Approved,
        "dispatched, and the dispatch is lost"
    );
    let d = w.resumed_once_late(id, "too soon to call it lost").await;
    assert!(matches!(d.state, State::Rolling { .. }), "{:?}", d.state);

    // ECS finishes, but its event never arrives.
    w.mem.advance(SignedDuration::from_mins(6));
    assert!(
        app.maintain().await.unwrap().reconciled.is_empty(),
        "ECS still rolling"
    );
    w.mem.complete_rollouts();
    assert_eq!(app.maintain().await.unwrap().reconciled, vec![id]);
    // Its checks pass at once; its smoke test starts, and the wake for a look at it is lost.
    let d = w.mem.get_deployment(id).await.unwrap().unwrap();
    assert_eq!(d.state, State::Verifying { service: 0 });
    assert_eq!(w.mem.smoke_tasks().len(), 1);
    let d = w.resumed_once_late(id, "its wake is not late yet").await;
    assert_eq!(d.state, State::Succeeded);
    let again = app.maintain().await.unwrap();
    assert!(again.resumed.is_empty() && again.reconciled.is_empty());
}

#[tokio::test]
async fn maintenance_makes_the_schedules_what_the_config_says_and_then_changes_nothing() {
    use crate::schedule::{PlanSchedule, ScheduleChange};
    let w = World::new();
    w.mem.schedule_backups();
    let old = PlanSchedule {
        name: "weekly-gone".into(),
        expression: "cron(0 4 ? * 1 *)".into(),
        timezone: "UTC".into(),
        input: "{}".into(),
        target: crate::memory::MEMORY_TARGET.into(),
    };
    w.mem
        .change_schedule(&ScheduleChange::Create(old))
        .await
        .unwrap();
    let app = w.app();
    // Three runs at once: the plans are created once, the stray one deleted.
    let runs = join_all((0..3).map(|_| app.maintain())).await;
    assert!(runs.iter().all(Result::is_ok), "{runs:?}");
    let names: Vec<String> = w.mem.schedules().into_iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        [
            "prod-db-full",
            "prod-db-incremental",
            "prod-db-nightly",
            "staging-db"
        ]
    );
    let nightly = w
        .mem
        .schedules()
        .into_iter()
        .find(|s| s.name == "prod-db-nightly")
        .unwrap();
    assert_eq!(nightly.expression, "cron(0 3 * * ? *)");
    assert!(nightly.input.contains(r#""plan": "prod-db-nightly""#));
    assert!(nightly.input.contains("<aws.scheduler.execution-id>"));
    assert_eq!(
        app.maintain().await.unwrap().schedules,
        Vec::<String>::new()
    );

    // The config moves the nightly plan to 02:00 Paris time: one update, every field.
    let text = include_str!("../../../infra/deckhand.example.toml")
        .replace(
            "schedule = \"cron(0 3 * * ? *)\"",
            "schedule = \"cron(0 2 * * ? *)\"",
        )
        .replace("\"Europe/Berlin\"", "\"Europe/Paris\"");
    let moved = Config::parse("moved", &text).unwrap();
    let app = App::new(&w.ports, &moved);
    assert_eq!(
        app.maintain().await.unwrap().schedules,
        [
            "~ prod-db-nightly: cron(0 2 * * ? *) (Europe/Paris)",
            "~ prod-db-full: cron(0 2 * * ? *) (Europe/Paris)"
        ]
    );
    let timezones: Vec<String> = w.mem.schedules().into_iter().map(|s| s.timezone).collect();
    assert_eq!(timezones, ["Europe/Paris", "UTC", "Europe/Paris", "UTC"]);
}

#[tokio::test]
async fn a_missed_backup_is_told_once_and_its_clearing_once() {
    let w = World::new();
    let app = w.app();
    let missed = |w: &World| {
        w.posts()
            .iter()
            .filter(|p| p.starts_with("⚠️ prod-db-nightly"))
            .count()
    };
    // 09:00: Deckhand starts watching; last night's 03:00 firing was before its time.
    let nightly_missed = |done: &crate::usecases::Maintained| {
        done.backups_missed.contains(&"prod-db-nightly".to_owned())
    };
    assert!(!nightly_missed(&app.maintain().await.unwrap()));
    // The next night's firing never happens (a disabled schedule, a role that lost a
    // permission): an hour after it, the plan's channel is told, once however often
    // maintenance runs, and at once.
    w.mem.set_now(at("2026-11-25T02:59:00Z"));
    assert!(
        !nightly_missed(&app.maintain().await.unwrap()),
        "within the grace"
    );
    w.mem.set_now(at("2026-11-25T03:01:00Z"));
    let runs = join_all((0..3).map(|_| app.maintain())).await;
    assert!(runs.iter().all(|r| {
        r.as_ref()
            .unwrap()
            .backups_missed
            .contains(&"prod-db-nightly".to_owned())
    }));
    assert_eq!(missed(&w), 1, "{:#?}", w.posts());
    assert!(
        w.posts()
            .contains(&"⚠️ prod-db-nightly: no good backup yet; expected every 24h.".to_owned())
    );
    let counted = w
        .mem
        .metrics()
        .into_iter()
        .rfind(|m| m.name == crate::usecases::BACKUPS_MISSED)
        .unwrap();
    assert!(counted.value >= 1.0);
    w.mem.set_now(at("2026-11-25T09:00:00Z"));
    app.maintain().await.unwrap();
    assert_eq!(missed(&w), 1, "still missed, not told again");

    // A backup by hand clears it: said once.
    app.run_backup(
        "prod-db-nightly",
        &BackupTrigger::Person {
            actor: person("U0ALICE"),
            event_key: EventKey::test("slack:T0:trigger-7"),
        },
    )
    .await
    .unwrap();
    let cleared = |w: &World| {
        w.posts()
            .iter()
            .filter(|p| p.starts_with("✅ prod-db-nightly: backing up again"))
            .count()
    };
    join_all((0..3).map(|_| app.maintain())).await;
    assert!(
        !app.maintain()
            .await
            .unwrap()
            .backups_missed
            .contains(&"prod-db-nightly".to_owned())
    );
    assert_eq!(cleared(&w), 1, "{:#?}", w.posts());

    // Two nights later with no firing in between: missed again, told again (a new episode,
    // from the newest good backup), "31h" style.
    w.mem.set_now(at("2026-11-27T04:30:00Z"));
    app.maintain().await.unwrap();
    assert_eq!(missed(&w), 2);
    assert!(
        w.posts().iter().any(|p| p
            .starts_with("⚠️ prod-db-nightly: last good backup 43h30m ago; expected every 24h")),
        "{:#?}",
        w.posts()
    );
}

#[tokio::test]
async fn each_snapshot_is_copied_to_the_plans_other_region_and_the_copies_are_pruned_alike() {
    let w = World::new();
    let app = w.app();
    let plan = "prod-db-nightly"; // copy_to = "eu-west-1" in the example
    let trigger = |n: u32| BackupTrigger::Schedule {
        event_id: EventKey::test(&format!("sched-{n}")),
    };
    let first = app.run_backup(plan, &trigger(1)).await.unwrap();
    assert_eq!(w.mem.copy_ids(), std::slice::from_ref(&first.snapshot));
    w.assert_posted("Copying it to eu-west-1; pruned 0 old copies there.");
    // A redelivered firing copies nothing twice.
    app.run_backup(plan, &trigger(1)).await.unwrap();
    assert_eq!(w.mem.copy_ids().len(), 1);
    // A day on, the next: retention decides over the copies as over the originals (the
    // emulator test prunes them), so the two sets stay alike.
    w.mem.advance(SignedDuration::from_hours(24));
    app.run_backup(plan, &trigger(2)).await.unwrap();
    assert_eq!(w.mem.copy_ids().len(), 2);
    let originals: Vec<String> = w
        .mem
        .snapshot_ids()
        .into_iter()
        .filter(|id| id.starts_with("deckhand-prod-db-nightly"))
        .collect();
    assert_eq!(w.mem.copy_ids(), originals);
    let list = app.backup_list(&World::env("prod")).await.unwrap();
    assert_eq!(list.columns.last().map(String::as_str), Some("copy"));
    assert!(
        list.rows
            .iter()
            .all(|r| r.last().map(String::as_str) == Some("eu-west-1"))
    );
}

#[tokio::test]
async fn an_ecs_task_backup_runs_as_steps_records_its_artifact_and_prunes_with_its_own_command() {
    use crate::check::TaskState;
    let w = World::new();
    let app = w.app();
    let plan = "prod-db-incremental"; // keep_within 7d, timeout 1h, on worker's task definition
    let trigger = |n: u32| BackupTrigger::Schedule {
        event_id: EventKey::test(&format!("fire-{n}")),
    };
    let ran = |label: &str| TaskState::Stopped {
        exit_code: Some(0),
        reason: "Essential container in task exited".into(),
        log_tail: vec![
            "P00   INFO: backup command end: completed successfully".into(),
            format!("deckhand-artifact: {label}"),
        ],
    };
    // The task starts and runs: the run comes back later as work, never waiting.
    let first = app.run_backup(plan, &trigger(1)).await.unwrap();
    assert_eq!(first.status, SnapshotStatus::Creating);
    let tasks = w.mem.one_off_tasks();
    assert_eq!(tasks.len(), 1);
    let (started_by, command) = &tasks[0];
    assert_eq!(command, &["bin/backup", "--type=incr"]);
    assert!(matches!(
        w.mem.delayed().last(),
        Some((Work::RunBackup { plan: p, .. }, _)) if p == plan
    ));
    // Looked at again (twice at once): still one task; it ended, naming its artifact.
    w.mem
        .set_task_state(started_by, ran("20261124-090000F_20261124-091500I"));
    w.mem.advance(SignedDuration::from_secs(30));
    let again = trigger(1);
    let looks = join_all((0..2).map(|_| app.run_backup(plan, &again))).await;
    let done: Vec<_> = looks.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        w.mem.one_off_tasks().len(),
        1,
        "one task however often it is looked at"
    );
    // One of the two records it; the other found the task being looked at and comes back later.
    let recorded: Vec<_> = done
        .iter()
        .filter(|d| d.status == SnapshotStatus::Available && !d.duplicate)
        .collect();
    assert_eq!(recorded.len(), 1, "{done:?}");
    assert_eq!(recorded[0].snapshot, "20261124-090000F_20261124-091500I");
    let later = app.run_backup(plan, &again).await.unwrap();
    assert!(later.duplicate, "{later:?}");
    assert_eq!(
        w.mem.backup_records_of(plan).len(),
        1,
        "recorded once however often it is looked at"
    );
    assert!(
        w.posts().iter().any(|p| p.starts_with(
            "💾 Backup prod-db-incremental made `20261124-090000F_20261124-091500I` in 30s"
        )),
        "{:#?}",
        w.posts()
    );

    // Eight days on, the next: retention drops the first, by the plan's own prune command.
    w.mem.advance(SignedDuration::from_hours(24 * 8));
    app.run_backup(plan, &trigger(2)).await.unwrap();
    let second_by = w.task_started_by(|by| by != started_by);
    w.mem
        .set_task_state(&second_by, ran("20261202-091500F_20261202-093000I"));
    let second = app.run_backup(plan, &trigger(2)).await.unwrap();
    assert_eq!(second.pruned, ["20261124-090000F_20261124-091500I"]);
    assert!(
        w.mem
            .one_off_tasks()
            .iter()
            .any(|(by, cmd)| by.starts_with("deckhand-prune-")
                && cmd == &["bin/backup", "expire", "20261124-090000F_20261124-091500I"]),
        "{:?}",
        w.mem.one_off_tasks()
    );

    // A task that exits non-zero fails the run, loudly; one past its timeout is stopped.
    app.run_backup(plan, &trigger(3)).await.unwrap();
    let third_by = w.task_started_by(|by| {
        by.contains("fire-3")
            || !by.starts_with("deckhand-prune-") && by != started_by && by != &second_by
    });
    w.mem.set_task_state(
        &third_by,
        TaskState::Stopped {
            exit_code: Some(1),
            reason: "Essential container in task exited".into(),
            log_tail: vec!["ERROR: [056]: unable to find primary cluster".into()],
        },
    );
    app.run_backup(plan, &trigger(3)).await.unwrap();
    assert!(
        w.posts()
            .iter()
            .any(|p| p.contains("🚨 Backup prod-db-incremental FAILED")
                && p.contains("its task exited with code 1 (Essential container in task exited)")
                && p.contains("unable to find primary cluster")),
        "{:#?}",
        w.posts()
    );
    app.run_backup(plan, &trigger(4)).await.unwrap();
    w.mem.advance(SignedDuration::from_mins(61));
    app.run_backup(plan, &trigger(4)).await.unwrap();
    assert_eq!(w.mem.stopped_tasks().len(), 1);
    w.assert_posted("its task did not finish within 1h and was stopped");
}

#[tokio::test]
async fn two_triggers_in_the_same_second_get_a_snapshot_each() {
    let w = World::new();
    let plan = "prod-db-nightly";
    let app = w.app();
    let scheduled = app
        .run_backup(
            plan,
            &BackupTrigger::Schedule {
                event_id: EventKey::test("sched-9"),
            },
        )
        .await
        .unwrap();
    let by_hand = app
        .run_backup(
            plan,
            &BackupTrigger::Person {
                actor: person("U0ALICE"),
                event_key: EventKey::test("slack:T0:trigger-1"),
            },
        )
        .await
        .unwrap();
    assert_ne!(scheduled.snapshot, by_hand.snapshot);
    assert!(!scheduled.duplicate && !by_hand.duplicate);
    let ids = w.mem.snapshot_ids();
    assert!(ids.contains(&scheduled.snapshot) && ids.contains(&by_hand.snapshot));
}

#[tokio::test]
async fn history_lists_newest_first_and_every_transition_is_audited() {
    let w = World::new();
    w.ship("staging", "v1.2.3", "s1").await;
    w.mem.push_image("acme/api", "v1.2.4", &digest(4));
    w.mem.advance(SignedDuration::from_mins(1));
    w.ship("staging", "v1.2.4", "s2").await;
    let t = w
        .app()
        .history(&World::env("staging"), Some(&World::svc("api")), 10)
        .await
        .unwrap();
    assert_eq!(t.rows.len(), 2);
    assert_eq!(t.rows[0][2], "v1.2.4");
    let audit = w.mem.audit_entries();
    assert!(
        audit
            .iter()
            .any(|a| a.action == "prepared" && a.detail == "requested → approved"),
        "{audit:#?}"
    );
    assert!(
        audit.iter().any(|a| a.detail == "verifying → succeeded"),
        "{audit:#?}"
    );
    assert!(audit.iter().any(|a| a.actor == Actor::system("ecs")));
}

#[tokio::test]
async fn the_bake_check_promotes_clean_releases_to_known_good_once() {
    let w = World::new();
    w.ship("staging", "v1.2.3", "s1").await;
    assert_eq!(w.app().bake_check().await.unwrap(), 0, "still baking");
    w.mem.advance(SignedDuration::from_hours(1));
    assert_eq!(w.app().bake_check().await.unwrap(), 1);
    assert_eq!(w.app().bake_check().await.unwrap(), 0);
    assert_eq!(w.mem.all_releases()[0].verdict, Verdict::Good);
}

#[tokio::test]
async fn a_release_whose_alarm_is_firing_keeps_baking() {
    let w = World::new();
    w.ship("staging", "v1.2.3", "s1").await;
    w.ship("prod", "v1.2.3", "p1").await;
    w.mem.set_firing("api-prod-5xx", true);
    w.mem.advance(SignedDuration::from_hours(1));
    assert_eq!(w.app().bake_check().await.unwrap(), 1, "staging's only");
    w.mem.set_firing("api-prod-5xx", false);
    assert_eq!(w.app().bake_check().await.unwrap(), 1, "now prod's");
}

/// The first alarm rolls v1.2.4 back to v1.2.3; returns the bad release and the rollback, run
/// to its end.
async fn rolled_back_by_an_alarm(w: &World) -> (Deployment, Deployment) {
    let (_good, bad) = prod_with_two_releases(w).await;
    let (dispatched, cards) = (w.mem.dispatched().len(), w.cards());
    let first = w.app().on_alarm(&alarm(w, AlarmState::Ok)).await.unwrap();
    assert_eq!(first.rolled_back.len(), 1, "{first:?}");
    // The rollback function itself sent ECS the known-good revision: no hand-over to the
    // deploy function; and the card, posted after, already shows the rollout.
    assert_eq!(w.mem.roll_backs().len(), 1, "{:?}", w.mem.roll_backs());
    assert_eq!(w.mem.dispatched().len(), dispatched, "no hand-over");
    let posted: Vec<String> = w
        .mem
        .said()
        .into_iter()
        .filter_map(|s| match s {
            Said::Card { card, .. } => Some(card.status),
            _ => None,
        })
        .skip(cards)
        .collect();
    assert!(
        !posted.is_empty() && posted.iter().all(|s| s.starts_with("Rolling out api")),
        "{posted:?}"
    );
    let rollback = w.run_to_end(first.rolled_back[0].1, true).await;
    assert_eq!(rollback.state, State::Succeeded);
    (bad, rollback)
}

#[tokio::test]
async fn a_second_alarm_with_the_same_reason_never_ships_the_bad_release_back() {
    let w = World::new();
    let (bad, rollback) = rolled_back_by_an_alarm(&w).await;
    let rolled_to = w.mem.roll_backs();
    // The alarm clears, and 27 minutes later fires again with the very same reason text,
    // inside the rollback's own watch window.
    w.mem.advance(SignedDuration::from_mins(27));
    let again = w.app().on_alarm(&alarm(&w, AlarmState::Ok)).await.unwrap();
    assert!(again.rolled_back.is_empty(), "{again:?}");
    assert_eq!(w.mem.roll_backs(), rolled_to, "nothing rolled anywhere");
    w.assert_posted("api is alarming on its known-good v1.2.3; not rolling back further — someone needs to look");
    let releases = w.mem.all_releases();
    let judged = releases.iter().find(|r| r.deployment == bad.id).unwrap();
    assert!(judged.verdict.is_bad(), "bad stays bad: {judged:?}");
    let restored = releases
        .iter()
        .find(|r| r.deployment == rollback.id)
        .unwrap();
    assert!(
        !restored.verdict.is_bad(),
        "the known-good one is not judged: {restored:?}"
    );
    assert!(
        w.status("prod").await.contains("held"),
        "the service is held"
    );
}

#[tokio::test]
async fn a_release_rolled_back_by_an_alarm_says_so_on_its_card_and_in_history() {
    let w = World::new();
    let (bad, _) = rolled_back_by_an_alarm(&w).await;
    let now = w.deployment(bad.id);
    let State::RolledBack { reason } = &now.state else {
        panic!("{:?}", now.state);
    };
    assert!(
        reason.contains("by alarm api-prod-5xx (→ v1.2.3)"),
        "{reason}"
    );
    let card = crate::card::deployment_card(&now, w.mem.the_time());
    assert!(
        card.status.starts_with("Rolled back at ")
            && card.status.contains("by alarm api-prod-5xx (→ v1.2.3)"),
        "{}",
        card.status
    );
    assert!(
        w.mem.said().iter().any(
            |s| matches!(s, Said::Update { card, .. } if card.status.contains("Rolled back at"))
        ),
        "its card was updated"
    );
    let history = w
        .app()
        .history(&World::env("prod"), None, 10)
        .await
        .unwrap()
        .to_text();
    let line = history
        .lines()
        .find(|l| l.contains(&bad.id.to_string()))
        .unwrap();
    assert!(line.contains("rolled back"), "{history}");
    assert!(
        w.mem
            .metrics()
            .iter()
            .any(|m| m.name == "DeploymentFailedChange"),
        "counted as a failed change"
    );
}

#[tokio::test]
async fn rolling_back_to_what_already_runs_is_answered_at_once() {
    let w = World::new();
    rolled_back_by_an_alarm(&w).await;
    let err = w
        .carol_rolls_back("prod", "api", Some("v1.2.3"), "rb-again")
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "api already runs its known-good v1.2.3; nothing to roll back"
    );
}

#[tokio::test]
async fn a_held_service_refuses_the_bad_version_by_hand_unless_overridden_for_one_more_approval() {
    let w = World::new();
    rolled_back_by_an_alarm(&w).await;
    let again = w.refused("prod", &["api"], "v1.2.4", "p3").await;
    assert!(again.to_string().contains("held since"), "{again}");
    let mut req = w.request("prod", &["api"], "v1.2.4", "U0ALICE", "p4");
    req.override_reason = Some("the alarm was a bad dashboard, INC-7".into());
    let r = w.deploy(req).await.unwrap();
    assert_eq!(
        r.deployment.required_approvals, 2,
        "one extra, for the hold and the bad digest together"
    );
    let lifts = &r.deployment.overridden.as_ref().unwrap().lifts;
    assert_eq!(lifts.len(), 2, "{lifts:?}");
    assert!(
        w.mem
            .audit_entries()
            .iter()
            .any(|a| a.deployment == Some(r.deployment.id)
                && a.detail
                    .contains("override “the alarm was a bad dashboard, INC-7” lifts:")),
        "the override is audited with its reason: {:#?}",
        w.mem.audit_entries()
    );
}

#[tokio::test]
async fn auto_deploy_refuses_a_digest_judged_bad() {
    let w = World::new();
    w.ship("staging", "v1.2.3", "s1").await;
    let change = AlarmChange {
        alarm: "api-staging-5xx".into(),
        ..alarm(&w, AlarmState::Ok)
    };
    // The example config maps no alarm to staging: judge it the way an alarm would.
    let r = w.mem.all_releases().pop().unwrap();
    crate::ports::Store::judge_release(&w.mem, &r.env, &r.service, r.deployment, &change.verdict())
        .await
        .unwrap();
    let out = w.built("cb/9", "main", "v1.2.3").await;
    assert!(
        matches!(&out.auto_deploys[0], AutoDeployOutcome::Skipped { why, .. } if why.contains("judged bad in staging by alarm api-staging-5xx")),
        "{out:?}"
    );
}

#[tokio::test]
async fn the_first_release_of_a_service_has_the_adopted_baseline_to_roll_back_to() {
    let w = World::new();
    w.ship("staging", "v1.2.3", "s1").await;
    let first = w.ship("prod", "v1.2.3", "p1").await;
    w.mem.advance(SignedDuration::from_mins(5));
    let out = w.app().on_alarm(&alarm(&w, AlarmState::Ok)).await.unwrap();
    assert_eq!(out.rolled_back.len(), 1, "{out:?}");
    let rollback = w.run_to_end(out.rolled_back[0].1, true).await;
    assert_eq!(rollback.state, State::Succeeded);
    assert_eq!(
        w.mem.roll_backs(),
        vec![(World::svc("api"), "api:1".to_owned())],
        "back onto what ran before Deckhand"
    );
    w.assert_posted("Rolling api back to v1.2.2 (the adopted baseline)");
    let record = w.deployment(first.id);
    assert!(
        matches!(record.state, State::RolledBack { .. }),
        "{:?}",
        record.state
    );
}

#[tokio::test]
async fn a_pause_stops_automatic_deploys_and_rollbacks_until_resumed() {
    let w = World::new();
    let (_good, bad) = prod_with_two_releases(&w).await;
    let app = w.app();
    let (pause, made) = app
        .pause(&World::env("prod"), &person("U0BOB"))
        .await
        .unwrap();
    assert!(made);
    let (_, again) = app
        .pause(&World::env("prod"), &person("U0CAROL"))
        .await
        .unwrap();
    assert!(!again, "a second /pause changes nothing");
    assert!(w.status("prod").await.contains("automation paused by Bob"),);

    let out = app.on_alarm(&alarm(&w, AlarmState::Ok)).await.unwrap();
    assert!(out.rolled_back.is_empty(), "{out:?}");
    assert!(w.mem.roll_backs().is_empty());
    assert!(
        w.posts()
            .iter()
            .any(|p| p.contains("automation is paused in prod: not rolling api back")),
        "the alarm is still shown: {:#?}",
        w.posts()
    );
    let record = w.deployment(bad.id);
    assert_eq!(
        record.state,
        State::Succeeded,
        "nothing was decided for people"
    );

    // Automation does not deploy into a paused environment; people still may.
    app.pause(&World::env("staging"), &person("U0BOB"))
        .await
        .unwrap();
    let auto = app
        .build_completed(&build("cb/7", "main", "v1.2.3"))
        .await
        .unwrap();
    assert!(
        matches!(&auto.auto_deploys[0], AutoDeployOutcome::Skipped { why, .. } if why.contains("automation is paused in staging by Bob")),
        "{auto:?}"
    );

    let ended = app
        .resume(&World::env("prod"), &person("U0CAROL"))
        .await
        .unwrap();
    assert_eq!(ended, Some(pause));
    assert!(
        w.posts()
            .iter()
            .any(|p| p.contains("Carol resumed automation in prod (paused by Bob"))
    );
    assert_eq!(
        app.resume(&World::env("prod"), &person("U0CAROL"))
            .await
            .unwrap(),
        None
    );
    let audit: Vec<String> = w
        .mem
        .audit_entries()
        .into_iter()
        .map(|a| a.action)
        .collect();
    assert!(
        audit.contains(&"paused".to_owned()) && audit.contains(&"resumed".to_owned()),
        "{audit:?}"
    );
}

#[tokio::test]
async fn promotion_refuses_an_image_judged_bad_in_the_environment_before() {
    let w = World::new();
    w.ship("staging", "v1.2.3", "s1").await;
    let r = w
        .mem
        .all_releases()
        .into_iter()
        .find(|r| r.image.tag.as_str() == "v1.2.3")
        .unwrap();
    let verdict = crate::rollback::Verdict::Bad {
        by: "Carol".into(),
        at: w.mem.the_time(),
        why: "rolled back by Carol".into(),
    };
    crate::ports::Store::judge_release(&w.mem, &r.env, &r.service, r.deployment, &verdict)
        .await
        .unwrap();
    let refused = w.refused("prod", &["api"], "v1.2.3", "p1").await;
    assert!(
        refused
            .to_string()
            .contains("was judged bad in staging by Carol"),
        "{refused}"
    );
    assert!(w.started().iter().all(|d| d.env.as_str() != "prod"));
}

/// A deploy of what already runs is not a silent full rollout: refused with how to force it,
/// a service among others that already runs it is left out (and said so), and `--force`
/// redeploys it. An `--override` nothing needed is said to be unneeded and not charged.
#[tokio::test]
async fn what_already_runs_is_left_alone_unless_forced_and_an_unneeded_override_is_said() {
    let w = World::new();
    let err = w.refused("staging", &["api"], "v1.2.2", "k1").await;
    assert_eq!(
        err.to_string(),
        "api already runs v1.2.2 in staging; add `--force` to redeploy it"
    );
    assert!(w.started().is_empty(), "nothing was started");

    let mut forced = w.request("staging", &["api"], "v1.2.2", "U0ALICE", "k2");
    forced.force = true;
    let r = w.deploy(forced).await.unwrap();
    assert_eq!(r.deployment.service_names(), vec![World::svc("api")]);
    assert!(r.notes.is_empty(), "{:?}", r.notes);
    w.run_to_end(r.deployment.id, true).await;

    w.ship("staging", "v1.2.3", "s1").await;
    let mut both = w.request("staging", &["api", "worker"], "v1.2.3", "U0ALICE", "k3");
    both.override_reason = Some("INC-9".into());
    let r = w.deploy(both).await.unwrap();
    assert_eq!(r.deployment.service_names(), vec![World::svc("worker")]);
    assert_eq!(
        r.deployment.required_approvals, 0,
        "no extra approval charged"
    );
    assert!(r.deployment.overridden.is_none());
    assert_eq!(
        r.notes,
        vec![
            "api already runs v1.2.3 in staging and is left as it is (`--force` redeploys it). \
             `--override` was not needed (no freeze, hold or bad image stood in the way), so this deploys without it."
                .to_owned(),
        ],
        "told privately, in one message"
    );
}

/// A card is never sent an update that changes nothing: through a whole deploy, each message's
/// updates differ from what it showed before.
#[tokio::test]
async fn a_card_is_never_sent_the_same_content_twice() {
    let w = World::new();
    w.ship("staging", "v1.2.3", "s1").await;
    let mut last: std::collections::HashMap<String, crate::card::Card> =
        std::collections::HashMap::new();
    let mut updates = 0;
    for said in w.mem.said() {
        match said {
            Said::Card { card, .. } => {
                // Each post is a new message; its id is not known here, so start afresh.
                last.clear();
                last.insert("posted".into(), card);
            }
            Said::Update { message, card } => {
                updates += 1;
                let before = last
                    .get(&message.id)
                    .or_else(|| last.get("posted"))
                    .cloned();
                assert_ne!(
                    before.as_ref(),
                    Some(&card),
                    "an update that changes nothing"
                );
                last.insert(message.id.clone(), card);
            }
            _ => {}
        }
    }
    assert!(
        updates >= 2,
        "the deploy updated its card as it went ({updates})"
    );
}

/// `/status` shows what ECS runs for a service Deckhand never deployed, and a lock with since
/// and until; `/lock` and a `/unlock` of someone else's lock are told to the channel, naming
/// whose lock it was.
#[tokio::test]
async fn status_shows_what_ecs_runs_and_locks_are_told_to_the_channel() {
    let w = World::new();
    let app = w.app();
    let staging = World::env("staging");
    let status = app.status(Some(&staging)).await.unwrap().to_text();
    assert!(
        status.contains("v1.2.2") && status.contains("not deployed by Deckhand yet"),
        "{status}"
    );
    assert!(
        !status.contains(" — "),
        "no blanks for what ECS can tell: {status}"
    );

    app.lock(&staging, None, "load test", &person("U0ALICE"))
        .await
        .unwrap();
    let status = app.status(Some(&staging)).await.unwrap().to_text();
    assert!(
        status.contains("locked by Alice since 11-24 09:00 until 11-24 17:00: load test"),
        "{status}"
    );
    app.unlock(&staging, &person("U0BOB")).await.unwrap();
    let posts = w.posts();
    assert!(
        posts.iter().any(
            |p| p.starts_with("🔒 Alice locked staging until 2026-11-24 17:00 UTC: load test.")
        ),
        "{posts:#?}"
    );
    assert!(
        posts
            .iter()
            .any(|p| p == "🔓 Bob unlocked staging: released Alice's lock (load test)."),
        "{posts:#?}"
    );
}
