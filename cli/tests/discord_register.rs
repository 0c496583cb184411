//! `deckhand discord register` against a local stand-in for Discord's API.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed setup should fail loudly

use deckhand_harness::standin::ChatStub;

fn example() -> String {
    format!(
        "{}/../infra/deckhand.example.toml",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn register(stub: &ChatStub, token: Option<&str>) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_deckhand"));
    cmd.args(["discord", "register", "--config", &example()])
        .args(["--discord-api", &format!("{}/discord", stub.url)])
        .env_remove("DECKHAND_DISCORD_BOT_TOKEN");
    if let Some(t) = token {
        cmd.env("DECKHAND_DISCORD_BOT_TOKEN", t);
    }
    cmd.output().unwrap()
}

#[tokio::test]
async fn registers_every_command_in_the_configured_guild_with_one_bulk_overwrite() {
    let stub = ChatStub::start().await.unwrap();
    let token = "MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs";
    let out = tokio::task::spawn_blocking({
        let stub = stub.clone();
        move || register(&stub, Some(token))
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(
        stdout.trim(),
        "Registered in guild 1100000000000000001: /deploy /rollback /status /history /lock /unlock /pause /resume /backup /deckhand"
    );
    assert!(!stdout.contains(token) && !stderr.contains(token));

    let sent = stub.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let put = &sent[0];
    assert_eq!(put.method, axum::http::Method::PUT);
    assert_eq!(
        put.path,
        "/discord/applications/1200000000000000002/guilds/1100000000000000001/commands"
    );
    assert_eq!(put.authorization.as_deref(), Some(&*format!("Bot {token}")));
    assert_eq!(put.body, deckhand_bot::discord::commands());

    // Running it again is the same single overwrite.
    let again = tokio::task::spawn_blocking({
        let stub = stub.clone();
        move || register(&stub, Some(token))
    })
    .await
    .unwrap();
    assert!(again.status.success());
    assert_eq!(stub.sent().len(), 2);
    assert_eq!(stub.sent()[1].body, put.body);
}

#[tokio::test]
async fn without_a_token_it_says_where_to_find_one_and_sends_nothing() {
    let stub = ChatStub::start().await.unwrap();
    let out = tokio::task::spawn_blocking({
        let stub = stub.clone();
        move || register(&stub, None)
    })
    .await
    .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("DECKHAND_DISCORD_BOT_TOKEN"), "{stderr}");
    assert!(stub.sent().is_empty());
}
