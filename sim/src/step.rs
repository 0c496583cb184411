//! The simulation's alphabet: every input the engine meets, and the faults around it.
//!
//! A [`Step`] is plain data that prints as the Rust that builds it and reads back from that
//! form: a shrunk failing sequence is kept as text in `sim/tests/regressions.txt`.
//! Steps name things by small indices (`pick`) that are resolved against the state when the step
//! runs, so a sequence stays meaningful when the shrinker removes steps from it.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

use crate::rng::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub enum Env {
    Staging,
    Prod,
}

/// The people of the simulation's config. Bob and Carol approve prod; Alice and Dave deploy;
/// Mallory is in no group at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub enum Who {
    Alice,
    Bob,
    Carol,
    Dave,
    Mallory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub enum Svc {
    Worker,
    Api,
    Web,
}

impl Svc {
    pub const ALL: [Svc; 3] = [Svc::Worker, Svc::Api, Svc::Web];
}

/// A set of services, as bits (1 worker, 2 api, 4 web); empty means api.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Svcs(pub u8);

impl Svcs {
    pub fn list(self) -> Vec<Svc> {
        let picked: Vec<Svc> = Svc::ALL
            .into_iter()
            .enumerate()
            .filter(|(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, s)| s)
            .collect();
        if picked.is_empty() {
            vec![Svc::Api]
        } else {
            picked
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub enum AlarmName {
    ApiProd5xx,
    ApiProdLatency,
    WebProdErrors,
    ApiStaging5xx,
}

impl AlarmName {
    pub const ALL: [AlarmName; 4] = [
        AlarmName::ApiProd5xx,
        AlarmName::ApiProdLatency,
        AlarmName::WebProdErrors,
        AlarmName::ApiStaging5xx,
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Outcome {
    Completed,
    /// The deployment circuit breaker stopped it and ECS rolled the service back itself.
    CircuitBreaker,
}

/// One input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Event {
    /// `/deploy ENV SERVICES v1.0.VERSION`.
    Deploy {
        env: Env,
        services: Svcs,
        version: u8,
        who: Who,
    },
    /// `/deploy ENV SERVICES v1.0.VERSION --override "reason"`: past a freeze, a hold or a
    /// digest judged bad, for one more approval.
    DeployOverriding {
        env: Env,
        services: Svcs,
        version: u8,
        who: Who,
    },
    /// An Approve click on one of the deployments (`pick` among those pending approval).
    Approve {
        pick: u8,
        who: Who,
    },
    Reject {
        pick: u8,
        who: Who,
    },
    /// Lambda runs one piece of dispatched work (`pick` among those not yet run).
    Work {
        pick: u8,
    },
    /// ECS finishes one of its deployments under way; `report: false` loses the event.
    Ecs {
        pick: u8,
        outcome: Outcome,
        report: bool,
    },
    /// An alarm changes state (OK ↔ ALARM). `reason` picks the reason text; CloudWatch
    /// repeats them, so most transitions share one.
    Alarm {
        alarm: AlarmName,
        reason: u8,
    },
    /// A build of `main` finished: staging auto-deploys api and web.
    Build {
        service: Svc,
        version: u8,
    },
    /// `/rollback ENV SERVICES [to v1.0.N]`.
    Rollback {
        env: Env,
        services: Svcs,
        to: Option<u8>,
        who: Who,
    },
    Lock {
        env: Env,
        who: Who,
    },
    Unlock {
        env: Env,
        who: Who,
    },
    /// `/pause ENV` and `/resume ENV`: automation stops and starts again.
    Pause {
        env: Env,
        who: Who,
    },
    Resume {
        env: Env,
        who: Who,
    },
    /// The scheduled maintenance (bake check, lost work).
    Maintain,
    /// Any earlier delivery, delivered again (`pick` among all so far).
    Redeliver {
        pick: u8,
    },
    /// Time passes; a large value is a clock jump.
    Wait {
        minutes: u16,
    },
    /// Someone pushes a new image under an existing tag.
    MoveTag {
        service: Svc,
        version: u8,
    },
    /// The world turns: migrations fail or not, health checks fail or not.
    World {
        migrations_fail: bool,
        unhealthy: bool,
    },
}

/// How a delivery goes besides its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fault {
    /// The handler dies right after its Nth port call; the rest of it never happens.
    pub crash_after: Option<u8>,
    /// Slack and Discord answer every call with an error.
    pub chat_down: bool,
    pub twice: Twice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Twice {
    #[default]
    No,
    /// Delivered again right after the first delivery finished.
    After,
    /// Delivered twice at once.
    Concurrently,
}

/// One step of a sequence.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub event: Event,
    pub fault: Fault,
}

/// A step without faults; add them with [`Step::crash_after`], [`Step::chat_down`],
/// [`Step::twice`] and [`Step::concurrently`].
pub const fn step(event: Event) -> Step {
    Step {
        event,
        fault: Fault {
            crash_after: None,
            chat_down: false,
            twice: Twice::No,
        },
    }
}

impl Step {
    pub const fn crash_after(mut self, calls: u8) -> Self {
        self.fault.crash_after = Some(calls);
        self
    }
    pub const fn chat_down(mut self) -> Self {
        self.fault.chat_down = true;
        self
    }
    pub const fn twice(mut self) -> Self {
        self.fault.twice = Twice::After;
        self
    }
    pub const fn concurrently(mut self) -> Self {
        self.fault.twice = Twice::Concurrently;
        self
    }
}

/// Prints as the Rust that builds it.
impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step({:?})", self.event)?;
        if let Some(n) = self.fault.crash_after {
            write!(f, ".crash_after({n})")?;
        }
        if self.fault.chat_down {
            write!(f, ".chat_down()")?;
        }
        match self.fault.twice {
            Twice::No => {}
            Twice::After => write!(f, ".twice()")?,
            Twice::Concurrently => write!(f, ".concurrently()")?,
        }
        Ok(())
    }
}

/// Reads a step back from the form it prints in (`step(Ecs { pick: 7, outcome: Completed,
/// report: true }).crash_after(9)`), as kept in `sim/tests/regressions.txt`.
impl FromStr for Step {
    type Err = String;

    fn from_str(text: &str) -> Result<Step, String> {
        let text = text.trim();
        let rest = text
            .strip_prefix("step(")
            .ok_or_else(|| format!("`{text}`: a step starts with `step(`"))?;
        // The event's own parentheses are `Svcs(n)` and `Some(n)`: the first `)` with none
        // open closes `step(`.
        let mut depth = 0;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                depth += i32::from(c == '(') - i32::from(c == ')');
                depth < 0
            })
            .map(|(i, _)| i)
            .ok_or_else(|| format!("`{text}`: no `)` closes `step(`"))?;
        let event = serde_json::from_value(event_value(&rest[..end])?)
            .map_err(|e| format!("`{text}`: {e}"))?;
        let mut out = step(event);
        for call in rest[end + 1..]
            .split('.')
            .map(str::trim)
            .filter(|c| !c.is_empty())
        {
            out = match call {
                "chat_down()" => out.chat_down(),
                "twice()" => out.twice(),
                "concurrently()" => out.concurrently(),
                _ => {
                    let calls = call
                        .strip_prefix("crash_after(")
                        .and_then(|n| n.strip_suffix(')'))
                        .and_then(|n| n.parse().ok())
                        .ok_or_else(|| format!("`{text}`: unknown fault `{call}`"))?;
                    out.crash_after(calls)
                }
            };
        }
        Ok(out)
    }
}

/// An event's `Debug` form (`Build { service: Api, version: 1 }`, `Maintain`) as the JSON
/// serde reads an externally tagged enum from.
fn event_value(text: &str) -> Result<serde_json::Value, String> {
    use serde_json::Value;
    let text = text.trim();
    let Some((name, fields)) = text.split_once('{') else {
        return Ok(Value::String(text.to_owned()));
    };
    let fields = fields
        .trim()
        .strip_suffix('}')
        .ok_or_else(|| format!("`{text}`: no `}}` closes the event"))?;
    let mut map = serde_json::Map::new();
    for field in fields.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        let (key, raw) = field
            .split_once(':')
            .ok_or_else(|| format!("`{field}` is not `name: value`"))?;
        // `Svcs(6)` and `Some(3)` are their number; `None` is null.
        let raw = raw.trim();
        let inner = raw
            .strip_prefix("Svcs(")
            .or_else(|| raw.strip_prefix("Some("))
            .and_then(|r| r.strip_suffix(')'))
            .unwrap_or(raw);
        let value = match inner {
            "None" => Value::Null,
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => match inner.parse::<u64>() {
                Ok(n) => Value::from(n),
                Err(_) => Value::String(inner.to_owned()),
            },
        };
        map.insert(key.trim().to_owned(), value);
    }
    let mut event = serde_json::Map::new();
    event.insert(name.trim().to_owned(), Value::Object(map));
    Ok(Value::Object(event))
}

/// The highest version number the simulation deploys: few enough that versions meet again
/// (promotion, rebuilds, rollbacks to a named version).
pub const VERSIONS: u8 = 4;

fn who(rng: &mut Rng, deployer_bias: bool) -> Who {
    // Those who deploy are mostly Alice and Dave; those who decide, Bob and Carol.
    let [alice, bob, carol, dave] = if deployer_bias {
        [40, 15, 10, 30]
    } else {
        [10, 40, 35, 10]
    };
    rng.weighted(&[
        (alice, Who::Alice),
        (bob, Who::Bob),
        (carol, Who::Carol),
        (dave, Who::Dave),
        (5, Who::Mallory),
    ])
}

fn env(rng: &mut Rng) -> Env {
    if rng.chance(55) {
        Env::Prod
    } else {
        Env::Staging
    }
}

fn services(rng: &mut Rng) -> Svcs {
    // Mostly api alone, where the alarms are; sometimes several at once.
    Svcs(rng.weighted(&[(60, 2), (10, 4), (10, 1), (10, 6), (10, 7)]))
}

fn version(rng: &mut Rng) -> u8 {
    rng.range(1, u64::from(VERSIONS)) as u8
}

#[derive(Clone, Copy)]
enum Kind {
    Deploy,
    DeployOverriding,
    Approve,
    Reject,
    Work,
    Ecs,
    Alarm,
    Build,
    Rollback,
    Lock,
    Unlock,
    Pause,
    Resume,
    Maintain,
    Redeliver,
    Wait,
    MoveTag,
    World,
}

/// A random event, weighted towards the inputs that move deployments along.
pub fn random_event(rng: &mut Rng) -> Event {
    let kind = rng.weighted(&[
        (10, Kind::Deploy),
        (2, Kind::DeployOverriding),
        (10, Kind::Approve),
        (2, Kind::Reject),
        (14, Kind::Work),
        (13, Kind::Ecs),
        (8, Kind::Alarm),
        (4, Kind::Build),
        (3, Kind::Rollback),
        (2, Kind::Lock),
        (2, Kind::Unlock),
        (1, Kind::Pause),
        (2, Kind::Resume),
        (6, Kind::Maintain),
        (6, Kind::Redeliver),
        (16, Kind::Wait),
        (1, Kind::MoveTag),
        (1, Kind::World),
    ]);
    match kind {
        Kind::Deploy => Event::Deploy {
            env: env(rng),
            services: services(rng),
            version: version(rng),
            who: who(rng, true),
        },
        Kind::DeployOverriding => Event::DeployOverriding {
            env: env(rng),
            services: services(rng),
            version: version(rng),
            who: who(rng, true),
        },
        Kind::Approve => Event::Approve {
            pick: rng.byte(),
            who: who(rng, false),
        },
        Kind::Reject => Event::Reject {
            pick: rng.byte(),
            who: who(rng, false),
        },
        Kind::Work => Event::Work { pick: rng.byte() },
        Kind::Ecs => Event::Ecs {
            pick: rng.byte(),
            outcome: if rng.chance(80) {
                Outcome::Completed
            } else {
                Outcome::CircuitBreaker
            },
            report: rng.chance(85),
        },
        Kind::Alarm => Event::Alarm {
            alarm: rng.weighted(&[
                (55, AlarmName::ApiProd5xx),
                (15, AlarmName::ApiProdLatency),
                (15, AlarmName::WebProdErrors),
                (15, AlarmName::ApiStaging5xx),
            ]),
            reason: u8::from(rng.chance(20)),
        },
        Kind::Build => Event::Build {
            service: rng.weighted(&[(60, Svc::Api), (30, Svc::Web), (10, Svc::Worker)]),
            version: version(rng),
        },
        Kind::Rollback => Event::Rollback {
            env: env(rng),
            services: services(rng),
            to: rng.chance(30).then(|| version(rng)),
            who: who(rng, true),
        },
        Kind::Lock | Kind::Unlock | Kind::Pause | Kind::Resume => {
            let (env, who) = (env(rng), who(rng, true));
            match kind {
                Kind::Lock => Event::Lock { env, who },
                Kind::Unlock => Event::Unlock { env, who },
                Kind::Pause => Event::Pause { env, who },
                _ => Event::Resume { env, who },
            }
        }
        Kind::Maintain => Event::Maintain,
        Kind::Redeliver => Event::Redeliver { pick: rng.byte() },
        Kind::Wait => Event::Wait {
            minutes: match rng.below(100) {
                0..=69 => rng.range(1, 10),
                70..=94 => rng.range(11, 45),
                _ => rng.range(60, 600),
            } as u16,
        },
        Kind::MoveTag => Event::MoveTag {
            service: rng.weighted(&[(60, Svc::Api), (20, Svc::Web), (20, Svc::Worker)]),
            version: version(rng),
        },
        Kind::World => Event::World {
            migrations_fail: rng.chance(30),
            unhealthy: rng.chance(30),
        },
    }
}

/// A random step: an event, and now and then a fault around it.
pub fn random_step(rng: &mut Rng) -> Step {
    let event = random_event(rng);
    let delivers = !matches!(
        event,
        Event::Wait { .. } | Event::MoveTag { .. } | Event::World { .. }
    );
    let mut fault = Fault::default();
    if delivers {
        if rng.chance(8) {
            fault.crash_after = Some(rng.range(1, 12) as u8);
        }
        if rng.chance(5) {
            fault.chat_down = true;
        }
        fault.twice = match rng.below(100) {
            0..=4 => Twice::After,
            5..=8 if fault.crash_after.is_none() => Twice::Concurrently,
            _ => Twice::No,
        };
    }
    Step { event, fault }
}

/// A sequence of `len` random steps from `seed`.
pub fn random_sequence(seed: u64, min_len: usize, max_len: usize) -> Vec<Step> {
    let mut rng = Rng::new(seed);
    let len = rng.range(min_len as u64, max_len as u64) as usize;
    (0..len).map(|_| random_step(&mut rng)).collect()
}

pub use AlarmName::*;
pub use Env::*;
pub use Event::*;
pub use Outcome::*;
pub use Svc::*;
pub use Who::*;
