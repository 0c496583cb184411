//! `[services.NAME]`.

use super::reader::{Entry, Reader};
use super::*;

pub(super) const KEYS: &[&str] = &[
    "envs",
    "ecs_service",
    "container",
    "repository",
    "migration",
    "health_url",
];

/// One `[services.NAME]`.
pub(super) fn read<'a>(
    r: &mut Reader,
    e: &Entry<'a, '_>,
    refs: &mut Refs<'a>,
) -> Option<(ServiceName, ServiceConfig)> {
    let (key, path, st) = (&e.key, &e.path, e.table);
    let name = r.name(key, ServiceName::parse)?;
    let envs = r.name_refs(st, "envs", path, EnvName::parse, &mut refs.env);
    let listed = st.get("envs").map(|v| v.get_ref());
    let none_listed = match listed {
        None => true,
        Some(toml::de::DeValue::Array(a)) => a.is_empty(),
        Some(_) => false,
    };
    if none_listed {
        r.error(
            key.span(),
            format!("`{path}` is deployed to no environment"),
            Some("add `envs = [\"staging\", \"prod\"]`".into()),
        );
    }
    let repository = r.req_str(st, "repository", path, key.span());
    let migration = r.str_list(st, "migration", path).map(|m| {
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
    let health_url = r.str(st, "health_url", path);
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
        envs,
        ecs_service: r
            .str(st, "ecs_service", path)
            .map_or_else(|| name.to_string(), |s| s.get_ref().to_string()),
        container: r
            .str(st, "container", path)
            .map_or_else(|| name.to_string(), |s| s.get_ref().to_string()),
        repository: repository
            .map(|s| s.get_ref().to_string())
            .unwrap_or_default(),
        migration,
        health_url: health_url.map(|h| h.get_ref().to_string()),
        name: name.clone(),
    };
    Some((name, svc))
}
