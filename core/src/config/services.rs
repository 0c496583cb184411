//! `[services.NAME]`.

use super::reader::{Entry, Reader, Value};
use super::*;
use crate::check::{HttpCheck, Smoke, StatusRange};

pub(super) const KEYS: &[&str] = &[
    "envs",
    "ecs_service",
    "container",
    "repository",
    "migration",
    "health_url",
    "checks",
    "smoke",
];

const CHECK_KEYS: &[&str] = &[
    "name", "url", "status", "body", "timeout", "retries", "interval", "grace", "envs",
];

const SMOKE_KEYS: &[&str] = &["command", "timeout", "envs"];

/// One `[services.NAME]`.
pub(super) fn read<'d>(
    r: &mut Reader<'d>,
    e: &Entry<'d, '_>,
) -> Option<(ServiceName, ServiceConfig)> {
    let (key, path, st) = (&e.key, &e.path, e.table);
    let name = r.name(key, ServiceName::parse)?;
    let envs = r.name_refs(st, "envs", path, EnvName::parse, Named::Env);
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
    let mut checks = Vec::new();
    if let Some(h) = r.str(st, "health_url", path)
        && http_url(r, &h, &format!("{path}.health_url"))
    {
        checks.push(CheckConfig {
            check: HttpCheck::of_url("health", h.get_ref().to_string()),
            envs: Vec::new(),
        });
    }
    if let Some(v) = st.get("checks") {
        read_checks(r, v, path, &envs, &mut checks);
    }
    let smoke = st
        .get("smoke")
        .and_then(|v| read_smoke(r, v, &format!("{path}.smoke"), &envs));
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
        checks,
        smoke,
        name: name.clone(),
    };
    Some((name, svc))
}

/// Whether `url` is an http(s) URL; reported when it is not.
fn http_url(r: &mut Reader, url: &Spanned<&str>, path: &str) -> bool {
    let ok = url.get_ref().starts_with("https://") || url.get_ref().starts_with("http://");
    if !ok {
        r.error(url.span(), format!("`{path}` must be an http(s) URL"), None);
    }
    ok
}

/// `[[services.NAME.checks]]`: each an HTTP check, named uniquely within the service.
fn read_checks(
    r: &mut Reader,
    v: &Value<'_>,
    path: &str,
    service_envs: &[EnvName],
    out: &mut Vec<CheckConfig>,
) {
    let DeValue::Array(items) = v.get_ref() else {
        r.error(
            v.span(),
            format!("`{path}.checks` must be a list of checks"),
            Some(format!(
                "write each check as a [[{path}.checks]] table with its url"
            )),
        );
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let at = format!("{path}.checks[{i}]");
        let Some(t) = r.table(item, &at) else {
            continue;
        };
        r.only_keys(t, &at, CHECK_KEYS);
        let Some(url) = r.req_str(t, "url", &at, item.span()) else {
            continue;
        };
        if !http_url(r, &url, &format!("{at}.url")) {
            continue;
        }
        let name = match r.str(t, "name", &at) {
            Some(n) => n.get_ref().to_string(),
            None => default_check_name(url.get_ref()),
        };
        if out.iter().any(|c| c.check.name == name) {
            r.error(
                t.get("name").map_or(item.span(), |n| n.span()),
                format!("`{path}` has two checks named `{name}`"),
                Some("give each check its own `name`".into()),
            );
        }
        let status = match r.str(t, "status", &at) {
            None => StatusRange::SUCCESS,
            Some(raw) => StatusRange::parse(raw.get_ref()).unwrap_or_else(|| {
                r.error(
                    raw.span(),
                    format!(
                        "`{at}.status` = \"{}\" is not an HTTP status",
                        raw.get_ref()
                    ),
                    Some(
                        "write one status (\"200\"), a range (\"200-204\") or a class (\"2xx\")"
                            .into(),
                    ),
                );
                StatusRange::SUCCESS
            }),
        };
        let retries = r
            .int(t, "retries", &at, 0..101)
            .map_or(HttpCheck::RETRIES, |n| {
                u32::try_from(*n.get_ref()).unwrap_or(HttpCheck::RETRIES)
            });
        let check = HttpCheck {
            name,
            url: url.get_ref().to_string(),
            status,
            body: r.str(t, "body", &at).map(|b| b.get_ref().to_string()),
            timeout: r.duration(t, "timeout", &at, HttpCheck::TIMEOUT),
            retries,
            interval: r.duration(t, "interval", &at, HttpCheck::INTERVAL),
            grace: r.duration(t, "grace", &at, SignedDuration::ZERO),
        };
        if check.timeout > SignedDuration::from_secs(60) {
            r.error(
                t.get("timeout").map_or(item.span(), |v| v.span()),
                format!("`{at}.timeout` is over a minute: one try must answer faster than that"),
                Some("a check is tried again after `interval`; keep `timeout` to seconds".into()),
            );
        }
        let envs = only_service_envs(r, t, &at, service_envs);
        out.push(CheckConfig { check, envs });
    }
}

/// `[services.NAME.smoke]`.
fn read_smoke(
    r: &mut Reader,
    v: &Value<'_>,
    path: &str,
    service_envs: &[EnvName],
) -> Option<SmokeConfig> {
    let t = r.table(v, path)?;
    r.only_keys(t, path, SMOKE_KEYS);
    let example = r#"["bin/smoke", "--env", "{env}"]"#;
    let command = r.command(t, "command", path, v.span(), example)?;
    Some(SmokeConfig {
        smoke: Smoke {
            command,
            timeout: r.duration(t, "timeout", path, Smoke::TIMEOUT),
        },
        envs: only_service_envs(r, t, path, service_envs),
    })
}

/// A check's or smoke test's `envs`: a subset of its service's (empty: all of them).
fn only_service_envs(
    r: &mut Reader,
    t: &toml::de::DeTable<'_>,
    path: &str,
    service_envs: &[EnvName],
) -> Vec<EnvName> {
    let listed = r.str_list(t, "envs", path).unwrap_or_default();
    let mut envs = Vec::new();
    for raw in &listed {
        let Some(env) = r.name(raw, EnvName::parse) else {
            continue;
        };
        if !service_envs.contains(&env) {
            let names: Vec<&str> = service_envs.iter().map(EnvName::as_str).collect();
            r.error(
                raw.span(),
                format!("`{path}.envs` names `{env}`, where the service is not deployed"),
                Some(format!("the service's envs are: {}", names.join(", "))),
            );
            continue;
        }
        envs.push(env);
    }
    envs
}

/// A check without a name is called by its URL's last path segment (`/ready` → `ready`).
fn default_check_name(url: &str) -> String {
    let path = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .split(['?', '#'])
        .next()
        .unwrap_or_default();
    path.split_once('/')
        .and_then(|(_, p)| p.rsplit('/').find(|s| !s.is_empty()))
        .unwrap_or("health")
        .to_owned()
}
