//! The error-collecting reader over toml's spanned tree that every table's reader uses.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::*;

pub(super) type Value<'i> = Spanned<DeValue<'i>>;

/// Reads a spanned TOML tree (borrowed for `'d`), collecting every mistake instead of
/// stopping at the first, and every name one table gives another, to check once all are read.
pub(super) struct Reader<'d> {
    pub(super) diags: Vec<Diagnostic>,
    pub(super) refs: Refs<'d>,
}

/// One `[table.NAME]` entry: its name as written, its path for messages and its own table.
pub(super) struct Entry<'a, 'i> {
    pub(super) key: Spanned<&'a str>,
    pub(super) path: String,
    pub(super) table: &'a DeTable<'i>,
}

impl<'d> Reader<'d> {
    pub(super) fn new() -> Self {
        Reader {
            diags: Vec::new(),
            refs: Refs::default(),
        }
    }

    /// The entries of the top-level table `name`, each checked to be a table holding only
    /// `allowed` keys; an entry that is not a table is reported and left out.
    pub(super) fn entries<'a, 'i>(
        &mut self,
        root: &'a DeTable<'i>,
        name: &str,
        allowed: &[&str],
    ) -> Vec<Entry<'a, 'i>> {
        let Some(t) = root.get(name).and_then(|v| self.table(v, name)) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (key, v) in t {
            let path = format!("{name}.{}", key.get_ref());
            if let Some(table) = self.table(v, &path) {
                self.only_keys(table, &path, allowed);
                out.push(Entry {
                    key: Spanned::new(key.span(), key.get_ref().as_ref()),
                    path,
                    table,
                });
            }
        }
        out
    }

    /// The top-level table `name` read entry by entry with `read`, in the order written.
    pub(super) fn each<'i, K: std::hash::Hash + Eq, V>(
        &mut self,
        root: &'d DeTable<'i>,
        name: &str,
        allowed: &[&str],
        mut read: impl FnMut(&mut Self, &Entry<'d, 'i>) -> Option<(K, V)>,
    ) -> indexmap::IndexMap<K, V> {
        let entries = self.entries(root, name, allowed);
        entries.iter().filter_map(|e| read(self, e)).collect()
    }

    /// A list of names that refer to entries of another table (`of`): each parsed with
    /// `parse` and recorded for the cross-reference check once every table is read.
    pub(super) fn name_refs<T>(
        &mut self,
        t: &'d DeTable<'_>,
        key: &str,
        path: &str,
        parse: fn(&str) -> Result<T, crate::types::ParseError>,
        of: Named,
    ) -> Vec<T> {
        let mut names = Vec::new();
        for raw in self.str_list(t, key, path).unwrap_or_default() {
            if let Some(n) = self.name(&raw, parse) {
                names.push(n);
            }
            self.refer(of, raw, path, key);
        }
        names
    }

    /// Records the name `at`, written at `path.field`, as one of `of`'s.
    pub(super) fn refer(&mut self, of: Named, at: Spanned<&'d str>, path: &str, field: &str) {
        let refs = &mut self.refs;
        let list = match of {
            Named::Env => &mut refs.env,
            Named::Service => &mut refs.service,
            Named::Group => &mut refs.group,
        };
        list.push(Ref::new(at, path, field));
    }

    pub(super) fn error(
        &mut self,
        span: Range<usize>,
        message: impl Into<String>,
        help: Option<String>,
    ) {
        self.diags.push(Diagnostic {
            span,
            message: message.into(),
            help,
        });
    }

    pub(super) fn table<'a, 'i>(
        &mut self,
        v: &'a Value<'i>,
        path: &str,
    ) -> Option<&'a DeTable<'i>> {
        match v.get_ref() {
            DeValue::Table(t) => Some(t),
            other => {
                self.error(
                    v.span(),
                    format!("`{path}` must be a table, found {}", other.type_str()),
                    Some(format!(
                        "write it as a table: a `[{path}]` header with its keys below it"
                    )),
                );
                None
            }
        }
    }

    /// The table under `key` in `parent` (at `path`), its keys checked against `allowed`:
    /// `None` when it is absent or not a table (that mistake reported).
    pub(super) fn sub_table<'a, 'i>(
        &mut self,
        parent: &'a DeTable<'i>,
        key: &str,
        path: &str,
        allowed: &[&str],
    ) -> Option<&'a DeTable<'i>> {
        let t = self.table(parent.get(key)?, path)?;
        self.only_keys(t, path, allowed);
        Some(t)
    }

    /// Reports every key of `t` not in `allowed`, with the closest allowed key as the fix.
    pub(super) fn only_keys(&mut self, t: &DeTable<'_>, path: &str, allowed: &[&str]) {
        for key in t.keys() {
            if !allowed.contains(&key.get_ref().as_ref()) {
                let fix = suggest::did_you_mean(key.get_ref(), allowed.iter().copied())
                    .map(|s| format!("did you mean `{s}`?"))
                    .or_else(|| {
                        Some(format!(
                            "the keys `{path}` takes are: {}",
                            allowed.join(", ")
                        ))
                    });
                self.error(
                    key.span(),
                    format!("unknown key `{}` in `{path}`", key.get_ref()),
                    fix,
                );
            }
        }
    }

    pub(super) fn str<'a>(
        &mut self,
        t: &'a DeTable<'_>,
        key: &str,
        path: &str,
    ) -> Option<Spanned<&'a str>> {
        let v = t.get(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some(Spanned::new(v.span(), s.as_ref())),
            other => {
                self.error(
                    v.span(),
                    format!(
                        "`{path}.{key}` must be a string, found {}",
                        other.type_str()
                    ),
                    Some(format!("quote it: {key} = \"…\"")),
                );
                None
            }
        }
    }

    pub(super) fn req_str<'a>(
        &mut self,
        t: &'a DeTable<'_>,
        key: &str,
        path: &str,
        at: Range<usize>,
    ) -> Option<Spanned<&'a str>> {
        if t.get(key).is_none() {
            self.error(
                at,
                format!("`{path}` is missing `{key}`"),
                Some(format!("add `{key} = \"…\"`")),
            );
            return None;
        }
        self.str(t, key, path)
    }

    pub(super) fn int(
        &mut self,
        t: &DeTable<'_>,
        key: &str,
        path: &str,
        range: Range<i64>,
    ) -> Option<Spanned<i64>> {
        let v = t.get(key)?;
        let parsed = match v.get_ref() {
            DeValue::Integer(i) => {
                i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok()
            }
            _ => None,
        };
        match parsed {
            Some(n) if range.contains(&n) => Some(Spanned::new(v.span(), n)),
            _ => {
                self.error(
                    v.span(),
                    format!(
                        "`{path}.{key}` must be a whole number from {} to {}",
                        range.start,
                        range.end - 1
                    ),
                    Some(format!(
                        "write a bare number, e.g. {key} = {}",
                        range.start.max(1)
                    )),
                );
                None
            }
        }
    }

    pub(super) fn bool(&mut self, t: &DeTable<'_>, key: &str, path: &str) -> Option<bool> {
        let v = t.get(key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            other => {
                self.error(
                    v.span(),
                    format!(
                        "`{path}.{key}` must be true or false, found {}",
                        other.type_str()
                    ),
                    Some(format!(
                        "write {key} = true or {key} = false, without quotes"
                    )),
                );
                None
            }
        }
    }

    /// The command (a list of strings) under `key` in `t`, at `path`: it must be there and not
    /// empty, or the mistake is reported at the key (at `at` when the key is absent) with
    /// `example` as the fix.
    pub(super) fn command(
        &mut self,
        t: &DeTable<'_>,
        key: &str,
        path: &str,
        at: Range<usize>,
        example: &str,
    ) -> Option<Vec<String>> {
        let listed = self.str_list(t, key, path).unwrap_or_default();
        let command: Vec<String> = listed.iter().map(|s| s.get_ref().to_string()).collect();
        if command.is_empty() {
            self.error(
                t.get(key).map_or(at, |v| v.span()),
                format!("`{path}.{key}` is missing or empty"),
                Some(format!(
                    "give the command its task runs, e.g. {key} = {example}"
                )),
            );
            return None;
        }
        Some(command)
    }

    pub(super) fn str_list<'a>(
        &mut self,
        t: &'a DeTable<'_>,
        key: &str,
        path: &str,
    ) -> Option<Vec<Spanned<&'a str>>> {
        let v = t.get(key)?;
        let DeValue::Array(items) = v.get_ref() else {
            self.error(
                v.span(),
                format!("`{path}.{key}` must be a list of strings"),
                Some(format!("write it like {key} = [\"a\", \"b\"]")),
            );
            return None;
        };
        let mut out = Vec::new();
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(s) => out.push(Spanned::new(item.span(), s.as_ref())),
                other => self.error(
                    item.span(),
                    format!("`{path}.{key}` holds strings, found {}", other.type_str()),
                    Some("quote each item: [\"a\", \"b\"]".into()),
                ),
            }
        }
        Some(out)
    }

    pub(super) fn duration(
        &mut self,
        t: &DeTable<'_>,
        key: &str,
        path: &str,
        default: SignedDuration,
    ) -> SignedDuration {
        let Some(raw) = self.str(t, key, path) else {
            return default;
        };
        match parse_duration(raw.get_ref()) {
            Some(d) => d,
            None => {
                self.error(
                    raw.span(),
                    format!("`{path}.{key}` = \"{}\" is not a duration", raw.get_ref()),
                    Some(
                        "write a positive duration such as \"45m\", \"2h\", \"7d\" or \"1h 30m\""
                            .into(),
                    ),
                );
                default
            }
        }
    }

    /// A typed name (env, service, group…) through its parser, reporting the parser's message.
    pub(super) fn name<T>(
        &mut self,
        raw: &Spanned<&str>,
        parse: fn(&str) -> Result<T, crate::types::ParseError>,
    ) -> Option<T> {
        match parse(raw.get_ref()) {
            Ok(v) => Some(v),
            Err(e) => {
                self.error(raw.span(), e.to_string(), None);
                None
            }
        }
    }
}

/// "2h", "45m", "7d", "1h 30m" (jiff's friendly format; days count as 24 hours).
pub fn parse_duration(raw: &str) -> Option<SignedDuration> {
    let span: jiff::Span = raw.parse().ok()?;
    let d = span
        .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
        .ok()?;
    d.is_positive().then_some(d)
}
