//! The bot's router on loopback, driven the way Slack and Discord drive it.
//!
//! Requests are signed exactly as Slack (v0 HMAC) and Discord (Ed25519) sign them. A local HTTP
//! server stands in for Slack's Web API, Slack's `response_url`s and Discord's REST API, and
//! records every request the bot makes. The other ports are core's in-memory ones; the adapters
//! behind them are tested against the AWS emulator in `tests/`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed setup should fail loudly

use std::sync::Arc;

use axum::http::{HeaderMap, Method, StatusCode};
use deckhand_bot::router::{Bot, Keys, router};
use deckhand_core::config::Config;
use deckhand_core::deployment::{State as DeployState, Work};
use deckhand_core::memory::Memory;
use deckhand_core::types::{Digest, SignedDuration, Timestamp};
use deckhand_harness::testing::{
    ChatStub, Sent, TestPorts, TestWorld, deliver, discord_headers, form, hex, hub_headers, serve,
    slack_headers,
};
use secrecy::SecretString;
use serde_json::{Value, json};

const CONFIG: &str = r#"
[slack]
workspace = "T0DECKHAND"
channels = ["C0DEPLOYS", "C0PRODOPS"]

[discord]
guild = "1100000000000000001"
application_id = "1200000000000000002"
channels = ["1300000000000000003"]

[groups.engineers]
members = ["slack:U0ALICE", "slack:U0BOB", "slack:U0CAROL", "discord:80351110224678912"]

[groups.platform]
members = ["slack:U0BOB", "slack:U0CAROL", "discord:80351110224678912"]

[environments.staging]
cluster = "staging"
deployers = "engineers"
notify = { slack = "C0DEPLOYS", discord = "1300000000000000003" }

[environments.prod]
cluster = "prod"
deployers = "engineers"
approvers = "platform"
required_approvals = 1
approval_ttl = "2h"
after = "staging"
notify = { slack = "C0PRODOPS" }

[services.api]
envs = ["staging", "prod"]
repository = "acme/api"
"#;

// The people of the test workspace, by Slack user id.
const ALICE: &str = "U0ALICE";
const BOB: &str = "U0BOB";
const CAROL: &str = "U0CAROL";
const MALLORY: &str = "U0MALLORY";

const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

struct World {
    bot: Arc<Bot<TestPorts>>,
    url: String,
    stub: ChatStub,
    stub_url: String,
    discord_key: ed25519_dalek::SigningKey,
    http: reqwest::Client,
}

/// `/deploy args` typed by Dana in the Discord guild: interaction `id`.
fn discord_deploy(id: &str, args: &str) -> Value {
    json!({
        "type": 2, "id": id, "guild_id": "1100000000000000001", "channel_id": "1300000000000000003",
        "member": {"user": {"id": "80351110224678912", "username": "dana"}},
        "data": {"name": "deploy", "options": [{"name": "args", "type": 3, "value": args}]},
    })
}

/// A recorded webhook payload from `events/`.
fn event(name: &str) -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../events");
    std::fs::read_to_string(format!("{dir}/{name}")).unwrap()
}

fn digest(n: u8) -> Digest {
    Digest::parse(&format!("sha256:{}", format!("{n:02x}").repeat(32))).unwrap()
}

impl World {
    async fn new() -> World {
        let world = TestWorld::builder(Config::parse("test.toml", CONFIG).unwrap())
            .running("api", "api:1", "acme/api:v1.2.2")
            .image("acme/api", "v1.2.3", &digest(3))
            .start()
            .await
            .unwrap();
        let discord_key = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
        let keys = Keys {
            slack_signing_secret: Some(SecretString::from(SIGNING_SECRET.to_owned())),
            discord_public_key: Some(hex(&discord_key.verifying_key().to_bytes())),
            github_secret: Some(SecretString::from("gh-secret".to_owned())),
            gitlab_token: Some(SecretString::from("gl-token".to_owned())),
            generic_secret: Some(SecretString::from("ci-secret".to_owned())),
        };
        let TestWorld {
            stub,
            ports,
            config,
            ..
        } = world;
        let responder = ports.chat.clone();
        let bot = Arc::new(Bot {
            ports,
            config,
            keys: deckhand_bot::keyring::KeyRing::fixed(keys),
            responder,
        });
        let url = serve(router(bot.clone())).await.unwrap();
        let stub_url = stub.url.clone();
        World {
            bot,
            url,
            stub,
            stub_url,
            discord_key,
            http: reqwest::Client::new(),
        }
    }

    fn mem(&self) -> &Memory {
        &self.bot.ports.platform
    }

    fn sent(&self) -> Vec<Sent> {
        self.stub.sent()
    }

    fn sent_to(&self, path: &str) -> Vec<Sent> {
        self.stub.sent_to(path)
    }

    fn slack_signed(&self, body: &str, ts: i64) -> HeaderMap {
        slack_headers(SIGNING_SECRET, ts, body)
    }

    /// The status `headers` and `body` posted to `path` get.
    async fn status(&self, path: &str, headers: &HeaderMap, body: &str) -> StatusCode {
        let (status, _) = self.post(path, headers.clone(), body.to_owned()).await;
        status
    }

    /// A build webhook accepted (202) and its redelivery recognised (200, nothing more).
    async fn recorded_once(&self, path: &str, headers: &HeaderMap, body: &str) {
        let (status, answer) = self.post(path, headers.clone(), body.to_owned()).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{path}: {answer}");
        let again = self.status(path, headers, body).await;
        assert_eq!(
            again,
            StatusCode::OK,
            "{path}: a redelivery changes nothing"
        );
    }

    /// Discord's immediate answer to an interaction, which must be a 200.
    async fn discord_answer(&self, body: &str) -> Value {
        let (status, answer) = self.discord(body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        serde_json::from_str(&answer).unwrap()
    }

    /// An interaction as Discord sends it, signed now.
    async fn discord(&self, body: &str) -> (StatusCode, String) {
        let headers = self.discord_signed(body);
        self.post("/discord/interactions", headers, body.to_owned())
            .await
    }

    async fn post(&self, path: &str, headers: HeaderMap, body: String) -> (StatusCode, String) {
        let resp = deliver(&self.http, format!("{}{path}", self.url), headers, body)
            .await
            .unwrap();
        (resp.status(), resp.text().await.unwrap())
    }

    /// A slash command from a Slack user, signed now.
    async fn slash(
        &self,
        user: &str,
        command: &str,
        text: &str,
        trigger: &str,
    ) -> (StatusCode, String) {
        self.slash_in("C0DEPLOYS", user, command, text, trigger)
            .await
    }

    async fn slash_in(
        &self,
        channel: &str,
        user: &str,
        command: &str,
        text: &str,
        trigger: &str,
    ) -> (StatusCode, String) {
        let body = form(&[
            ("team_id", "T0DECKHAND"),
            ("channel_id", channel),
            ("user_id", user),
            (
                "user_name",
                &user.trim_start_matches("U0").to_ascii_lowercase(),
            ),
            ("command", command),
            ("text", text),
            ("trigger_id", trigger),
            (
                "response_url",
                &format!("{}/hooks/commands/{trigger}", self.stub_url),
            ),
        ]);
        let headers = self.slack_signed(&body, Timestamp::now().as_second());
        self.post("/slack/commands", headers, body).await
    }

    /// The text of the ephemeral answer to `line` (a command and its text) typed by `user`.
    async fn say(&self, user: &str, line: &str, trigger: &str) -> String {
        let (command, text) = line.split_once(' ').unwrap_or((line, ""));
        let (status, body) = self.slash(user, command, text, trigger).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["response_type"], "ephemeral");
        v["text"].as_str().unwrap().to_owned()
    }

    /// A click on a card's button, as Slack's block_actions payload.
    async fn click(&self, user: &str, value: &str, n: u32) -> StatusCode {
        let payload = json!({
            "type": "block_actions",
            "user": {"id": user, "username": user.trim_start_matches("U0").to_ascii_lowercase(), "team_id": "T0DECKHAND"},
            "team": {"id": "T0DECKHAND"},
            "channel": {"id": "C0PRODOPS"},
            "response_url": format!("{}/hooks/actions/{user}-{n}", self.stub_url),
            "actions": [{"action_id": "approve", "value": value, "type": "button"}],
        });
        let body = form(&[("payload", &payload.to_string())]);
        let headers = self.slack_signed(&body, Timestamp::now().as_second());
        self.post("/slack/interactions", headers, body).await.0
    }

    fn discord_signed(&self, body: &str) -> HeaderMap {
        discord_headers(&self.discord_key, body)
    }

    /// Runs the request checks dispatched so far, as the deploy function would: each once.
    async fn checks(&self) -> Vec<DeployState> {
        let app = deckhand_core::usecases::App::new(&self.bot.ports, &self.bot.config);
        let mut states = Vec::new();
        for work in self.mem().dispatched() {
            if let Work::PrepareDeployment { id } = work {
                states.push(app.prepare_deployment(id).await.unwrap().state);
            }
        }
        states
    }

    /// What the bot told a slash command's sender through its `response_url`, after answering.
    fn told(&self, trigger: &str) -> Vec<String> {
        self.sent_to(&format!("/hooks/commands/{trigger}"))
            .iter()
            .map(|s| {
                assert_eq!(s.body["response_type"], "ephemeral", "{:?}", s.body);
                s.body["text"].as_str().unwrap_or_default().to_owned()
            })
            .collect()
    }

    /// Ships api v1.2.3 to staging through chat and finishes the rollout as ECS would.
    async fn ship_staging(&self) {
        let answer = self
            .say(ALICE, "/deploy staging api v1.2.3", "trig-staging")
            .await;
        assert!(
            answer.starts_with("Checking api v1.2.3 → staging."),
            "{answer}"
        );
        self.checks().await;
        let app = deckhand_core::usecases::App::new(&self.bot.ports, &self.bot.config);
        let id = self.mem().deployments()[0].id;
        let d = app.run_deployment(id).await.unwrap();
        let ecs = d.services[0].progress.ecs_deployment.clone().unwrap();
        assert_eq!(
            app.on_rollout(&ecs, Ok(())).await.unwrap().unwrap().state,
            DeployState::Succeeded
        );
    }

    /// The approval card's Approve value for the pending prod deployment.
    async fn pending_prod(&self) -> (String, String) {
        self.ship_staging().await;
        let answer = self
            .say(ALICE, "/deploy prod api v1.2.3", "trig-prod")
            .await;
        assert!(answer.starts_with("Checking api v1.2.3 → prod"), "{answer}");
        assert!(
            self.checks().await.contains(&DeployState::PendingApproval),
            "the checks post the approval card"
        );
        assert!(self.told("trig-prod").is_empty(), "nothing more to tell");
        let again = self
            .say(ALICE, "/deploy prod api v1.2.3", "trig-prod")
            .await;
        assert!(
            again.starts_with(
                "Approval requested for api v1.2.3 → prod: 1 more approval needed. The card is in the prod channel."
            ),
            "a retry is told where the request stands: {again}"
        );
        let card = self
            .sent_to("/slack/chat.postMessage")
            .into_iter()
            .rev()
            .find(|s| s.body["channel"] == "C0PRODOPS")
            .unwrap();
        let buttons = card.body["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["type"] == "actions")
            .unwrap()["elements"]
            .clone();
        (
            buttons[0]["value"].as_str().unwrap().to_owned(),
            buttons[1]["value"].as_str().unwrap().to_owned(),
        )
    }

    fn dispatched_runs(&self) -> usize {
        self.dispatched(|w| matches!(w, Work::RunDeployment { .. }))
    }

    /// How many of the work items dispatched so far `kind` picks.
    fn dispatched(&self, kind: impl Fn(&Work) -> bool) -> usize {
        self.mem().dispatched().iter().filter(|w| kind(w)).count()
    }

    /// The deploy function's turn: runs every `RunDeployment` dispatched so far, as the
    /// function would (it counts the votes clicks recorded, then starts what they approved).
    async fn run_dispatched(&self) {
        for work in self.mem().dispatched() {
            if let Work::RunDeployment { id } = work {
                self.bot.app().run_deployment(id).await.unwrap();
            }
        }
    }

    fn dispatched_checks(&self) -> usize {
        self.dispatched(|w| matches!(w, Work::PrepareDeployment { .. }))
    }
}

#[tokio::test]
async fn a_staging_deploy_is_acknowledged_carded_and_dispatched_once() {
    let w = World::new().await;
    let answer = w.say(ALICE, "/deploy staging api v1.2.3", "trig-1").await;
    assert_eq!(
        answer,
        "Checking api v1.2.3 → staging. Its card follows in the staging channel; if it cannot go ahead, Deckhand tells you why here."
    );
    assert_eq!(
        w.dispatched_checks(),
        1,
        "the checks are the deploy function's"
    );
    assert!(w.sent().is_empty(), "nothing is posted before the answer");
    assert_eq!(w.checks().await, vec![DeployState::Approved]);
    assert_eq!(w.dispatched_runs(), 1);
    let slack_card = w.sent_to("/slack/chat.postMessage");
    assert_eq!(slack_card.len(), 1);
    assert_eq!(slack_card[0].body["channel"], "C0DEPLOYS");
    assert_eq!(
        slack_card[0].body["blocks"][0]["text"]["text"],
        "Deploy api v1.2.3 → staging"
    );
    let discord_card = w.sent_to("/discord/channels/1300000000000000003/messages");
    assert_eq!(discord_card.len(), 1);
    assert_eq!(discord_card[0].method, Method::POST);
    assert_eq!(
        discord_card[0].body["embeds"][0]["title"],
        "Deploy api v1.2.3 → staging"
    );

    // Slack retries the same command (same trigger id): nothing happens twice.
    let again = w.say(ALICE, "/deploy staging api v1.2.3", "trig-1").await;
    assert!(
        again.starts_with("Deploying api v1.2.3 → staging"),
        "{again}"
    );
    assert_eq!(w.dispatched_checks(), 1);
    assert_eq!(w.dispatched_runs(), 1);
    assert_eq!(w.mem().deployments().len(), 1);
    assert_eq!(w.sent_to("/slack/chat.postMessage").len(), 1);
}

#[tokio::test]
async fn prod_posts_an_approval_card_and_only_someone_else_can_approve_it_once() {
    let w = World::new().await;
    let (approve, _) = w.pending_prod().await;
    let runs_before = w.dispatched_runs();

    assert_eq!(w.click("U0ALICE", &approve, 1).await, StatusCode::OK);
    let refusal = w.sent_to("/hooks/actions/U0ALICE-1");
    assert_eq!(refusal.len(), 1);
    assert_eq!(
        refusal[0].body["text"],
        "you asked for this deploy, so someone else has to approve it"
    );
    assert_eq!(refusal[0].body["response_type"], "ephemeral");
    assert_eq!(w.dispatched_runs(), runs_before);

    // Bob's click, delivered twice concurrently and once more after.
    let (a, b) = tokio::join!(w.click("U0BOB", &approve, 2), w.click("U0BOB", &approve, 3));
    assert_eq!((a, b), (StatusCode::OK, StatusCode::OK));
    assert_eq!(w.click("U0BOB", &approve, 4).await, StatusCode::OK);
    assert_eq!(
        w.dispatched_runs(),
        runs_before + 1,
        "three deliveries of one click, one dispatch"
    );
    let prod = || {
        w.mem()
            .deployments()
            .into_iter()
            .find(|d| d.env.as_str() == "prod")
            .unwrap()
    };
    assert_eq!(prod().votes.len(), 1, "the click recorded Bob's vote, once");
    assert_eq!(prod().state, DeployState::PendingApproval);
    w.run_dispatched().await;
    assert_eq!(prod().approvals.len(), 1);
    assert!(
        matches!(prod().state, DeployState::Rolling { .. }),
        "counted, approved and started by the deploy function: {}",
        prod()
    );
    let updates: Vec<_> = w
        .sent_to("/slack/chat.update")
        .into_iter()
        .filter(|s| s.body["channel"] == "C0PRODOPS")
        .collect();
    let last = updates.last().unwrap();
    assert!(
        last.body["text"]
            .as_str()
            .unwrap()
            .contains("Rolling out api")
            && last.body.to_string().contains("1/1 — bob"),
        "{}",
        last.body
    );
    assert!(
        last.body["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["type"] != "actions"),
        "the buttons are gone"
    );
    assert!(
        w.sent()
            .iter()
            .filter(|s| s.path.starts_with("/hooks/actions/U0BOB"))
            .count()
            == 0,
        "no refusal for Bob"
    );
}

#[tokio::test]
async fn reject_says_who_and_an_expired_card_says_it_expired() {
    let w = World::new().await;
    let (_, reject) = w.pending_prod().await;
    assert_eq!(w.click("U0CAROL", &reject, 1).await, StatusCode::OK);
    let last = w.sent_to("/slack/chat.update").pop().unwrap();
    assert!(
        last.body["text"]
            .as_str()
            .unwrap()
            .contains("Rejected by carol"),
        "{}",
        last.body["text"]
    );

    let w = World::new().await;
    let (approve, _) = w.pending_prod().await;
    w.mem().advance(SignedDuration::from_hours(3));
    // The clock moved, but signatures are checked against real time: still fresh.
    assert_eq!(w.click("U0BOB", &approve, 1).await, StatusCode::OK);
    let answer = w.sent_to("/hooks/actions/U0BOB-1");
    assert!(
        answer[0].body["text"].as_str().unwrap().contains("expired"),
        "{:?}",
        answer
    );
    assert_eq!(
        w.mem()
            .deployments()
            .into_iter()
            .find(|d| d.env.as_str() == "prod")
            .unwrap()
            .state,
        DeployState::Expired
    );
}

#[tokio::test]
async fn mistakes_strangers_and_other_channels_get_a_polite_answer_and_nothing_is_recorded() {
    let w = World::new().await;
    let typo = w.say(ALICE, "/deploy prdo api v1.2.3", "t1").await;
    assert!(
        typo.contains("unknown environment `prdo` — did you mean `prod`?")
            && typo.contains("Usage: `/deploy"),
        "{typo}"
    );
    let stranger = w.say(MALLORY, "/deploy staging api v1.2.3", "t2").await;
    assert!(
        stranger.contains("does not know you") && stranger.contains("slack:U0MALLORY"),
        "{stranger}"
    );
    let (status, body) = w
        .slash_in("C0RANDOM", "U0ALICE", "/deploy", "staging api v1.2.3", "t3")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("does not take commands in this channel"),
        "{body}"
    );
    let help = w.say(ALICE, "/deckhand", "t4").await;
    assert!(help.contains("/rollback ENV"), "{help}");
    assert!(w.mem().deployments().is_empty());
    assert!(w.mem().dispatched().is_empty());
    assert!(w.sent().is_empty(), "nothing was posted anywhere");
}

#[tokio::test]
async fn unsigned_stale_malformed_and_oversized_requests_are_refused_and_change_nothing() {
    let w = World::new().await;
    let body = form(&[
        ("team_id", "T0DECKHAND"),
        ("channel_id", "C0DEPLOYS"),
        ("user_id", "U0ALICE"),
        ("command", "/deploy"),
        ("text", "staging api v1.2.3"),
        ("trigger_id", "x"),
    ]);
    let now = Timestamp::now().as_second();

    let mut forged = w.slack_signed(&body, now);
    forged.insert(
        "x-slack-signature",
        "v0=0000000000000000000000000000000000000000000000000000000000000000"
            .parse()
            .unwrap(),
    );
    assert_eq!(
        w.post("/slack/commands", forged, body.clone()).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        w.post(
            "/slack/commands",
            w.slack_signed(&body, now - 600),
            body.clone()
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED,
        "stale"
    );
    assert_eq!(
        w.post("/slack/commands", HeaderMap::new(), body.clone())
            .await
            .0,
        StatusCode::UNAUTHORIZED,
        "no headers"
    );
    let tampered = body.replace("staging", "prod");
    assert_eq!(
        w.post("/slack/commands", w.slack_signed(&body, now), tampered)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );

    let json_body = r#"{"command":"/deploy"}"#.to_owned();
    assert_eq!(
        w.post(
            "/slack/commands",
            w.slack_signed(&json_body, now),
            json_body
        )
        .await
        .0,
        StatusCode::BAD_REQUEST,
        "not a form"
    );
    // A command without its trigger id has no idempotency key of its own: refused, not keyed
    // on nothing (every such command would share one key).
    for trigger in [None, Some("")] {
        let mut fields = vec![
            ("team_id", "T0DECKHAND"),
            ("channel_id", "C0DEPLOYS"),
            ("user_id", "U0ALICE"),
            ("command", "/deploy"),
            ("text", "staging api v1.2.3"),
        ];
        fields.extend(trigger.map(|t| ("trigger_id", t)));
        let keyless = form(&fields);
        let (status, said) = w
            .post("/slack/commands", w.slack_signed(&keyless, now), keyless)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{trigger:?}");
        assert!(said.contains("trigger_id"), "{said}");
    }
    let keyless_discord =
        r#"{"type":2,"guild_id":"1100000000000000001","channel_id":"1300000000000000003"}"#;
    assert_eq!(
        w.post(
            "/discord/interactions",
            w.discord_signed(keyless_discord),
            keyless_discord.to_owned()
        )
        .await
        .0,
        StatusCode::BAD_REQUEST,
        "a Discord interaction without its id"
    );
    let garbage = form(&[("payload", "{not json")]);
    assert_eq!(
        w.post(
            "/slack/interactions",
            w.slack_signed(&garbage, now),
            garbage
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
    let huge = "a".repeat(deckhand_bot::router::MAX_BODY + 1);
    assert_eq!(
        w.post("/slack/commands", w.slack_signed(&huge, now), huge)
            .await
            .0,
        StatusCode::PAYLOAD_TOO_LARGE
    );

    // Every route but `/health` is signed: an unsigned request to any of them is refused.
    for route in [
        "/slack/commands",
        "/slack/interactions",
        "/discord/interactions",
        "/hooks/build/github",
        "/hooks/build/gitlab",
        "/hooks/build/generic",
    ] {
        let (status, _) = w.post(route, HeaderMap::new(), "{}".into()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{route}");
    }
    let (status, _) = w
        .post("/hooks/build/jenkins", HeaderMap::new(), "{}".into())
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "no such hook: nothing to verify"
    );

    assert!(w.mem().deployments().is_empty());
    assert!(w.mem().dispatched().is_empty());
    assert!(w.sent().is_empty());
}

#[tokio::test]
async fn discord_ping_pong_signatures_and_commands() {
    let w = World::new().await;
    let ping = r#"{"type":1,"id":"1","application_id":"1200000000000000002"}"#.to_owned();
    let (status, body) = w.discord(&ping).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"type": 1})
    );

    // Discord sends requests with bad signatures on purpose to test an endpoint.
    let mut bad = w.discord_signed(&ping);
    bad.insert("x-signature-ed25519", "00".repeat(64).parse().unwrap());
    assert_eq!(
        w.post("/discord/interactions", bad, ping).await.0,
        StatusCode::UNAUTHORIZED
    );

    let command = discord_deploy("1400000000000000001", "staging api v1.2.3").to_string();
    let v = w.discord_answer(&command).await;
    assert_eq!(v["type"], 4);
    assert_eq!(v["data"]["flags"], 64, "ephemeral");
    assert!(
        v["data"]["content"]
            .as_str()
            .unwrap()
            .starts_with("Checking api v1.2.3 → staging"),
        "{v}"
    );
    // The same interaction id again does nothing twice.
    let _ = w.discord(&command).await;
    assert_eq!(w.mem().deployments().len(), 1);
    assert_eq!(w.dispatched_checks(), 1);
}

#[tokio::test]
async fn a_chat_api_that_answers_429_is_waited_out_and_retried() {
    let w = World::new().await;
    w.stub.throttle_once("/slack/chat.postMessage");
    let answer = w.say(ALICE, "/deploy staging api v1.2.3", "t").await;
    assert!(answer.starts_with("Checking"), "{answer}");
    w.checks().await;
    let posts = w.sent_to("/slack/chat.postMessage");
    assert_eq!(posts.len(), 2, "rate-limited once, then sent");
    assert_eq!(posts[0].body, posts[1].body);
}

#[tokio::test]
async fn queries_answer_with_tables() {
    let w = World::new().await;
    w.ship_staging().await;
    let status = w.say(BOB, "/status staging", "s1").await;
    assert!(
        status.contains("Status of staging") && status.contains("v1.2.3") && status.contains("```"),
        "{status}"
    );
    let history = w.say(BOB, "/history staging api", "s2").await;
    assert!(history.contains("succeeded"), "{history}");
    // What already runs is said once the checks have looked, to the person alone.
    let runs = w.say(ALICE, "/deploy staging api v1.2.3", "s4").await;
    assert!(runs.starts_with("Checking api v1.2.3 → staging"), "{runs}");
    w.checks().await;
    assert_eq!(
        w.told("s4"),
        vec![
            "Not deploying api v1.2.3 to staging: api already runs v1.2.3 in staging; add `--force` to redeploy it"
        ]
    );
    let lock = w
        .say(CAROL, "/lock staging load test until 14:00", "s3")
        .await;
    // No duration given: the environment's `lock_default` (8h), said with its end.
    assert!(
        lock.starts_with("Locked staging until ")
            && lock.ends_with(" UTC: load test until 14:00. `/unlock staging` releases it sooner."),
        "{lock}"
    );
    // A held environment is answered at once: the one write is refused, and names the holder.
    let refused = w
        .say(ALICE, "/deploy staging api v1.2.3 --force", "s4b")
        .await;
    assert!(refused.contains("staging is locked by carol"), "{refused}");
    let unlock = w.say(ALICE, "/unlock staging", "s5").await;
    assert!(
        unlock.starts_with("Unlocked staging: released carol's lock"),
        "{unlock}"
    );
}

#[tokio::test]
async fn a_signed_build_webhook_records_the_build_once() {
    let w = World::new().await;
    let body = json!({"service": "api", "version": "v1.2.3", "build_id": "ci-77", "branch": "main", "succeeded": true}).to_string();
    let h = hub_headers("x-deckhand-signature", "ci-secret", &body);
    w.recorded_once("/hooks/build/generic", &h, &body).await;
    let unsigned = HeaderMap::new();
    let refused = w.status("/hooks/build/generic", &unsigned, &body).await;
    assert_eq!(refused, StatusCode::UNAUTHORIZED);
    assert_eq!(
        w.post("/hooks/build/gitlab", HeaderMap::new(), "{}".into())
            .await
            .0,
        StatusCode::UNAUTHORIZED,
        "no X-Gitlab-Token header"
    );
}

#[tokio::test]
async fn a_discord_button_click_approves_and_a_refusal_is_ephemeral() {
    let w = World::new().await;
    let (approve, _) = w.pending_prod().await;
    let click = |user: &str, id: &str| {
        json!({
            "type": 3, "id": id, "guild_id": "1100000000000000001", "channel_id": "1300000000000000003",
            "member": {"user": {"id": user, "username": "dana"}},
            "data": {"custom_id": approve, "component_type": 2},
        })
        .to_string()
    };
    let stranger = click("99999999999999999", "1400000000000000010");
    let (status, body) = w.discord(&stranger).await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (v["type"].as_u64(), v["data"]["flags"].as_u64()),
        (Some(4), Some(64)),
        "{v}"
    );
    assert!(
        v["data"]["content"]
            .as_str()
            .unwrap()
            .contains("does not know you"),
        "{v}"
    );

    let runs_before = w.dispatched_runs();
    let dana = click("80351110224678912", "1400000000000000011");
    let (status, body) = w.discord(&dana).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"type": 6}),
        "acknowledged; the card update says the rest"
    );
    assert_eq!(w.dispatched_runs(), runs_before + 1);
    w.run_dispatched().await;
    let prod = w
        .mem()
        .deployments()
        .into_iter()
        .find(|d| d.env.as_str() == "prod")
        .unwrap();
    assert_eq!(prod.approvals.len(), 1);
    assert!(matches!(prod.state, DeployState::Rolling { .. }), "{prod}");
}

#[tokio::test]
async fn a_github_workflow_run_webhook_records_the_build() {
    let w = World::new().await;
    let payload = event("github-workflow-run.json");
    let mut h = hub_headers("x-hub-signature-256", "gh-secret", &payload);
    h.insert("x-github-event", "workflow_run".parse().unwrap());
    w.recorded_once("/hooks/build/github", &h, &payload).await;
    let told = w.sent_to("/slack/chat.postMessage");
    assert!(
        told.iter()
            .any(|s| s.body["text"].as_str().unwrap_or_default().contains(
                "Build api acb5820ced9479c074f688cc328bf03f341a511d (main@acb5820) finished"
            )),
        "{told:?}"
    );
    h.insert("x-github-event", "push".parse().unwrap());
    assert_eq!(
        w.post("/hooks/build/github", h, payload).await.1,
        "ignored: not a finished build"
    );
}

#[tokio::test]
async fn a_gitlab_pipeline_webhook_records_the_build_of_the_project() {
    let w = World::new().await;
    let payload = event("gitlab-pipeline.json");
    let mut h = HeaderMap::new();
    h.insert("x-gitlab-token", "gl-token".parse().unwrap());
    // The example project is acme/web, which the test config does not deploy.
    let (status, body) = w
        .post("/hooks/build/gitlab", h.clone(), payload.clone())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.contains("no configured service is built from repository acme/web"),
        "{body}"
    );
    let api = payload
        .replace("acme/web", "acme/api")
        .replace("\"name\": \"web\"", "\"name\": \"api\"");
    w.recorded_once("/hooks/build/gitlab", &h, &api).await;
    h.insert("x-gitlab-token", "gl-tokem".parse().unwrap());
    assert_eq!(
        w.status("/hooks/build/gitlab", &h, &payload).await,
        StatusCode::UNAUTHORIZED
    );
}

/// The operator's mistake told as such: `/status` on a table that does not exist (DynamoDB on
/// the emulator) tells the person it is Deckhand's setup, not them, changes nothing, and counts
/// it for the template's alarm.
#[tokio::test]
async fn a_command_on_a_missing_table_says_deckhand_is_not_set_up_and_counts_it() {
    let seed = deckhand_harness::Seed::new(deckhand_harness::Emulator::shared().unwrap()).await;
    let missing =
        deckhand_aws::dynamo::DynamoStore::new(seed.aws.dynamodb.clone(), "no-such-table");
    let TestWorld {
        mem, ports, config, ..
    } = TestWorld::builder(Config::parse("test.toml", CONFIG).unwrap())
        .start_on(missing)
        .await
        .unwrap();
    let keys = deckhand_bot::keyring::KeyRing::fixed(Keys {
        slack_signing_secret: Some(SecretString::from(SIGNING_SECRET.to_owned())),
        ..Keys::default()
    });
    let url = serve_bot(ports, config, keys).await;
    let resp = status_by_alice(&url, SIGNING_SECRET, "trig-missing-table").await;
    assert_eq!(resp.status(), StatusCode::OK);
    let answer = resp.text().await.unwrap();
    assert!(answer.contains("Deckhand is not set up right"), "{answer}");
    assert!(
        !answer.contains("no-such-table"),
        "the details are the operator's: {answer}"
    );
    assert_eq!(
        mem.metrics()
            .iter()
            .filter(|m| m.name == deckhand_core::usecases::MISCONFIGURED)
            .count(),
        1
    );
}

/// A rotation of the keys secret, on the emulator (which keeps AWSCURRENT and AWSPREVIOUS):
/// the bot read the old signing secret at cold start; Slack signs with the new one from some
/// moment on, and with the old one until then. Both are answered, the new one after one fetch
/// forced by its failed first check, and nothing else is fetched on the answer path.
#[tokio::test]
async fn a_rotated_slack_signing_secret_is_accepted_old_and_new_without_a_cold_start() {
    use deckhand_bot::keyring::{Fetch, KeyRing, KeySet};
    let seed = deckhand_harness::Seed::new(deckhand_harness::Emulator::shared().unwrap()).await;
    let name = seed
        .secret(r#"{"slack_signing_secret": "old-signing-secret"}"#)
        .await
        .unwrap();
    let secrets = Arc::new(deckhand_aws::secrets::CachedSecrets::new(
        seed.aws.secrets.clone(),
        std::time::Duration::from_secs(300),
    ));
    let read = {
        let (secrets, name) = (secrets.clone(), name.clone());
        move || {
            let (secrets, name) = (secrets.clone(), name.clone());
            async move {
                let (current, previous) = secrets.current_and_previous(&name).await?;
                let parse = |s: &SecretString| {
                    deckhand_bot::lambda::keys_from_json(secrecy::ExposeSecret::expose_secret(s))
                };
                Ok(KeySet {
                    current: parse(&current)?,
                    previous: previous.as_ref().map(parse).transpose()?,
                })
            }
        }
    };
    let at_cold_start = read().await.unwrap();
    assert!(at_cold_start.previous.is_none(), "never rotated yet");
    let fetch: Fetch = Arc::new(move || Box::pin(read()));

    let TestWorld { ports, config, .. } =
        TestWorld::builder(Config::parse("test.toml", CONFIG).unwrap())
            .start()
            .await
            .unwrap();
    let url = serve_bot(ports, config, KeyRing::refreshing(at_cold_start, fetch)).await;
    let status = |secret: &'static str, trigger: &'static str| {
        let url = url.clone();
        async move { status_by_alice(&url, secret, trigger).await.status() }
    };
    assert_eq!(status("old-signing-secret", "r1").await, StatusCode::OK);

    // The rotation: AWSCURRENT is the new value, AWSPREVIOUS the old.
    seed.aws
        .secrets
        .put_secret_value()
        .secret_id(&name)
        .secret_string(r#"{"slack_signing_secret": "new-signing-secret"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(status("new-signing-secret", "r2").await, StatusCode::OK);
    assert_eq!(status("old-signing-secret", "r3").await, StatusCode::OK);
    assert_eq!(
        status("forged-signing-secret", "r4").await,
        StatusCode::UNAUTHORIZED
    );
}

/// Serves a bot of these ports and keys on loopback; its URL.
async fn serve_bot<S: deckhand_core::ports::Store + 'static>(
    ports: TestPorts<S>,
    config: Config,
    keys: deckhand_bot::keyring::KeyRing,
) -> String {
    let responder = ports.chat.clone();
    let bot = Arc::new(Bot {
        ports,
        config,
        keys,
        responder,
    });
    serve(router(bot)).await.unwrap()
}

/// Alice's `/status staging` from #C0DEPLOYS, signed with `secret`, to the bot at `url`.
async fn status_by_alice(url: &str, secret: &str, trigger: &str) -> reqwest::Response {
    let body = form(&[
        ("team_id", "T0DECKHAND"),
        ("channel_id", "C0DEPLOYS"),
        ("user_id", "U0ALICE"),
        ("command", "/status"),
        ("text", "staging"),
        ("trigger_id", trigger),
    ]);
    let headers = slack_headers(secret, Timestamp::now().as_second(), &body);
    deliver(
        &reqwest::Client::new(),
        format!("{url}/slack/commands"),
        headers,
        body,
    )
    .await
    .unwrap()
}

/// What the checks after the answer refuse reaches the person who asked, privately — through
/// Slack's `response_url`, or Discord's interaction follow-up webhook — and frees the
/// environment for the next request at once.
#[tokio::test]
async fn a_refusal_found_after_the_answer_reaches_the_requester_privately_and_frees_the_environment()
 {
    use deckhand_core::ports::Store as _;
    let w = World::new().await;
    let staging = deckhand_core::types::EnvName::parse("staging").unwrap();

    // Slack: no such image. The answer came first; the refusal follows by response_url.
    let answer = w.say(ALICE, "/deploy staging api v9.9.9", "no-image").await;
    assert!(
        answer.starts_with("Checking api v9.9.9 → staging"),
        "{answer}"
    );
    assert!(
        w.mem().get_lock(&staging).await.unwrap().is_some(),
        "held while the checks run"
    );
    assert_eq!(
        w.checks().await,
        vec![DeployState::Declined {
            reason: "there is no image acme/api:v9.9.9 in the registry; is the build finished?"
                .into()
        }]
    );
    assert_eq!(
        w.told("no-image"),
        vec![
            "Not deploying api v9.9.9 to staging: there is no image acme/api:v9.9.9 in the registry; is the build finished?"
        ]
    );
    assert!(w.mem().get_lock(&staging).await.unwrap().is_none());
    assert!(
        w.sent_to("/slack/chat.postMessage").is_empty(),
        "no card, nothing in the channel"
    );
    // Slack retries the command: the same refusal, said again in the answer.
    let again = w.say(ALICE, "/deploy staging api v9.9.9", "no-image").await;
    assert_eq!(
        again,
        "Not deploying: there is no image acme/api:v9.9.9 in the registry; is the build finished?"
    );

    // Discord: not promoted. The follow-up goes to the interaction's webhook, ephemeral.
    let mut command = discord_deploy("1400000000000000077", "prod api v1.2.3");
    command["application_id"] = json!("1200000000000000001");
    command["token"] = json!("interaction-token-77");
    let v = w.discord_answer(&command.to_string()).await;
    assert!(
        v["data"]["content"]
            .as_str()
            .unwrap()
            .starts_with("Checking api v1.2.3 → prod"),
        "{v}"
    );
    w.checks().await;
    let follow_ups = w.sent_to("/discord/webhooks/1200000000000000001/interaction-token-77");
    assert_eq!(follow_ups.len(), 1, "{:#?}", w.sent());
    assert_eq!(follow_ups[0].method, Method::POST);
    assert_eq!(follow_ups[0].body["flags"], 64, "ephemeral");
    assert_eq!(
        follow_ups[0].body["content"],
        "Not deploying api v1.2.3 to prod: api v1.2.3 has not succeeded in staging yet, and prod only takes versions that did"
    );
    assert!(
        follow_ups[0].authorization.is_none(),
        "the interaction token is the authority; no bot token is sent"
    );
    let prod = deckhand_core::types::EnvName::parse("prod").unwrap();
    assert!(w.mem().get_lock(&prod).await.unwrap().is_none());
}
