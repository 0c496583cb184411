//! `[alarms.NAME]`.

use indexmap::IndexMap;
use toml::de::DeTable;

use super::reader::Reader;
use super::*;

pub(super) fn read<'a>(
    r: &mut Reader,
    root: &'a DeTable<'_>,
    refs: &mut Refs<'a>,
) -> IndexMap<String, AlarmTarget> {
    let mut alarms = IndexMap::new();
    if let Some(t) = root.get("alarms").and_then(|v| r.table(v, "alarms")) {
        for (key, v) in t {
            let path = format!("alarms.{}", key.get_ref());
            let Some(at) = r.table(v, &path) else {
                continue;
            };
            r.only_keys(at, &path, &["env", "services"]);
            let env = r.req_str(at, "env", &path, key.span());
            if let Some(e) = &env {
                refs.env.push(Ref {
                    at: e.clone(),
                    path: format!("{path}.env"),
                });
            }
            let mut svcs = Vec::new();
            for s in r.str_list(at, "services", &path).unwrap_or_default() {
                if let Some(n) = r.name(&s, ServiceName::parse) {
                    svcs.push(n);
                }
                refs.service.push(Ref {
                    at: s,
                    path: format!("{path}.services"),
                });
            }
            if let Some(env) = env.and_then(|e| EnvName::parse(e.get_ref()).ok()) {
                alarms.insert(
                    key.get_ref().to_string(),
                    AlarmTarget {
                        env,
                        services: svcs,
                    },
                );
            }
        }
    }

    alarms
}
