//! Running a sequence: resolve each step against the state, deliver it through the engine's
//! entry points (with its fault), and check every invariant after it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use deckhand_core::config::Config;
use deckhand_core::deployment::{State, Work};
use deckhand_core::memory::join_all;
use deckhand_core::ports::{Build, ReplyTo, Store};
use deckhand_core::rollback::{AlarmChange, AlarmState};
use deckhand_core::types::{
    Actor, ChatKind, DeploymentId, EnvName, EventKey, Sealed, ServiceName, Timestamp, Version,
};
use deckhand_core::usecases::{App, Decision, DeployRequest};

use crate::check::{self, Context, Observed, Violation};
use crate::step::{AlarmName, Env, Event, Fault, Outcome, Step, Svc, Svcs, Twice, Who};
use crate::world::SimPorts;

/// The simulation's config: two environments, three services, four alarms.
pub fn config() -> Config {
    // The file is part of this crate and its test checks it parses.
    Config::parse("deckhand.sim.toml", include_str!("deckhand.sim.toml"))
        .unwrap_or_else(|e| panic!("the simulation's own config is invalid: {e}"))
}

/// A Tuesday morning, like the unit tests'.
pub fn start() -> Timestamp {
    // A literal RFC 3339 timestamp always parses.
    "2026-11-24T09:00:00Z"
        .parse()
        .unwrap_or_else(|_| unreachable!())
}

fn env_name(e: Env) -> EnvName {
    let raw = match e {
        Env::Staging => "staging",
        Env::Prod => "prod",
    };
    EnvName::parse(raw).unwrap_or_else(|_| unreachable!())
}

fn service_name(s: Svc) -> ServiceName {
    let raw = match s {
        Svc::Worker => "worker",
        Svc::Api => "api",
        Svc::Web => "web",
    };
    ServiceName::parse(raw).unwrap_or_else(|_| unreachable!())
}

fn services(s: Svcs) -> Vec<ServiceName> {
    s.list().into_iter().map(service_name).collect()
}

fn version(n: u8) -> Version {
    Version::parse(&format!("v1.0.{n}")).unwrap_or_else(|_| unreachable!())
}

fn person(w: Who) -> Actor {
    let (id, name) = match w {
        Who::Alice => ("U0ALICE", "Alice"),
        Who::Bob => ("U0BOB", "Bob"),
        Who::Carol => ("U0CAROL", "Carol"),
        Who::Dave => ("U0DAVE", "Dave"),
        Who::Mallory => ("U0MALLORY", "Mallory"),
    };
    Actor::person(ChatKind::Slack, "T0SIM", id, name)
}

fn alarm_name(a: AlarmName) -> &'static str {
    match a {
        AlarmName::ApiProd5xx => "api-prod-5xx",
        AlarmName::ApiProdLatency => "api-prod-latency",
        AlarmName::WebProdErrors => "web-prod-errors",
        AlarmName::ApiStaging5xx => "api-staging-5xx",
    }
}

/// CloudWatch's reason texts repeat: the same threshold crossed gives the same words.
const REASONS: [&str; 2] = [
    "Threshold Crossed: 1 out of the last 1 datapoints [7.0] was greater than the threshold (1.0) (minimum 1 datapoint for OK -> ALARM transition).",
    "Threshold Crossed: 3 out of the last 5 datapoints were greater than the threshold (1.0).",
];

/// The maintenance schedule's period (the deploy function's EventBridge Scheduler schedule).
pub const TICK: jiff::SignedDuration = jiff::SignedDuration::from_mins(5);

/// How many ticks the drain runs: enough for ECS to finish what each tick starts (a rollback
/// started by a failure, say) and for maintenance to see it.
const DRAIN_TICKS: usize = 6;
/// How long a drain may go on while work is still moving: a failed deploy of several services
/// and the rollback it starts take a tick per step, more than `DRAIN_TICKS` (seed
/// 0x3d2d34719bfe959b: a rollback still rolling when a 6-tick drain ended). Three hours of
/// ticks, past every deadline, so whatever is stuck has been given up on by then.
const DRAIN_TICKS_MAX: usize = 36;

/// One delivery of one event to one entry point: what a redelivery delivers again.
#[derive(Debug, Clone)]
pub enum Delivery {
    Deploy(DeployRequest),
    Decide {
        id: DeploymentId,
        decision: Decision,
        actor: Actor,
        /// The environment the card's button names (`None`: a card from before buttons
        /// named it, decided by reading the deployment).
        env: Option<EnvName>,
    },
    Work(Work),
    Ecs {
        id: String,
        outcome: Result<(), String>,
    },
    Alarm(AlarmChange),
    Build(Build),
    Rollback {
        env: EnvName,
        services: Vec<ServiceName>,
        to: Option<Version>,
        actor: Actor,
        key: EventKey,
    },
    Lock {
        env: EnvName,
        actor: Actor,
    },
    Unlock {
        env: EnvName,
        actor: Actor,
    },
    Pause {
        env: EnvName,
        actor: Actor,
    },
    Resume {
        env: EnvName,
        actor: Actor,
    },
    Maintain,
}

/// How a delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Ok(String),
    Refused(String),
    /// The process died after a port call; the rest never happened.
    Crashed,
}

/// Polls a handler until it finishes, or until the armed crash kills it.
struct Abandon<'a, F, S> {
    handler: Pin<Box<F>>,
    ports: &'a SimPorts<S>,
}

impl<F: Future, S: Store> Future for Abandon<'_, F, S> {
    type Output = Option<F::Output>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        match self.handler.as_mut().poll(cx) {
            Poll::Ready(out) => Poll::Ready(Some(out)),
            Poll::Pending if self.ports.crashed() => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// One sequence's run.
#[derive(Debug)]
pub struct Sim<S> {
    pub ports: SimPorts<S>,
    pub config: Config,
    /// Every delivery so far, with whether it ran to its end.
    pub history: Vec<(Delivery, Answer)>,
    /// When a delivery last died half-way: the step lease it held runs out after it.
    pub last_crash: Option<Timestamp>,
    /// Whether chat was down for the delivery being checked (its card updates could not land).
    chat_down: bool,
    /// Deliveries that died, which their source retries (Slack, EventBridge, Lambda).
    retries: Vec<Delivery>,
    keys: u32,
    next_tick: Timestamp,
    last: Option<Observed>,
    /// What each step did, for a failure's trace.
    pub trace: Vec<String>,
    pub violations: Vec<Violation>,
}

impl<S: Store + Clone> Sim<S> {
    pub fn new(store: S) -> Self {
        let config = config();
        Sim {
            ports: SimPorts::new(store, &config, start()),
            config,
            history: Vec::new(),
            last_crash: None,
            chat_down: false,
            retries: Vec::new(),
            keys: 0,
            next_tick: start() + TICK,
            last: None,
            trace: Vec::new(),
            violations: Vec::new(),
        }
    }

    fn key(&mut self, kind: &str) -> EventKey {
        self.keys += 1;
        EventKey::test(&format!("{kind}:{}", self.keys))
    }

    /// The store as the last check left it (nothing changes the store between a check and the
    /// next delivery), or read afresh.
    async fn before(&mut self) -> Observed {
        match self.last.take() {
            Some(o) => o,
            None => self.observe(false).await,
        }
    }

    async fn observe(&self, with_cards: bool) -> Observed {
        // The checks read the store directly, not through the faults.
        // Boxed, like every large future here: on the AWS SDK in a debug build they are
        // megabytes, and a future awaited inline lives on its caller's stack.
        match Box::pin(Observed::read(&self.ports.store, &self.config, with_cards)).await {
            Ok(o) => o,
            Err(e) => panic!("the simulation could not read its store: {e}"),
        }
    }

    async fn handle(&self, d: &Delivery) -> Result<String, String> {
        let ports = self.ports.ports();
        let app = App::new(&ports, &self.config);
        let show = |e: &dyn std::fmt::Display| e.to_string();
        match d {
            Delivery::Deploy(r) => app
                .request_deploy(r.clone())
                .await
                .map(|r| format!("{} {}", r.deployment.id, r.deployment.state.name()))
                .map_err(|e| show(&e)),
            Delivery::Decide {
                id,
                decision: Decision::Approve,
                actor,
                env: Some(env),
            } => app
                .approve(*id, env, actor)
                .await
                .map(|d| d.state.name().to_owned())
                .map_err(|e| show(&e)),
            Delivery::Decide {
                id,
                decision,
                actor,
                ..
            } => app
                .decide(*id, *decision, actor, None)
                .await
                .map(|d| d.state.name().to_owned())
                .map_err(|e| show(&e)),
            Delivery::Work(Work::PrepareDeployment { id }) => app
                .prepare_deployment(*id)
                .await
                .map(|d| d.state.name().to_owned())
                .map_err(|e| show(&e)),
            Delivery::Work(Work::RunDeployment { id }) => app
                .run_deployment(*id)
                .await
                .map(|d| d.state.name().to_owned())
                .map_err(|e| show(&e)),
            Delivery::Work(Work::Wake { id, revision }) => app
                .wake(*id, Some(*revision))
                .await
                .map(|d| d.state.name().to_owned())
                .map_err(|e| show(&e)),
            Delivery::Work(Work::RunBackup { plan, .. }) => Err(format!("no backup plan {plan}")),
            Delivery::Ecs { id, outcome } => app
                .on_rollout(id, outcome.clone())
                .await
                .map(|d| d.map_or("not ours".to_owned(), |d| d.state.name().to_owned()))
                .map_err(|e| show(&e)),
            Delivery::Alarm(change) => app
                .on_alarm(change)
                .await
                .map(|o| format!("rolled back {:?}; ignored {:?}", o.rolled_back, o.ignored))
                .map_err(|e| show(&e)),
            Delivery::Build(b) => app
                .build_completed(b)
                .await
                .map(|o| format!("{:?}", o.auto_deploys))
                .map_err(|e| show(&e)),
            Delivery::Rollback {
                env,
                services,
                to,
                actor,
                key,
            } => app
                .manual_rollback(env, services, to.as_ref(), actor, key)
                .await
                .map(|r| format!("{} {}", r.deployment.id, r.deployment.state.name()))
                .map_err(|e| show(&e)),
            Delivery::Lock { env, actor } => app
                .lock(env, None, "incident", actor)
                .await
                .map(|_| "locked".to_owned())
                .map_err(|e| show(&e)),
            Delivery::Unlock { env, actor } => app
                .unlock(env, actor)
                .await
                .map(|(l, h)| format!("released {:?}, {} holds", l.map(|l| l.owner), h.len()))
                .map_err(|e| show(&e)),
            Delivery::Pause { env, actor } => app
                .pause(env, actor)
                .await
                .map(|(_, made)| if made { "paused" } else { "already paused" }.to_owned())
                .map_err(|e| show(&e)),
            Delivery::Resume { env, actor } => app
                .resume(env, actor)
                .await
                .map(|p| if p.is_some() { "resumed" } else { "not paused" }.to_owned())
                .map_err(|e| show(&e)),
            Delivery::Maintain => app
                .maintain()
                .await
                .map(|m| format!("{m:?}"))
                .map_err(|e| show(&e)),
        }
    }

    async fn deliver(&self, d: &Delivery, fault: Fault) -> Answer {
        self.ports.arm(fault);
        let out = Abandon {
            handler: Box::pin(self.handle(d)),
            ports: &self.ports,
        }
        .await;
        self.ports.disarm();
        match out {
            Some(Ok(s)) => Answer::Ok(s),
            Some(Err(e)) => Answer::Refused(e),
            None => Answer::Crashed,
        }
    }

    /// What a step delivers, resolved against the state before it; `None` for steps that
    /// only change the world, or that find nothing to act on.
    fn resolve(&mut self, event: Event, before: &Observed) -> Option<Delivery> {
        let now = self.ports.now();
        match event {
            Event::Deploy {
                env,
                services: s,
                version: v,
                who,
            }
            | Event::DeployOverriding {
                env,
                services: s,
                version: v,
                who,
            } => Some(Delivery::Deploy(DeployRequest {
                env: env_name(env),
                services: services(s),
                version: version(v),
                override_reason: matches!(event, Event::DeployOverriding { .. })
                    .then(|| "the alarm was a bad dashboard (INC-7)".to_owned()),
                // The overriding kind also redeploys what already runs, so both roads are met.
                force: matches!(event, Event::DeployOverriding { .. }),
                actor: person(who),
                event_key: self.key("slack"),
                reply_to: Some(ReplyTo::Slack {
                    response_url: Sealed::new("https://hooks.slack.com/commands/T1/1/sim"),
                }),
            })),
            Event::Approve { pick, who } | Event::Reject { pick, who } => {
                let pending: Vec<DeploymentId> = before
                    .deployments
                    .iter()
                    .filter(|d| d.state == State::PendingApproval)
                    .map(|d| d.id)
                    .collect();
                let all: Vec<DeploymentId> = before.deployments.iter().map(|d| d.id).collect();
                let among = if pending.is_empty() { all } else { pending };
                let id = *among.get(usize::from(pick) % among.len().max(1))?;
                let decision = if matches!(event, Event::Approve { .. }) {
                    Decision::Approve
                } else {
                    Decision::Reject
                };
                // Most clicks come from cards whose buttons name the environment (one write);
                // some from older cards (read, then decide).
                let env = before
                    .deployments
                    .iter()
                    .find(|d| d.id == id)
                    .map(|d| d.env.clone())
                    .filter(|_| pick % 5 != 4);
                Some(Delivery::Decide {
                    id,
                    decision,
                    actor: person(who),
                    env,
                })
            }
            Event::Work { pick } => {
                let now = self.ports.now();
                let mut w = self.ports.world();
                let due: Vec<usize> = (0..w.queue.len())
                    .filter(|&i| w.queue[i].due(now))
                    .collect();
                if due.is_empty() {
                    return None;
                }
                let i = due[usize::from(pick) % due.len()];
                let q = w.queue.remove(i);
                Some(Delivery::Work(q.work))
            }
            Event::Ecs {
                pick,
                outcome,
                report,
            } => {
                let mut w = self.ports.world();
                let under_way = w.in_progress();
                let id = under_way
                    .get(usize::from(pick) % under_way.len().max(1))?
                    .clone();
                let result = w.finish(&id, outcome == Outcome::Completed)?;
                report.then_some(Delivery::Ecs {
                    id,
                    outcome: result,
                })
            }
            Event::Alarm { alarm, reason } => {
                let name = alarm_name(alarm);
                let mut w = self.ports.world();
                let firing = w.alarms.get(name).copied().unwrap_or(false);
                w.alarms.insert(name.to_owned(), !firing);
                let state = |f: bool| if f { AlarmState::Alarm } else { AlarmState::Ok };
                Some(Delivery::Alarm(AlarmChange {
                    alarm: name.to_owned(),
                    arn: None,
                    previous: state(firing),
                    current: state(!firing),
                    at: now,
                    reason: REASONS[usize::from(reason) % REASONS.len()].to_owned(),
                }))
            }
            Event::Build {
                service,
                version: v,
            } => Some(Delivery::Build(Build {
                service: service_name(service),
                version: version(v),
                build_id: self.key("build").to_string(),
                branch: Some("main".into()),
                commit: Some("0123456789abcdef".into()),
                url: None,
                finished_at: now,
                succeeded: true,
            })),
            Event::Rollback {
                env,
                services: s,
                to,
                who,
            } => Some(Delivery::Rollback {
                env: env_name(env),
                services: services(s),
                to: to.map(version),
                actor: person(who),
                key: self.key("slack"),
            }),
            Event::Lock { env, who }
            | Event::Unlock { env, who }
            | Event::Pause { env, who }
            | Event::Resume { env, who } => {
                let (env, actor) = (env_name(env), person(who));
                Some(match event {
                    Event::Lock { .. } => Delivery::Lock { env, actor },
                    Event::Unlock { .. } => Delivery::Unlock { env, actor },
                    Event::Pause { .. } => Delivery::Pause { env, actor },
                    _ => Delivery::Resume { env, actor },
                })
            }
            Event::Maintain => Some(Delivery::Maintain),
            Event::Redeliver { pick } => {
                let n = self.history.len();
                (n > 0).then(|| self.history[usize::from(pick) % n].0.clone())
            }
            Event::Wait { .. } => None,
            Event::MoveTag {
                service,
                version: v,
            } => {
                let repo = format!("acme/{}", service_name(service));
                *self.ports.world().pushes.entry((repo, v)).or_insert(0) += 1;
                None
            }
            Event::World {
                migrations_fail,
                unhealthy,
            } => {
                let mut w = self.ports.world();
                w.migrations_fail = migrations_fail;
                w.unhealthy = unhealthy;
                None
            }
        }
    }

    /// Delivers `d` with `fault`; a death is retried later by the event's source where it
    /// retries (Lambda's async invoke and EventBridge do; Slack and Discord do not: a person
    /// types the command again, which is a new event).
    async fn deliver_recorded(&mut self, d: Delivery, fault: Fault) -> Answer {
        let answer = self.deliver(&d, fault).await;
        if answer == Answer::Crashed {
            self.last_crash = Some(self.ports.now());
            match &d {
                Delivery::Work(work) => {
                    let mut w = self.ports.world();
                    w.queue.push(crate::world::Queued {
                        work: work.clone(),
                        attempts: 1,
                        not_before: None,
                    });
                }
                Delivery::Ecs { .. } | Delivery::Alarm(_) | Delivery::Build(_) => {
                    self.retries.push(d.clone());
                }
                Delivery::Maintain
                | Delivery::Deploy(_)
                | Delivery::Decide { .. }
                | Delivery::Rollback { .. }
                | Delivery::Lock { .. }
                | Delivery::Unlock { .. }
                | Delivery::Pause { .. }
                | Delivery::Resume { .. } => {}
            }
        }
        self.history.push((d, answer.clone()));
        answer
    }

    /// Delivers `d` as step `index` (with `twice` and the redelivery checks) and checks every
    /// invariant after it; returns the trace line.
    async fn deliver_checked(
        &mut self,
        index: usize,
        d: Delivery,
        fault: Fault,
        redelivered: Option<Answer>,
    ) -> String {
        self.chat_down = fault.chat_down;
        let before = self.before().await;
        let updates = self.ports.world().updates.len();
        let cards_before = self.ports.world().cards.len();
        let is_maintenance = matches!(d, Delivery::Maintain);
        // Dispatched work is addressed to a deployment, not an event: when the same work was
        // dispatched again since (an approval queues the `RunDeployment` a stale copy also
        // carries), a redelivery of the old copy is that work arriving early.
        let queued_again = matches!(&d, Delivery::Work(w)
            if self.ports.world().queue.iter().any(|q| &q.work == w));
        let mut line = String::new();
        let mut found = Vec::new();
        match fault.twice {
            Twice::Concurrently => {
                self.ports.arm(Fault {
                    crash_after: None,
                    ..fault
                });
                let both = join_all([Box::pin(self.handle(&d)), Box::pin(self.handle(&d))]).await;
                self.ports.disarm();
                for out in both {
                    let answer = match out {
                        Ok(s) => Answer::Ok(s),
                        Err(e) => Answer::Refused(e),
                    };
                    line.push_str(&format!(" → {answer:?}"));
                    self.history.push((d.clone(), answer));
                }
            }
            Twice::After | Twice::No => {
                let answer = self.deliver_recorded(d.clone(), fault).await;
                line.push_str(&format!(" → {answer:?}"));
                if fault.twice == Twice::After {
                    let once = self.observe(true).await;
                    let again = self.deliver_recorded(d.clone(), Fault::default()).await;
                    line.push_str(&format!(" → again {again:?}"));
                    let twice = self.observe(true).await;
                    if answer != Answer::Crashed && !is_maintenance && once != twice {
                        found.push(Violation {
                            invariant: 8,
                            kind: "8-twice-differs",
                            step: index,
                            detail: format!(
                                "delivering {d:?} a second time changed the store: {}",
                                difference(&once, &twice)
                            ),
                        });
                    }
                }
            }
        }
        if let Some(Answer::Ok(_) | Answer::Refused(_)) = &redelivered
            && !is_maintenance
        {
            let after = self.observe(false).await;
            // A delivery that crashed since the first one may have left work undone (a step
            // under its lease, a health check after a saved state): a redelivery that performs
            // it resumes lost work, which is right (invariant 9 checks nothing happens twice).
            // (Deliveries compare by what they print: their requests have no `PartialEq`.)
            let same = format!("{d:?}");
            let first = self
                .history
                .iter()
                .position(|(h, _)| format!("{h:?}") == same);
            // An ECS event that was not ours at first (its step had died before recording the
            // ECS deployment) may be ours once the resumed step found its rollout again: acting
            // on it then is its first effect.
            let not_ours_then = matches!(&redelivered, Some(Answer::Ok(s)) if s == "not ours");
            let crashed_since = not_ours_then
                || queued_again
                || first
                    .is_some_and(|i| self.history[i..].iter().any(|(_, a)| *a == Answer::Crashed));
            let made = after.deployments.len() > before.deployments.len() && !crashed_since;
            let new_updates = self.ports.world().updates.len() > updates && !crashed_since;
            let new_cards = self.ports.world().cards.len() > cards_before && !crashed_since;
            if made || new_updates || new_cards {
                found.push(Violation {
                    invariant: 8,
                    kind: "8-redelivery-acts",
                    step: index,
                    detail: format!(
                        "a redelivery of {d:?}, whose first delivery ran to its end, {}",
                        [
                            made.then_some("created a deployment"),
                            new_updates.then_some("sent UpdateService"),
                            new_cards.then_some("posted a card"),
                        ]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" and ")
                    ),
                });
            }
        }
        // A maintenance run that died half-way is not one the invariants can lean on: the
        // next tick's is.
        let crashed = self
            .history
            .last()
            .is_some_and(|(_, a)| *a == Answer::Crashed);
        self.check(index, &before, updates, is_maintenance && !crashed, found)
            .await;
        line
    }

    /// The scheduled tick at the current time: the sources' retries of what died, Lambda
    /// running the work queued for it, and maintenance.
    async fn tick(&mut self, index: usize) {
        let now = self.ports.now();
        for d in std::mem::take(&mut self.retries) {
            let line = self
                .deliver_checked(index, d.clone(), Fault::default(), None)
                .await;
            self.trace.push(format!("     {now} retry {d:?}{line}"));
        }
        loop {
            let queued = {
                let mut w = self.ports.world();
                let due = w.queue.iter().position(|q| q.due(now));
                due.map(|i| w.queue.remove(i))
            };
            let Some(q) = queued else { break };
            let line = self
                .deliver_checked(
                    index,
                    Delivery::Work(q.work.clone()),
                    Fault::default(),
                    None,
                )
                .await;
            self.trace
                .push(format!("     {now} run {:?}{line}", q.work));
        }
        let line = self
            .deliver_checked(index, Delivery::Maintain, Fault::default(), None)
            .await;
        self.trace.push(format!("     {now} maintenance{line}"));
    }

    /// Time passes, with the 5-minute schedule ticking on the way; a wait longer than an hour
    /// is a clock jump, during which nothing ran.
    async fn wait(&mut self, index: usize, minutes: u16) {
        let until = self.ports.now() + jiff::SignedDuration::from_mins(i64::from(minutes));
        if minutes > 60 {
            self.ports.set_now(until);
            self.next_tick = until + TICK;
            return;
        }
        while self.next_tick <= until {
            self.ports.set_now(self.next_tick);
            self.next_tick += TICK;
            self.tick(index).await;
        }
        self.ports.set_now(until);
    }

    /// Runs one step and checks every invariant after it.
    pub async fn step(&mut self, index: usize, step: Step) {
        self.trace.push(format!("{:>3}. {step:?}", index + 1));
        let at = self.trace.len() - 1;
        if let Event::Wait { minutes } = step.event {
            return self.wait(index, minutes).await;
        }
        let redelivered = match step.event {
            Event::Redeliver { pick } if !self.history.is_empty() => {
                let n = self.history.len();
                Some(self.history[usize::from(pick) % n].1.clone())
            }
            _ => None,
        };
        let before = self.before().await;
        let updates = self.ports.world().updates.len();
        let resolved = self.resolve(step.event, &before);
        // `deliver_checked` takes its own "before": the same, since nothing ran in between.
        self.last = Some(before.clone());
        match resolved {
            Some(d) => {
                let line = self
                    .deliver_checked(index, d, step.fault, redelivered)
                    .await;
                self.trace[at].push_str(&line);
            }
            // Nothing was delivered: the store is as it was, the world may not be.
            None => {
                self.last = None;
                self.check_with(index, &before, before.clone(), updates, false, Vec::new());
            }
        }
    }

    async fn check(
        &mut self,
        index: usize,
        before: &Observed,
        updates: usize,
        after_maintenance: bool,
        found: Vec<Violation>,
    ) {
        let after = self.observe(after_maintenance).await;
        self.check_with(index, before, after, updates, after_maintenance, found);
    }

    fn check_with(
        &mut self,
        index: usize,
        before: &Observed,
        after: Observed,
        updates: usize,
        after_maintenance: bool,
        found: Vec<Violation>,
    ) {
        let mut found = found;
        found.extend(self.judge(index, updates, after_maintenance, |cx| {
            check::check(cx, before, &after)
        }));
        self.last = Some(after);
        self.record(found);
    }

    /// Runs `checks` in the context of step `index`.
    fn judge<T>(
        &self,
        index: usize,
        updates: usize,
        after_maintenance: bool,
        checks: impl FnOnce(&Context<'_>) -> T,
    ) -> T {
        let world = self.ports.world();
        checks(&Context {
            config: &self.config,
            world: &world,
            now: self.ports.now(),
            step: index,
            new_updates: updates,
            after_maintenance,
            last_crash: self.last_crash,
            chat_up: !self.chat_down,
        })
    }

    /// Keeps the first violation of each kind.
    fn record(&mut self, found: Vec<Violation>) {
        for v in found {
            if !self.violations.iter().any(|o| o.kind == v.kind) {
                self.trace.push(format!("     ✗ {v}"));
                self.violations.push(v);
            }
        }
    }

    /// After the last step: ECS finishes everything under way and the schedule ticks on (its
    /// retries, queued work, maintenance) for half an hour. Then nothing may be left half done.
    pub async fn drain(&mut self, from: usize) {
        let index = from;
        self.trace.push(format!("{:>3}. (drain)", index + 1));
        for n in 0..DRAIN_TICKS_MAX {
            if n >= DRAIN_TICKS && self.settled().await {
                break;
            }
            let under_way = self.ports.world().in_progress();
            for id in under_way {
                let outcome = self.ports.world().finish(&id, true);
                if let Some(outcome) = outcome {
                    let ecs = Delivery::Ecs {
                        id: id.clone(),
                        outcome,
                    };
                    let line = self
                        .deliver_checked(index, ecs, Fault::default(), None)
                        .await;
                    self.trace.push(format!("     ECS finished {id}{line}"));
                }
            }
            let next = self.next_tick;
            self.ports.set_now(next);
            self.next_tick += TICK;
            self.tick(index).await;
        }
        let after = self.observe(true).await;
        let updates = self.ports.world().updates.len();
        let found = self.judge(index, updates, true, |cx| check::drained(cx, &after));
        self.record(found);
    }

    /// Whether a drain has nothing left to wait for: no ECS deployment under way, no work
    /// queued, no deployment in flight.
    async fn settled(&self) -> bool {
        let idle = {
            let w = self.ports.world();
            w.in_progress().is_empty() && w.queue.is_empty()
        };
        idle && self
            .observe(false)
            .await
            .deployments
            .iter()
            .all(|d| d.state.is_terminal() || d.state == State::PendingApproval)
    }

    /// Runs `steps`, then drains.
    pub async fn run(&mut self, steps: &[Step]) {
        for (i, s) in steps.iter().enumerate() {
            self.step(i, *s).await;
        }
        self.drain(steps.len()).await;
    }
}

/// A short account of how two observations differ, for an invariant-8 report.
fn difference(a: &Observed, b: &Observed) -> String {
    let mut out = Vec::new();
    if a.deployments.len() != b.deployments.len() {
        out.push(format!(
            "{} deployments became {}",
            a.deployments.len(),
            b.deployments.len()
        ));
    }
    for d in &b.deployments {
        match a.deployment(d.id) {
            Some(old) if old != d => out.push(format!(
                "deployment {} went {} → {} (revision {} → {})",
                d.id,
                old.state.name(),
                d.state.name(),
                old.revision,
                d.revision
            )),
            _ => {}
        }
    }
    if a.releases != b.releases {
        out.push("releases changed".into());
    }
    if a.locks != b.locks {
        out.push(format!("locks {:?} became {:?}", a.locks, b.locks));
    }
    if a.holds != b.holds {
        out.push("holds changed".into());
    }
    if a.cards != b.cards {
        out.push("card references changed".into());
    }
    out.join("; ")
}
