//! What `infra/` promises, checked on every `cargo test`.
//!
//! Least privilege in `infra/template.yaml`: no IAM statement allows a write action on every
//! resource (`"*"`) without a condition. Reads (`Describe*`, `List*`, `Get*`, …) may use `"*"`:
//! several AWS read APIs take no resource ARN at all. CI also runs cfn-lint on the template
//! (`.ci/run`). And the Slack manifest offers exactly the commands core understands.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed setup should fail loudly

use deckhand_core::usecases::{BACKUPS_MISSED, HEARTBEAT, MISCONFIGURED};
use serde_norway::Value;

const TEMPLATE: &str = include_str!("../../infra/template.yaml");

fn parse_template() -> Value {
    serde_norway::from_str(TEMPLATE).unwrap()
}

/// Verbs that only read. Anything else (or a wildcard action) is treated as a write.
const READ_VERBS: &[&str] = &[
    "Describe",
    "List",
    "Get",
    "BatchGet",
    "Query",
    "Scan",
    "Search",
    "Lookup",
    "Head",
    "Select",
    "ConditionCheck",
];

fn is_read(action: &str) -> bool {
    let Some((_, verb)) = action.split_once(':') else {
        return false; // "*"
    };
    !verb.contains('*') && READ_VERBS.iter().any(|r| verb.starts_with(r))
}

/// A CloudFormation value as a list of plain strings; an intrinsic (`!Ref`, `!Sub`, …) is
/// kept as its tag, which is never `"*"`.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(items) => items.iter().flat_map(strings).collect(),
        Value::Tagged(t) => vec![t.tag.to_string()],
        Value::Mapping(m) => m
            .keys()
            .filter_map(|k| k.as_str())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// Every IAM policy statement in the template: `(where, statement)`.
fn statements(template: &Value) -> Vec<(String, Value)> {
    let mut found = Vec::new();
    let resources = template["Resources"].as_mapping().unwrap();
    for (name, resource) in resources {
        let name = name.as_str().unwrap();
        let props = &resource["Properties"];
        let mut documents = Vec::new();
        match resource["Type"].as_str().unwrap_or("") {
            "AWS::IAM::Role" => {
                for p in props["Policies"].as_sequence().into_iter().flatten() {
                    documents.push(p["PolicyDocument"].clone());
                }
            }
            "AWS::IAM::ManagedPolicy" | "AWS::IAM::Policy" => {
                documents.push(props["PolicyDocument"].clone());
            }
            "AWS::Serverless::Function" => {
                // Inline statements given to SAM directly.
                for p in props["Policies"].as_sequence().into_iter().flatten() {
                    if p.get("Statement").is_some() {
                        documents.push(p.clone());
                    }
                }
            }
            _ => {}
        }
        for doc in documents {
            match &doc["Statement"] {
                Value::Sequence(list) => {
                    found.extend(list.iter().map(|s| (name.to_owned(), s.clone())));
                }
                s @ Value::Mapping(_) => found.push((name.to_owned(), s.clone())),
                _ => {}
            }
        }
    }
    found
}

/// Statements that allow a write on `"*"` with no condition, as "Resource/Sid: actions".
fn violations(template_text: &str) -> (usize, Vec<String>) {
    let template: Value = serde_norway::from_str(template_text).unwrap();
    let all = statements(&template);
    let mut bad = Vec::new();
    for (resource, s) in &all {
        if s["Effect"].as_str() != Some("Allow") || s.get("Condition").is_some() {
            continue;
        }
        let everything = strings(&s["Resource"]).iter().any(|r| r == "*");
        let writes: Vec<String> = strings(&s["Action"])
            .into_iter()
            .filter(|a| !is_read(a))
            .collect();
        let not_action = s.get("NotAction").is_some();
        if everything && (!writes.is_empty() || not_action) {
            let sid = s["Sid"].as_str().unwrap_or("(no Sid)");
            bad.push(format!("{resource}/{sid}: {}", writes.join(", ")));
        }
    }
    (all.len(), bad)
}

#[test]
fn no_write_action_is_allowed_on_every_resource_without_a_condition() {
    let (checked, bad) = violations(TEMPLATE);
    assert!(
        checked >= 25,
        "only {checked} statements found: is the template still being read?"
    );
    assert!(
        bad.is_empty(),
        "write actions on Resource \"*\" without a condition:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_check_fails_on_a_deliberately_widened_policy() {
    // UpdateService on every service in the account, instead of the named ones.
    let widened = TEMPLATE.replace(
        "Action: ecs:UpdateService\n                Resource: !Ref EcsServiceArns",
        "Action: ecs:UpdateService\n                Resource: \"*\"",
    );
    assert_ne!(
        widened, TEMPLATE,
        "the statement to widen moved; update this test"
    );
    let (_, bad) = violations(&widened);
    assert_eq!(
        bad,
        vec![
            "DeployRole/UpdateOnlyTheNamedServices: ecs:UpdateService",
            "RollbackRole/RollBackOnlyTheNamedServices: ecs:UpdateService",
        ]
    );

    // Dropping the condition that makes RegisterTaskDefinition's "*" acceptable.
    let unconditioned = TEMPLATE.replace(
        "                Condition:\n                  StringEquals: { \"aws:RequestTag/deckhand:managed\": \"true\" }\n",
        "",
    );
    assert_ne!(unconditioned, TEMPLATE);
    let (_, bad) = violations(&unconditioned);
    assert_eq!(
        bad,
        vec!["DeployRole/RegisterRevisionsMarkedAsDeckhands: ecs:RegisterTaskDefinition"]
    );

    // A wildcard action is a write, even next to reads.
    let wildcard = TEMPLATE.replace(
        "Action: [cloudwatch:DescribeAlarms, cloudwatch:ListTagsForResource]",
        "Action: [cloudwatch:DescribeAlarms, \"cloudwatch:*\"]",
    );
    assert_ne!(wildcard, TEMPLATE);
    let (_, bad) = violations(&wildcard);
    assert_eq!(bad, vec!["RollbackRole/AlarmStatesAndTags: cloudwatch:*"]);
}

#[test]
fn reads_are_told_apart_from_writes() {
    for read in [
        "ecs:DescribeServices",
        "rds:DescribeDBSnapshots",
        "cloudwatch:ListTagsForResource",
        "dynamodb:Query",
        "secretsmanager:GetSecretValue",
    ] {
        assert!(is_read(read), "{read}");
    }
    for write in [
        "ecs:UpdateService",
        "ecs:RegisterTaskDefinition",
        "iam:PassRole",
        "rds:DeleteDBSnapshot",
        "lambda:InvokeFunction",
        "ecs:Describe*",
        "*",
    ] {
        assert!(!is_read(write), "{write}");
    }
}

#[test]
fn the_slack_manifest_offers_every_command_core_knows_and_asks_for_no_more_scopes_than_used() {
    use deckhand_core::command::{DECLARED, summary, usage_of};
    let manifest: Value =
        serde_norway::from_str(include_str!("../../infra/slack-manifest.yaml")).unwrap();
    let commands = manifest["features"]["slash_commands"]
        .as_sequence()
        .unwrap();
    let names: Vec<&str> = commands
        .iter()
        .map(|c| c["command"].as_str().unwrap())
        .collect();
    // Every command, and the `/deckhand <command>` umbrella the README promises.
    let expected: Vec<String> = DECLARED.iter().map(|c| format!("/{c}")).collect();
    assert!(expected.contains(&"/deckhand".to_owned()));
    assert_eq!(names, expected);
    for c in commands {
        let name = c["command"].as_str().unwrap().trim_start_matches('/');
        assert_eq!(c["url"], "https://BOT-URL/slack/commands", "{name}");
        assert_eq!(c["description"].as_str(), Some(summary(name)), "{name}");
        let usage = usage_of(name);
        let args = usage.split_once(' ').map_or("", |(_, rest)| rest);
        assert_eq!(c["usage_hint"].as_str(), Some(args), "{name}");
    }
    assert_eq!(
        manifest["settings"]["interactivity"]["request_url"],
        "https://BOT-URL/slack/interactions"
    );
    let scopes: Vec<&str> = manifest["oauth_config"]["scopes"]["bot"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(scopes, ["commands", "chat:write"]);
    // chat:write covers every Web API method the bot calls (the first argument of each
    // `.call(` in the Slack adapter); a new method may need a new scope here.
    let chat = include_str!("../../functions/common/src/chat/slack.rs");
    let methods: std::collections::BTreeSet<&str> = chat
        .split(".call(")
        .skip(1)
        .filter_map(|call| call.split('"').nth(1))
        .collect();
    assert_eq!(
        methods,
        ["chat.postEphemeral", "chat.postMessage", "chat.update"].into()
    );
}

/// The template's alarm `name`, checked to watch `metric` in the namespace the metrics
/// adapter writes: its properties.
fn alarm_on<'t>(template: &'t Value, name: &str, metric: &str) -> &'t Value {
    let alarm = &template["Resources"][name]["Properties"];
    assert_eq!(alarm["MetricName"].as_str(), Some(metric), "{name}");
    let namespace = Some(deckhand_aws::metrics::NAMESPACE);
    assert_eq!(alarm["Namespace"].as_str(), namespace, "{name}");
    alarm
}

/// A misconfiguration alarms on the very metric the functions and the bot count, at the
/// first one, and a release of Deckhand that causes one rolls itself back.
#[test]
fn the_misconfigured_alarm_watches_what_the_functions_count_and_guards_upgrades() {
    let template = parse_template();
    let alarm = alarm_on(&template, "MisconfiguredAlarm", MISCONFIGURED);
    assert_eq!(alarm["Threshold"].as_u64(), Some(1));
    assert_eq!(alarm["EvaluationPeriods"].as_u64(), Some(1));
    let guarded = format!(
        "{:?}",
        template["Globals"]["Function"]["DeploymentPreference"]["Alarms"]
    );
    assert!(guarded.contains("MisconfiguredAlarm"), "{guarded}");
}

/// The missed-backup alarm watches the count maintenance emits every run.
#[test]
fn the_missed_backup_alarm_watches_what_maintenance_counts() {
    let template = parse_template();
    let alarm = alarm_on(&template, "BackupsMissedAlarm", BACKUPS_MISSED);
    assert_eq!(alarm["Threshold"].as_u64(), Some(1));
    assert_eq!(
        alarm["ComparisonOperator"].as_str(),
        Some("GreaterThanOrEqualToThreshold")
    );
}

/// The dead-man's switch watches the very metric maintenance emits, in the namespace the
/// metrics adapter writes, and counts silence as breaching.
#[test]
fn the_heartbeat_alarm_watches_what_maintenance_emits_and_fires_on_silence() {
    let template = parse_template();
    let alarm = alarm_on(&template, "MaintenanceStoppedAlarm", HEARTBEAT);
    assert_eq!(alarm["TreatMissingData"].as_str(), Some("breaching"));
    assert_eq!(
        alarm["ComparisonOperator"].as_str(),
        Some("LessThanThreshold")
    );
    assert_eq!(alarm["EvaluationPeriods"].as_u64(), Some(3));
    let schedule = &template["Resources"]["Maintenance"]["Properties"];
    assert_eq!(
        schedule["ScheduleExpression"].as_str(),
        Some("rate(5 minutes)"),
        "three alarm periods of 300 s are three missed runs"
    );
    assert!(
        alarm.get("AlarmActions").is_some()
            && template["Resources"]["FailedEventsAlarm"]["Properties"]
                .get("AlarmActions")
                .is_some(),
        "both of Deckhand's own alarms notify the same topic"
    );
}

/// Deckhand deploys itself gradually and backs itself out: every function is published under
/// one alias, a CodeDeploy canary shifts it, Deckhand's own two alarms stop and reverse the
/// shift, and everything that calls a function calls that alias (a trigger left on
/// `$LATEST` would skip the canary).
#[test]
fn deckhands_own_functions_deploy_as_a_canary_watched_by_its_own_alarms() {
    let template = parse_template();
    let function = &template["Globals"]["Function"];
    let alias = function["AutoPublishAlias"].as_str().unwrap();
    let preference = &function["DeploymentPreference"];
    assert!(
        preference["Type"]
            .as_str()
            .is_some_and(|t| t.starts_with("Canary") || t.starts_with("Linear")),
        "{preference:?}"
    );
    let watched = format!("{:?}", preference["Alarms"]);
    for alarm in ["FailedEventsAlarm", "MaintenanceStoppedAlarm"] {
        assert!(
            watched.contains(alarm),
            "{alarm} stops a bad shift: {watched}"
        );
    }
    let env = &function["Environment"]["Variables"];
    for var in ["DECKHAND_DEPLOY_FUNCTION", "DECKHAND_BACKUP_FUNCTION"] {
        let target = format!("{:?}", env[var]);
        assert!(target.contains(&format!(":{alias}")), "{var} = {target}");
    }
    let resources = template["Resources"].as_mapping().unwrap();
    for (name, r) in resources {
        if r["Type"].as_str() == Some("AWS::Scheduler::Schedule") {
            let arn = format!("{:?}", r["Properties"]["Target"]["Arn"]);
            assert!(arn.contains(".Alias"), "{name:?} targets {arn}");
        }
    }
    // Every InvokeFunction grant names the alias, or the calls through it are refused.
    for (role, statement) in statements(&template) {
        if strings(&statement["Action"])
            .iter()
            .any(|a| a == "lambda:InvokeFunction")
        {
            let to = format!("{:?}", statement["Resource"]);
            assert!(
                to.contains(&format!(":{alias}")) || to.contains(".Alias"),
                "{role} invokes {to}"
            );
        }
    }
}

/// The README's "Deploy to AWS" section can be followed without reading code: every parameter
/// the template takes is named there; every slash command Slack and Discord register is in its
/// command table; every `deckhand` subcommand is shown.
#[test]
fn the_readme_documents_every_template_parameter_command_and_subcommand() {
    let readme = include_str!("../../README.md");
    let section = |title: &str| {
        let start = readme
            .find(title)
            .unwrap_or_else(|| panic!("README has no {title}"));
        let rest = &readme[start + title.len()..];
        &rest[..rest.find("\n## ").unwrap_or(rest.len())]
    };
    let deploy = section("## Deploy to AWS");
    let template = parse_template();
    let parameters = template["Parameters"].as_mapping().unwrap();
    assert!(parameters.len() > 5);
    for name in parameters.keys() {
        let name = name.as_str().unwrap();
        assert!(
            deploy.contains(&format!("`{name}`")),
            "the README's Deploy to AWS section does not explain the `{name}` parameter"
        );
    }
    let outputs = template["Outputs"].as_mapping().unwrap();
    for name in outputs.keys() {
        let name = name.as_str().unwrap();
        assert!(
            deploy.contains(&format!("`{name}`")),
            "the README's Deploy to AWS section does not name the `{name}` output"
        );
    }
    let commands = section("## Commands people type");
    for c in deckhand_core::command::DECLARED {
        assert!(
            commands.contains(&format!("`/{c} ")),
            "the README's command table does not show /{c}"
        );
    }
    // `deckhand`'s subcommands, from the CLI's own enum (CamelCase variants, kebab-case words).
    let cli = include_str!("../../cli/src/main.rs");
    let body = &cli[cli.find("enum Command {").unwrap()..];
    let body = &body[..body.find("\n}").unwrap()];
    let subcommands: Vec<String> = body
        .lines()
        .filter_map(|l| l.strip_prefix("    "))
        .filter(|l| l.starts_with(|c: char| c.is_ascii_uppercase()))
        .map(|l| {
            let name: String = l.chars().take_while(char::is_ascii_alphabetic).collect();
            let mut kebab = String::new();
            for (i, ch) in name.chars().enumerate() {
                if ch.is_ascii_uppercase() && i > 0 {
                    kebab.push('-');
                }
                kebab.push(ch.to_ascii_lowercase());
            }
            kebab
        })
        .collect();
    assert!(subcommands.len() >= 6, "{subcommands:?}");
    for sub in subcommands {
        assert!(
            readme.contains(&format!("deckhand -- {sub}"))
                || readme.contains(&format!("deckhand {sub}")),
            "the README never shows `deckhand {sub}`"
        );
    }
}
