//! Lambda's share of a CPU, reproduced with a cgroup v1 CPU quota (root only), and the CPU time
//! a process spends, read from the group's `cpuacct.usage`.
//!
//! Lambda gives a function CPU in proportion to its memory: 1,769 MB is one vCPU. A CFS quota
//! of `period × MB / 1769` per period holds a process to that share. The kernel's smallest
//! quota is 1 ms, so a share whose quota would be smaller at the asked period (128 MB at 10 ms)
//! gets the 1 ms quota over a longer period — the same share, said in the report.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// One vCPU, in Lambda's memory terms.
const MB_PER_VCPU: u64 = 1_769;
/// The kernel refuses a smaller `cpu.cfs_quota_us`.
const MIN_QUOTA_US: u64 = 1_000;

/// A memory size and the CFS period asked for it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Share {
    pub(crate) mb: u64,
    pub(crate) period_us: u64,
}

impl Share {
    /// (period, quota) in µs holding `mb`'s share: the asked period, or a longer one where the
    /// quota would fall under the kernel's minimum.
    pub(crate) fn quota(self) -> (u64, u64) {
        let quota = self.period_us * self.mb / MB_PER_VCPU;
        if quota >= MIN_QUOTA_US {
            (self.period_us, quota)
        } else {
            (MIN_QUOTA_US * MB_PER_VCPU / self.mb, MIN_QUOTA_US)
        }
    }
}

/// A CPU-limited, CPU-accounted cgroup pair (`cpu` and `cpuacct` are separate v1 hierarchies
/// here), removed on drop once its processes are gone.
pub(crate) struct Group {
    cpu: PathBuf,
    acct: PathBuf,
}

const ROOT: &str = "/sys/fs/cgroup";

impl Group {
    /// Whether this machine lets us make quota groups (root, cgroup v1 `cpu` and `cpuacct`).
    pub(crate) fn available() -> bool {
        let probe = Path::new(ROOT).join("cpu").join("cpu.cfs_quota_us");
        probe.exists()
            && Path::new(ROOT)
                .join("cpuacct")
                .join("cpuacct.usage")
                .exists()
            // cgroupfs directories show no write bits; root may make groups in them anyway.
            && is_root()
    }

    /// `name` held to `share` (or unlimited, for `None`).
    pub(crate) fn new(name: &str, share: Option<Share>) -> Result<Group, Error> {
        let g = Group {
            cpu: Path::new(ROOT).join("cpu").join(name),
            acct: Path::new(ROOT).join("cpuacct").join(name),
        };
        std::fs::create_dir_all(&g.cpu)?;
        std::fs::create_dir_all(&g.acct)?;
        let (period, quota) = match share {
            Some(s) => {
                let (p, q) = s.quota();
                (p, q.to_string())
            }
            None => (100_000, "-1".to_owned()),
        };
        // The quota goes first to -1 so any period is accepted, then period, then quota.
        std::fs::write(g.cpu.join("cpu.cfs_quota_us"), "-1")?;
        std::fs::write(g.cpu.join("cpu.cfs_period_us"), period.to_string())?;
        std::fs::write(g.cpu.join("cpu.cfs_quota_us"), quota)?;
        Ok(g)
    }

    /// Spawns `cmd` inside the group: a shell puts itself in both hierarchies and execs it, so
    /// not one instruction of the function runs outside the quota.
    pub(crate) fn spawn(&self, exe: &Path, envs: &[(String, String)]) -> Result<Child, Error> {
        let script = r#"echo $$ > "$1/cgroup.procs" && echo $$ > "$2/cgroup.procs" && exec "$3""#;
        let mut sh = Command::new("sh");
        sh.arg("-c")
            .arg(script)
            .arg("sh")
            .arg(&self.cpu)
            .arg(&self.acct)
            .arg(exe);
        sh.envs(envs.iter().cloned())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        Ok(sh.spawn()?)
    }

    /// CPU time the group's processes have used, in ms (user and system, every thread).
    pub(crate) fn cpu_ms(&self) -> f64 {
        std::fs::read_to_string(self.acct.join("cpuacct.usage"))
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .map_or(0.0, |ns| ns / 1e6)
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // Fails while a process is still inside; the caller waits for its child first.
        let _ = std::fs::remove_dir(&self.cpu);
        let _ = std::fs::remove_dir(&self.acct);
    }
}

/// Whether we run as root, read from `/proc/self/status` (no libc crate for one syscall).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}
