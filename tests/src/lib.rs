//! Deckhand's test world: the local AWS emulator, and ([`standin`]) stand-ins for Slack,
//! Discord and Lambda's Runtime API with request signing, and ([`testing`]) core's in-memory
//! ports with the real chat adapter. Tests, benchmarks and local mode link it; no Lambda does.
//!
//! [`Emulator::shared`] gives one moto server per process, started on first use on a free
//! loopback port. It finds `moto_server` in this order:
//! 1. `DECKHAND_MOTO_SERVER` (a path to the executable);
//! 2. `moto_server` on `PATH`, if it is the pinned version ([`MOTO_VERSION`]);
//! 3. a virtualenv under the workspace's `target/moto/`, created with the machine's `python3`
//!    and `pip install moto[server]==MOTO_VERSION` the first time (under a file lock, so many
//!    test processes starting at once install it once).
//!
//! moto is started through a small wrapper (`src/moto/serial_server.py`) that answers one
//! request at a time: moto's threaded server lets two conditional DynamoDB transactions both
//! pass, which AWS never does, and Deckhand's concurrent-redelivery tests rest on that.
//!
//! Tests share the server and stay apart by naming: [`unique`] gives every test its own table,
//! cluster and DB names. moto's quirks (see `../shared/DEPENDENCIES.md`) are handled here, each
//! in one place: Lambda invokes need `use_docker` off and ECS tasks must not finish by
//! themselves (`Emulator::configure`), and Fargate
//! services need a subnet and security group in moto's EC2 ([`Seed`]).
//!
//! The server is stopped when the process that started it exits: it runs under a small shell
//! watchdog that polls the parent's pid, because a `static` is never dropped.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};

pub mod faults;
mod outage;
mod seed;
pub mod standin;
pub mod testing;
pub use outage::Outage;
pub use seed::{SMOKE_LOG, Seed, SeededService};

/// How many items a handler's answers list under `key` in all: how many of twenty copies of
/// one alarm rolled something back, say. An answer without that list counts nothing.
pub fn total<'a>(answers: impl IntoIterator<Item = &'a serde_json::Value>, key: &str) -> usize {
    answers
        .into_iter()
        .filter_map(|a| a[key].as_array())
        .map(Vec::len)
        .sum()
}

/// Asserts that `err` is the operator's to fix
/// ([`deckhand_core::ports::PortError::Misconfigured`]) and that its message names each of
/// `names`: what an alarm at 3 a.m. needs to point at.
#[track_caller]
pub fn assert_misconfigured(err: &deckhand_core::ports::PortError, names: &[&str]) {
    use deckhand_core::ports::PortError;
    let named = matches!(err, PortError::Misconfigured(m) if names.iter().all(|n| m.contains(n)));
    assert!(named, "not Misconfigured naming {names:?}: {err:?}");
}

/// Runs `command` to its end: its exit code (-1 when a signal ended it), stdout and stderr,
/// as text.
pub fn run_to_end(command: &mut std::process::Command) -> (i32, String, String) {
    // A test helper: a command that cannot even start should fail the test loudly.
    #[allow(clippy::expect_used)]
    let out = command.output().expect("the command starts");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The moto release Deckhand is tested against. `../shared/DEPENDENCIES.md` records what it
/// does and does not emulate.
pub const MOTO_VERSION: &str = "5.2.5";

/// The region every emulator test uses.
pub const REGION: &str = "us-east-1";

/// A running moto server.
#[derive(Debug)]
pub struct Emulator {
    pub endpoint: String,
    pub addr: SocketAddr,
    child: Mutex<Option<Child>>,
}

static SHARED: OnceLock<Result<Emulator, String>> = OnceLock::new();

impl Emulator {
    /// The process's emulator, started on first use.
    pub fn shared() -> anyhow::Result<&'static Emulator> {
        SHARED
            .get_or_init(|| Emulator::start().map_err(|e| format!("{e:#}")))
            .as_ref()
            .map_err(|e| anyhow!("{e}"))
    }

    /// Starts a moto server of its own (most callers want [`Emulator::shared`]).
    pub fn start() -> anyhow::Result<Emulator> {
        let server = moto_server()?;
        let mut last = None;
        // Picking a free port and binding it are two steps; another process can take the port
        // in between, so try a few.
        for _ in 0..3 {
            let port = free_port()?;
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let child = spawn_watched(&server, port)?;
            let emulator = Emulator {
                endpoint: format!("http://{addr}"),
                addr,
                child: Mutex::new(Some(child)),
            };
            match emulator.wait_until_ready(Duration::from_secs(60)) {
                Ok(()) => {
                    emulator.configure()?;
                    return Ok(emulator);
                }
                Err(e) => {
                    emulator.stop();
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| anyhow!("moto server did not start")))
    }

    /// Where moto differs from AWS in ways that would make Deckhand's tests lie, it is set
    /// right here, once.
    fn configure(&self) -> anyhow::Result<()> {
        // moto runs Lambda functions in Docker unless told otherwise; there is no Docker here,
        // and Deckhand only needs invokes accepted.
        let status = self.http(
            "POST",
            "/moto-api/config",
            r#"{"lambda":{"use_docker":false}}"#,
        )?;
        if status != 201 && status != 200 {
            bail!("moto refused the Lambda setting ({status})");
        }
        // moto walks an ECS task to STOPPED (exit code 0) over four DescribeTasks calls, so
        // every migration would "succeed" by itself. Manual progression keeps a task RUNNING
        // until something stops it, as in ECS.
        let manual = r#"{"model_name":"ecs::task","transition":{"progression":"manual","times":1000000000}}"#;
        let status = self.http("POST", "/moto-api/state-manager/set-transition", manual)?;
        if status != 201 && status != 200 {
            bail!("moto refused the ECS task transition setting ({status})");
        }
        Ok(())
    }

    fn wait_until_ready(&self, within: Duration) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            if let Ok(200) = self.http("GET", "/moto-api/data.json", "") {
                return Ok(());
            }
            if let Some(child) = self.child.lock().map_err(|_| anyhow!("poisoned"))?.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!("moto server exited before answering ({status})");
            }
            if started.elapsed() > within {
                bail!(
                    "moto server did not answer on {} within {within:?}",
                    self.endpoint
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// An `SdkConfig` pointed at this emulator, through the same `Settings` code path as AWS.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        self.settings().load().await
    }

    pub fn settings(&self) -> deckhand_aws::Settings {
        self.settings_via(&self.endpoint)
    }

    /// Settings for reaching this emulator through `endpoint` (an [`Outage`] proxy).
    pub fn settings_via(&self, endpoint: &str) -> deckhand_aws::Settings {
        deckhand_aws::Settings {
            region: Some(REGION.to_owned()),
            endpoint_url: Some(endpoint.to_owned()),
            static_credentials: Some(("testing".to_owned(), "testing".to_owned())),
            max_attempts: None,
        }
    }

    /// The environment a separate process (a function binary under test) needs to reach this
    /// emulator through the SDK's standard variables, as a Lambda reaches AWS.
    pub fn aws_env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_REGION", REGION),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// Forgets everything the emulator holds. Tests that share it use [`unique`] names instead.
    pub fn reset(&self) -> anyhow::Result<()> {
        let status = self.http("POST", "/moto-api/reset", "")?;
        if status != 200 {
            bail!("moto reset answered {status}");
        }
        Ok(())
    }

    fn http(&self, method: &str, path: &str, body: &str) -> anyhow::Result<u16> {
        self.request(method, path, &[("Content-Type", "application/json")], body)
            .map(|(status, _)| status)
    }

    /// Calls a Query-protocol API (EC2, IAM) on the emulator. moto routes by the credential
    /// scope in `Authorization` and does not check signatures. The harness uses this for the
    /// two seeding calls (default subnets, a Lambda role) that would otherwise need the EC2 and
    /// IAM SDK crates, minutes of build each, just for tests.
    pub fn query(&self, service: &str, params: &[(&str, &str)]) -> anyhow::Result<String> {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/{service}/aws4_request, SignedHeaders=host, Signature=0"
        );
        let (status, text) = self.request(
            "POST",
            "/",
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            &body,
        )?;
        if status != 200 {
            bail!("{service} {params:?} answered {status}: {text}");
        }
        Ok(text)
    }

    /// A tiny HTTP/1.1 client for moto on loopback. Hand-rolled on purpose: a handful of
    /// plain-HTTP requests to localhost do not justify a client crate in the harness.
    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> anyhow::Result<(u16, String)> {
        let mut stream = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.addr,
            body.len()
        );
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        write!(stream, "{head}\r\n{body}")?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| anyhow!("moto sent no status line"))?;
        let text = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        Ok((status, text))
    }

    pub fn stop(&self) {
        if let Ok(mut guard) = self.child.lock()
            && let Some(mut child) = guard.take()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A name no other test in any process uses: `prefix-<pid>-<n>`, lowercase, valid for tables,
/// clusters, services, repositories and DB identifiers.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// moto's server wrapped to answer one request at a time (why: in the script).
const SERIAL_SERVER: &str = include_str!("moto/serial_server.py");

/// Writes [`SERIAL_SERVER`] under `target/moto/`, through a rename so a test process starting
/// at the same moment never runs half a file.
fn serial_server() -> anyhow::Result<PathBuf> {
    let dir = target_dir().join("moto");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("serial_server.py");
    if std::fs::read_to_string(&path).is_ok_and(|s| s == SERIAL_SERVER) {
        return Ok(path);
    }
    let tmp = dir.join(format!("serial_server.py.{}", std::process::id()));
    std::fs::write(&tmp, SERIAL_SERVER)?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// Starts moto (through [`SERIAL_SERVER`], with `server`'s interpreter) under a shell watchdog
/// that stops it when this process goes away.
fn spawn_watched(server: &Path, port: u16) -> anyhow::Result<Child> {
    let script = r#"
"$5" "$1" -H 127.0.0.1 -p "$2" >"$3" 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null' EXIT INT TERM
while kill -0 "$4" 2>/dev/null && kill -0 "$moto" 2>/dev/null; do sleep 0.5; done
"#;
    let log = target_dir().join("moto").join(format!("server-{port}.log"));
    std::fs::create_dir_all(log.parent().unwrap_or(Path::new(".")))?;
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .arg(serial_server()?)
        .arg(port.to_string())
        .arg(&log)
        .arg(std::process::id().to_string())
        .arg(interpreter(server))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting moto_server")
}

/// The workspace's `target/` (or `CARGO_TARGET_DIR`).
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
}

/// Finds or installs the pinned moto server.
pub fn moto_server() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("DECKHAND_MOTO_SERVER") {
        let path = PathBuf::from(path);
        if !path.exists() {
            bail!(
                "DECKHAND_MOTO_SERVER points at {}, which does not exist",
                path.display()
            );
        }
        return Ok(path);
    }
    if let Some(on_path) = find_on_path("moto_server")
        && installed_version(&on_path).as_deref() == Some(MOTO_VERSION)
    {
        return Ok(on_path);
    }
    install(&target_dir().join("moto"), find_on_path("python3"))
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The moto version behind a `moto_server` script, read through the interpreter its `#!` line
/// names (moto_server itself has no `--version`). A pyenv shim has no such line: its
/// interpreter is `python3` on PATH.
fn installed_version(server: &Path) -> Option<String> {
    let out = Command::new(interpreter(server))
        .args(["-c", "import moto; print(moto.__version__)"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The Python that runs a `moto_server` script: its `#!` line, or `python3` on PATH for a
/// pyenv shim, which has no such line.
fn interpreter(server: &Path) -> String {
    std::fs::read_to_string(server)
        .ok()
        .and_then(|script| {
            let first = script.lines().next()?.strip_prefix("#!")?.trim().to_owned();
            (!first.contains(' ')).then_some(first)
        })
        .unwrap_or_else(|| "python3".to_owned())
}

/// Installs `moto[server]==MOTO_VERSION` into `dir/venv`, once, under a lock.
/// `python` is the interpreter to build the virtualenv with (`python3` from PATH), passed in so
/// the "no Python" message can be tested without changing the process's PATH.
fn install(dir: &Path, python: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let server = dir.join("venv").join("bin").join("moto_server");
    let marker = dir.join(format!("installed-{MOTO_VERSION}"));
    if marker.exists() && server.exists() {
        return Ok(server);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let lock = std::fs::File::create(dir.join(".install.lock"))?;
    lock.lock()
        .context("waiting for another process installing moto")?;
    if marker.exists() && server.exists() {
        return Ok(server);
    }
    let python = python.ok_or_else(|| {
        anyhow!(
            "Deckhand's emulator tests need Python 3 to install moto (the local AWS emulator), and `python3` is not on PATH.\n\
             Install it (Debian/Ubuntu: `apt-get install python3 python3-venv`; macOS: `brew install python`),\n\
             or point DECKHAND_MOTO_SERVER at an existing moto_server {MOTO_VERSION}."
        )
    })?;
    eprintln!(
        "deckhand: installing moto[server]=={MOTO_VERSION} into {} (first run only)…",
        dir.join("venv").display()
    );
    let venv = dir.join("venv");
    let _ = std::fs::remove_dir_all(&venv);
    run(
        Command::new(&python).args(["-m", "venv"]).arg(&venv),
        "python3 -m venv (on Debian: apt-get install python3-venv)",
    )?;
    let pip = venv.join("bin").join("pip");
    run(
        Command::new(&pip).args([
            "install",
            "--disable-pip-version-check",
            "--quiet",
            &format!("moto[server]=={MOTO_VERSION}"),
        ]),
        "pip install moto[server]",
    )?;
    if !server.exists() {
        bail!("pip installed moto, but {} is missing", server.display());
    }
    std::fs::write(&marker, MOTO_VERSION)?;
    Ok(server)
}

fn run(cmd: &mut Command, what: &str) -> anyhow::Result<()> {
    let out = cmd.output().with_context(|| format!("running {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_python_the_error_says_what_to_install() {
        let dir = std::env::temp_dir().join(unique("deckhand-no-python"));
        let err = install(&dir, None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("need Python 3"), "{err}");
        assert!(
            err.contains("apt-get install python3 python3-venv"),
            "{err}"
        );
        assert!(err.contains("DECKHAND_MOTO_SERVER"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_moto_server_on_path_is_judged_by_the_version_its_interpreter_imports() {
        let dir = std::env::temp_dir().join(unique("deckhand-fake-moto"));
        std::fs::create_dir_all(&dir).ok();
        let script = dir.join("moto_server");
        std::fs::write(&script, "#!/nonexistent/python\n").ok();
        assert_eq!(
            installed_version(&script),
            None,
            "an interpreter that cannot run is no match"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
