//! `[services.NAME]`.

use indexmap::IndexMap;
use toml::Spanned;
use toml::de::DeTable;

use super::reader::Reader;
use super::*;

const SERVICE_KEYS: &[&str] = &[
    "envs",
    "ecs_service",
    "container",
    "repository",
    "migration",
    "health_url",
];

pub(super) fn read<'a>(
    r: &mut Reader,
    root: &'a DeTable<'_>,
    refs: &mut Refs<'a>,
) -> IndexMap<ServiceName, ServiceConfig> {
    let mut services = IndexMap::new();
    if let Some(t) = root.get("services").and_then(|v| r.table(v, "services")) {
        for (key, v) in t {
            let path = format!("services.{}", key.get_ref());
            let Some(name) = r.name(
                &Spanned::new(key.span(), key.get_ref().as_ref()),
                ServiceName::parse,
            ) else {
                continue;
            };
            let Some(st) = r.table(v, &path) else {
                continue;
            };
            r.only_keys(st, &path, SERVICE_KEYS);
            let envs = r.str_list(st, "envs", &path).unwrap_or_default();
            if envs.is_empty() {
                r.error(
                    key.span(),
                    format!("`{path}` is deployed to no environment"),
                    Some("add `envs = [\"staging\", \"prod\"]`".into()),
                );
            }
            let mut env_names = Vec::new();
            for e in envs {
                if let Some(n) = r.name(&e, EnvName::parse) {
                    env_names.push(n);
                }
                refs.env.push(Ref {
                    at: e,
                    path: format!("{path}.envs"),
                });
            }
            let repository = r.req_str(st, "repository", &path, key.span());
            let migration = r.str_list(st, "migration", &path).map(|m| {
                m.iter()
                    .map(|s| s.get_ref().to_string())
                    .collect::<Vec<_>>()
            });
            if let (Some(m), Some(v)) = (&migration, st.get("migration"))
                && m.is_empty()
            {
                r.error(
                    v.span(),
                    format!("`{path}.migration` is an empty command"),
                    Some("remove it, or give the command, e.g. [\"bin/migrate\", \"up\"]".into()),
                );
            }
            let health_url = r.str(st, "health_url", &path);
            if let Some(h) = &health_url
                && !(h.get_ref().starts_with("https://") || h.get_ref().starts_with("http://"))
            {
                r.error(
                    h.span(),
                    format!("`{path}.health_url` must be an http(s) URL"),
                    None,
                );
            }
            let svc = ServiceConfig {
                envs: env_names,
                ecs_service: r
                    .str(st, "ecs_service", &path)
                    .map_or_else(|| name.to_string(), |s| s.get_ref().to_string()),
                container: r
                    .str(st, "container", &path)
                    .map_or_else(|| name.to_string(), |s| s.get_ref().to_string()),
                repository: repository
                    .map(|s| s.get_ref().to_string())
                    .unwrap_or_default(),
                migration,
                health_url: health_url.map(|h| h.get_ref().to_string()),
                name: name.clone(),
            };
            services.insert(name, svc);
        }
    }

    services
}
