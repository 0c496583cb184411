//! `[groups.NAME]`.

use super::reader::{Entry, Reader};
use super::*;

/// One `[groups.NAME]`: who is in it.
pub(super) fn read(r: &mut Reader, e: &Entry<'_, '_>) -> Option<(GroupName, Vec<UserRef>)> {
    let name = r.name(&e.key, GroupName::parse)?;
    let mut members = Vec::new();
    for m in r.str_list(e.table, "members", &e.path).unwrap_or_default() {
        if let Some(u) = r.name(&m, UserRef::parse) {
            members.push(u);
        }
    }
    Some((name, members))
}
