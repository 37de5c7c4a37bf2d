//! Layered TOML configuration: defaults, then files, then command-line options, merged key by
//! key ([`merge_tables`]).

/// The keys that name the variant of a tagged enum in the workspace's configurations
/// (`#[serde(tag = "...")]`): `shape` (fiducial volumes, energy spectra), `kind` (plot windows,
/// simulation kinds), `distribution`, `type`.
pub const TAG_KEYS: [&str; 4] = ["shape", "kind", "distribution", "type"];

/// Merges `over` into `base`: tables recursively, every other value (arrays included) replaced.
///
/// A table of `over` that names another variant of a tagged enum than the table of `base` at
/// the same key (a different value of one of the [`TAG_KEYS`]) replaces that table whole, so
/// that the keys of the old variant do not linger (a `[fv] shape = "cylinder"` default with
/// `r_max_cm`, overridden by `shape = "r2_of_z"`, must not keep `r_max_cm`).
///
/// ```
/// let mut base: toml::Table = "a = 1\n[fv]\nshape = \"cylinder\"\nr_max_cm = 40.0\n".parse().unwrap();
/// let over: toml::Table = "[fv]\nshape = \"box\"\nside_cm = 10.0\n".parse().unwrap();
/// hep_core::config::merge_tables(&mut base, over);
/// assert_eq!(toml::to_string(&base).unwrap(), "a = 1\n\n[fv]\nshape = \"box\"\nside_cm = 10.0\n");
/// ```
pub fn merge_tables(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) if !other_variant(b, &o) => {
                merge_tables(b, o);
            }
            (_, v) => {
                base.insert(key, v);
            }
        }
    }
}

/// True if `over` names a different variant than `base` (see [`merge_tables`]).
fn other_variant(base: &toml::Table, over: &toml::Table) -> bool {
    TAG_KEYS
        .iter()
        .any(|k| matches!((base.get(*k), over.get(*k)), (Some(a), Some(b)) if a != b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_variant_merges_key_by_key_and_nested_tables_too() {
        let mut base: toml::Table =
            "[e]\nkind = \"flat\"\nlo = 1.0\nhi = 2.0\n[e.inner]\nx = 1\ny = 2\n"
                .parse()
                .unwrap();
        let over: toml::Table = "[e]\nkind = \"flat\"\nhi = 5.0\n[e.inner]\ny = 3\n"
            .parse()
            .unwrap();
        merge_tables(&mut base, over);
        let want: toml::Table =
            "[e]\nkind = \"flat\"\nlo = 1.0\nhi = 5.0\n[e.inner]\nx = 1\ny = 3\n"
                .parse()
                .unwrap();
        assert_eq!(base, want);
        // A table without a tag merges into a tagged one (a partial override of its fields).
        let over: toml::Table = "[e]\nlo = 0.5\n".parse().unwrap();
        merge_tables(&mut base, over);
        assert_eq!(base["e"]["lo"].as_float(), Some(0.5));
        assert_eq!(base["e"]["kind"].as_str(), Some("flat"));
    }
}
