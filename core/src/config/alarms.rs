//! `[alarms.NAME]`.

use super::reader::{Entry, Reader};
use super::*;

pub(super) const KEYS: &[&str] = &["env", "services"];

/// One `[alarms.NAME]`: the environment and services an alarm's rollback applies to.
pub(super) fn read<'d>(r: &mut Reader<'d>, e: &Entry<'d, '_>) -> Option<(String, AlarmTarget)> {
    let env = r.req_str(e.table, "env", &e.path, e.key.span());
    if let Some(at) = &env {
        r.refer(Named::Env, at.clone(), &e.path, "env");
    }
    let services = r.name_refs(
        e.table,
        "services",
        &e.path,
        ServiceName::parse,
        Named::Service,
    );
    let env = EnvName::parse(env?.get_ref()).ok()?;
    Some((e.key.get_ref().to_string(), AlarmTarget { env, services }))
}
