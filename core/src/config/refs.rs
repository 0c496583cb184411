//! The checks that need every name: references between tables, promotion chains, aliases.

use indexmap::IndexMap;

use super::reader::Reader;
use super::*;

/// Common ways people write environment names, applied when the config has no such env.
const BUILTIN_ALIASES: &[(&str, &str)] = &[
    ("production", "prod"),
    ("prd", "prod"),
    ("stage", "staging"),
    ("stg", "staging"),
    ("development", "dev"),
];

/// Checks every name written against what the config defines, and settles the aliases.
pub(super) fn check(
    r: &mut Reader,
    refs: &Refs<'_>,
    groups: &IndexMap<GroupName, Vec<UserRef>>,
    environments: &mut IndexMap<EnvName, EnvConfig>,
    services: &IndexMap<ServiceName, ServiceConfig>,
) {
    // Cross-references, now that every name is known.
    let env_names: Vec<&str> = environments.keys().map(EnvName::as_str).collect();
    unknown(r, &refs.env, &env_names, "environment", |_| {
        format!("the environments are: {}", env_names.join(", "))
    });
    let service_names: Vec<&str> = services.keys().map(ServiceName::as_str).collect();
    unknown(r, &refs.service, &service_names, "service", |_| {
        format!("the services are: {}", service_names.join(", "))
    });
    let group_names: Vec<&str> = groups.keys().map(GroupName::as_str).collect();
    unknown(r, &refs.group, &group_names, "group", |typed| {
        format!("define it: [groups.{typed}] members = [\"slack:U…\"]")
    });
    for (group, required, path) in &refs.min_members {
        let members = groups
            .iter()
            .find(|(g, _)| g.as_str() == *group.get_ref())
            .map(|(_, m)| m.len());
        if let Some(n) = members
            && i64::try_from(n).unwrap_or(i64::MAX) < *required
        {
            r.error(
                group.span(),
                format!("{path} is {required} but group `{}` has only {}: no deploy could ever be approved", group.get_ref(), crate::card::count(n, "member")),
                Some("lower required_approvals or add members to the group".into()),
            );
        }
    }
    // Promotion chains must end: `after` may not lead back to the environment itself.
    for (start, at) in &refs.after {
        let mut seen = vec![start.clone()];
        let mut cur = environments.get(start).and_then(|e| e.after.clone());
        while let Some(next) = cur {
            if seen.contains(&next) {
                r.error(
                    at.span(),
                    format!("the promotion chain from `{start}` loops back to `{next}`"),
                    Some("remove one `after` so the chain has a start".into()),
                );
                break;
            }
            seen.push(next.clone());
            cur = environments.get(&next).and_then(|e| e.after.clone());
        }
    }
    // Aliases: the config's own, then the built-in ones where they name a real env.
    let mut taken: Vec<String> = env_names.iter().map(|s| (*s).to_owned()).collect();
    for env in environments.values() {
        for a in &env.aliases {
            if taken.contains(a) {
                r.error(
                    0..0,
                    format!(
                        "alias `{a}` of `{}` is already an environment or another alias",
                        env.name
                    ),
                    None,
                );
            }
            taken.push(a.clone());
        }
    }
    for (alias, target) in BUILTIN_ALIASES {
        if !taken.iter().any(|t| t == alias)
            && let Some(env) = environments
                .values_mut()
                .find(|e| e.name.as_str() == *target)
        {
            env.aliases.push((*alias).to_owned());
        }
    }
}

/// Reports every reference in `refs` to a `what` not among `known`, with the closest name when
/// one is close, and `otherwise` when none is.
fn unknown(
    r: &mut Reader,
    refs: &[Ref<'_>],
    known: &[&str],
    what: &str,
    otherwise: impl Fn(&str) -> String,
) {
    for rf in refs {
        let typed = *rf.at.get_ref();
        if !known.contains(&typed) {
            let fix = suggest::did_you_mean(typed, known.iter().copied())
                .map_or_else(|| otherwise(typed), |s| format!("did you mean `{s}`?"));
            r.error(
                rf.at.span(),
                format!("unknown {what} `{typed}` in {}", rf.path),
                Some(fix),
            );
        }
    }
}
