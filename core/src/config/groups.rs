//! `[groups.NAME]`.

use indexmap::IndexMap;
use toml::Spanned;
use toml::de::DeTable;

use super::reader::Reader;
use super::*;

pub(super) fn read(r: &mut Reader, root: &DeTable<'_>) -> IndexMap<GroupName, Vec<UserRef>> {
    let mut groups = IndexMap::new();
    if let Some(t) = root.get("groups").and_then(|v| r.table(v, "groups")) {
        for (key, v) in t {
            let path = format!("groups.{}", key.get_ref());
            let Some(name) = r.name(
                &Spanned::new(key.span(), key.get_ref().as_ref()),
                GroupName::parse,
            ) else {
                continue;
            };
            let Some(gt) = r.table(v, &path) else {
                continue;
            };
            r.only_keys(gt, &path, &["members"]);
            let mut members = Vec::new();
            for m in r.str_list(gt, "members", &path).unwrap_or_default() {
                if let Some(u) = r.name(&m, UserRef::parse) {
                    members.push(u);
                }
            }
            groups.insert(name, members);
        }
    }

    groups
}
