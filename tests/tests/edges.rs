//! Every edge is total: each sample event in `events/`, mutated leaf by leaf — any field replaced
//! by an arbitrary string (multi-byte ones included), number, null, array, object or deep
//! nesting, or removed; strings that hold JSON (an SNS `Message`) mutated inside too — and
//! arbitrary JSON besides, goes through every parser a Deckhand function or the bot's build
//! hooks run. Each answers `Ok` or a refusal that names the event's id; none panics.
//!
//! Every parser sees every event, not only its own: a misrouted rule delivers anything anywhere.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed setup should fail loudly

use axum::http::{HeaderMap, HeaderValue};
use deckhand_aws::events::{self, BackupEvent, DeployEvent, EventError};
use deckhand_core::config::Config;
use proptest::prelude::*;
use serde_json::Value;

/// One step on the way to a node: a field, an element, or into a string that holds JSON.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Element(usize),
    Embedded,
}

#[derive(Debug, Clone)]
enum Mutation {
    Replace(Value),
    Remove,
}

fn config() -> Config {
    let text = include_str!("../../infra/deckhand.example.toml");
    Config::parse("example", text).unwrap()
}

fn sample(name: &str) -> Value {
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Every node's path, the root's (empty) first.
fn paths(v: &Value, at: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                at.push(Step::Field(k.clone()));
                paths(child, at, out);
                at.pop();
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                at.push(Step::Element(i));
                paths(child, at, out);
                at.pop();
            }
        }
        Value::String(s) => {
            if let Ok(inner @ (Value::Object(_) | Value::Array(_))) = serde_json::from_str(s) {
                at.push(Step::Embedded);
                paths(&inner, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

/// `v` with `m` applied at `path` (a path that no longer exists, after an earlier mutation,
/// changes nothing).
fn apply(v: &mut Value, path: &[Step], m: &Mutation) {
    let Some((first, rest)) = path.split_first() else {
        if let Mutation::Replace(new) = m {
            *v = new.clone();
        } else {
            *v = Value::Null;
        }
        return;
    };
    match (first, v) {
        (Step::Field(k), Value::Object(map)) => {
            if rest.is_empty() && matches!(m, Mutation::Remove) {
                map.remove(k);
            } else if let Some(child) = map.get_mut(k) {
                apply(child, rest, m);
            }
        }
        (Step::Element(i), Value::Array(a)) => {
            if rest.is_empty() && matches!(m, Mutation::Remove) && *i < a.len() {
                a.remove(*i);
            } else if let Some(child) = a.get_mut(*i) {
                apply(child, rest, m);
            }
        }
        (Step::Embedded, Value::String(s)) => {
            if let Ok(mut inner) = serde_json::from_str::<Value>(s) {
                apply(&mut inner, rest, m);
                *s = inner.to_string();
            }
        }
        _ => {}
    }
}

/// Arbitrary JSON: every kind of leaf, strings of any characters (and ones made to break byte
/// arithmetic), arrays and objects, and nesting deeper than any event has.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".*".prop_map(Value::from),
        "[é€😀+0-9:.TZ-]{0,12}".prop_map(Value::from),
        Just(Value::from("x".repeat(5_000))),
    ];
    let nested = leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    prop_oneof![
        9 => nested,
        1 => (1usize..200).prop_map(|depth| {
            (0..depth).fold(Value::from("deep"), |v, _| Value::Array(vec![v]))
        }),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => json().prop_map(Mutation::Replace),
        1 => Just(Mutation::Remove),
    ]
}

/// Where the functions read an event's id from; a mutation there may change the id.
fn touches_id(path: &[Step]) -> bool {
    const ID_PATHS: [&[&str]; 7] = [
        &["id"],
        &["Records", "0", "Sns", "MessageId"],
        &["execution_id"],
        &["key"],
        &["alarmArn"],
        &["alarmData", "state", "timestamp"],
        &["time"],
    ];
    let names: Vec<String> = path
        .iter()
        .map(|s| match s {
            Step::Field(f) => f.clone(),
            Step::Element(i) => i.to_string(),
            Step::Embedded => "…".into(),
        })
        .collect();
    // The root, an ancestor of an id field, the field itself, or anything under it; and the
    // SNS records (removing one moves the next into first place).
    names.first().is_some_and(|f| f == "Records")
        || ID_PATHS.iter().any(|id| {
            let n = names.len().min(id.len());
            names[..n].iter().zip(&id[..n]).all(|(a, b)| a == b)
        })
}

/// Runs every parser on `event`; each refusal must name `id` (when `id` is known to be the
/// event's), and none may panic.
fn every_parser(event: &Value, id: Option<&str>, config: &Config) {
    let named = |e: &EventError| {
        assert!(!e.id.is_empty(), "{e}");
        assert!(!e.why.is_empty(), "{e}");
        if let Some(id) = id {
            assert_eq!(e.id, id, "{e}");
        }
    };
    match events::alarm_changes(event) {
        Ok(changes) => changes
            .iter()
            .filter_map(|c| c.as_ref().err())
            .for_each(named),
        Err(e) => named(&e),
    }
    if let Err(e) = DeployEvent::parse(event) {
        named(&e);
    }
    if let Err(e) = BackupEvent::parse(event) {
        named(&e);
    }
    if let Err(e) = events::codebuild_build(event, config) {
        named(&e);
    }
    // The build hooks answer a reason, never an id: the HTTP request is the caller's.
    let body = event.to_string();
    let mut github = HeaderMap::new();
    github.insert("x-github-event", HeaderValue::from_static("workflow_run"));
    for answer in [
        deckhand_bot::router::github_build(config, &github, body.as_bytes()),
        deckhand_bot::router::gitlab_build(config, body.as_bytes()),
        deckhand_bot::router::generic_build(body.as_bytes()),
    ] {
        if let Err(why) = answer {
            assert!(!why.is_empty());
        }
    }
}

fn mutated_sample(name: &'static str) -> impl Strategy<Value = (Value, bool)> {
    let original = sample(name);
    let mut all = Vec::new();
    paths(&original, &mut Vec::new(), &mut all);
    prop::collection::vec((0..all.len(), mutation()), 1..4).prop_map(move |ms| {
        let mut v = original.clone();
        let mut touched = false;
        for (i, m) in &ms {
            apply(&mut v, &all[*i], m);
            touched |= touches_id(&all[*i]);
        }
        (v, touched)
    })
}

macro_rules! total_over {
    ($($test:ident: $file:literal),* $(,)?) => {
        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
            $(
                #[test]
                fn $test((event, touched) in mutated_sample($file)) {
                    let original = events::event_id(&sample($file));
                    let id = (!touched).then_some(original.as_str());
                    every_parser(&event, id, &config());
                }
            )*
        }
    };
}

total_over! {
    an_eventbridge_alarm_mutated_anywhere_is_read_or_refused_by_id: "cloudwatch-alarm-state-change.json",
    an_sns_alarm_mutated_anywhere_is_read_or_refused_by_id: "cloudwatch-alarm-sns.json",
    a_direct_lambda_alarm_mutated_anywhere_is_read_or_refused_by_id: "cloudwatch-alarm-lambda-action.json",
    a_codebuild_state_change_mutated_anywhere_is_read_or_refused_by_id: "codebuild-build-succeeded.json",
    a_codebuild_phase_change_mutated_anywhere_is_read_or_refused_by_id: "codebuild-build-phase-change.json",
    an_ecs_completion_mutated_anywhere_is_read_or_refused_by_id: "ecs-deployment-completed.json",
    an_ecs_failure_mutated_anywhere_is_read_or_refused_by_id: "ecs-deployment-failed.json",
    an_ecs_progress_mutated_anywhere_is_read_or_refused_by_id: "ecs-deployment-in-progress.json",
    a_backup_firing_mutated_anywhere_is_read_or_refused_by_id: "scheduler-backup.json",
    a_maintenance_firing_mutated_anywhere_is_read_or_refused_by_id: "scheduler-maintenance.json",
    a_scheduled_rule_mutated_anywhere_is_read_or_refused_by_id: "eventbridge-scheduled-event.json",
    dispatched_deploy_work_mutated_anywhere_is_read_or_refused_by_id: "dispatch-run-deployment.json",
    dispatched_backup_work_mutated_anywhere_is_read_or_refused_by_id: "dispatch-run-backup.json",
    a_github_run_mutated_anywhere_is_read_or_refused: "github-workflow-run.json",
    a_gitlab_pipeline_mutated_anywhere_is_read_or_refused: "gitlab-pipeline.json",
}

/// Values that break parsers written with bytes in mind, types in mind, or depth in mind.
fn nasty() -> Vec<Mutation> {
    let deep = (0..150).fold(Value::from("deep"), |v, _| Value::Array(vec![v]));
    [
        Value::from(""),
        Value::from("é"),
        Value::from("ééééé"),
        Value::from("😀😀😀😀😀😀"),
        Value::from("2026-11-24T10:05:00.123+00é"),
        Value::from("+0000"),
        Value::from("x".repeat(100_000)),
        Value::from(0),
        Value::from(-1),
        Value::from(1.5),
        Value::from(i64::MAX),
        Value::Null,
        Value::Bool(true),
        Value::Array(vec![]),
        Value::Object(serde_json::Map::new()),
        deep,
    ]
    .into_iter()
    .map(Mutation::Replace)
    .chain([Mutation::Remove])
    .collect()
}

/// Exhaustive where the random search is thin: every node of every sample, one at a time,
/// replaced by each nasty value or removed.
#[test]
fn every_node_of_every_sample_replaced_by_each_nasty_value_is_read_or_refused_by_id() {
    let config = config();
    let dir = format!("{}/../events", env!("CARGO_MANIFEST_DIR"));
    let mut runs = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if !name.ends_with(".json") {
            continue;
        }
        let original = sample(&name);
        let id = events::event_id(&original);
        let mut all = Vec::new();
        paths(&original, &mut Vec::new(), &mut all);
        for path in &all {
            for m in nasty() {
                let mut v = original.clone();
                apply(&mut v, path, &m);
                let known = (!touches_id(path)).then_some(id.as_str());
                every_parser(&v, known, &config);
                runs += 1;
            }
        }
    }
    assert!(runs > 5_000, "{runs} mutated events: the samples were read");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_is_refused_by_its_lenient_id(event in json()) {
        let id = events::event_id(&event);
        every_parser(&event, Some(&id), &config());
    }
}

/// The mutator reaches what it claims: a field inside an SNS message's embedded JSON, and the
/// multi-byte alarm time that once panicked the rollback function.
#[test]
fn the_mutator_reaches_inside_embedded_json_and_finds_the_old_panic() {
    let sns = sample("cloudwatch-alarm-sns.json");
    let mut all = Vec::new();
    paths(&sns, &mut Vec::new(), &mut all);
    let time = all
        .iter()
        .find(|p| p.last() == Some(&Step::Field("StateChangeTime".into())))
        .expect("the embedded alarm's time is a path");
    let mut v = sns.clone();
    apply(&mut v, time, &Mutation::Replace(Value::from("ééééé")));
    let changes = events::alarm_changes(&v).unwrap();
    let refused = changes[0].as_ref().unwrap_err();
    assert_eq!(refused.id, "95df01b4-ee98-5cb9-9903-4c221d41eb5e");
    assert!(refused.why.contains("unreadable timestamp"), "{refused}");
}
