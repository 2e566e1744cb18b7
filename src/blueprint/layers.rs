//! Layers: the deployment order of the blueprint's parts. A list of names is a
//! total order (each layer after the one before it); an entry written as a
//! map may name the layers it comes `after` instead, which makes the order
//! partial. A layer written as a map may also name the namespace its
//! components land in when they name none. The checks: names, duplicates,
//! unknown `after` names, cycles and namespace names.

use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::check::Check;
use super::model::Blueprint;
use crate::error::{ErrorKind, Result};
use crate::pointer::push;
use crate::suggest;

/// One entry of `layers:`.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
#[schemars(with = "LayerSchema")]
pub struct Layer {
    pub name: String,
    /// `None`: after the entry before it in the list.
    pub after: Option<Vec<String>>,
    /// The namespace of its components that name none; `None`: by `system.namespaces`.
    pub namespace: Option<String>,
}

/// The two ways a layer is written, for the editor schema.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum LayerSchema {
    /// A layer's name; it deploys after the layer listed before it.
    Name(String),
    Spec(LayerSpec),
}

/// A layer with its settings.
#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LayerSpec {
    name: String,
    /// Layers this one deploys after; `[]` for none. Without it, the layer
    /// deploys after the one listed before it. Layers that are not ordered
    /// against each other deploy side by side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<Vec<String>>,
    /// The namespace every app, chart and manifest set of this layer lands
    /// in unless it names its own `namespace:`; it wins over
    /// `system.namespaces`. Without it, `system.namespaces` decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
}

impl Serialize for Layer {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.after.is_none() && self.namespace.is_none() {
            return serializer.serialize_str(&self.name);
        }
        LayerSpec {
            name: self.name.clone(),
            after: self.after.clone(),
            namespace: self.namespace.clone(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Layer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LayerVisitor;
        impl<'de> Visitor<'de> for LayerVisitor {
            type Value = Layer;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a layer name, or a map with `name`, `after` and `namespace`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Layer, E> {
                Ok(Layer {
                    name: v.to_string(),
                    after: None,
                    namespace: None,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Layer, A::Error> {
                let spec = LayerSpec::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Layer {
                    name: spec.name,
                    after: spec.after,
                    namespace: spec.namespace,
                })
            }
        }
        deserializer.deserialize_any(LayerVisitor)
    }
}

impl Blueprint {
    /// Layer names in list order.
    pub fn layer_names(&self) -> impl Iterator<Item = &str> + Clone {
        self.layers.iter().map(|l| l.name.as_str())
    }

    pub fn layer_index(&self, name: &str) -> Option<usize> {
        self.layer_names().position(|l| l == name)
    }

    /// The namespace layer `name` names for its components, if it names one.
    pub fn layer_namespace(&self, name: &str) -> Option<&str> {
        self.layers
            .iter()
            .find(|l| l.name == name)
            .and_then(|l| l.namespace.as_deref())
    }

    /// For each layer, the indices of the layers it deploys directly after,
    /// sorted. Names are checked before this is read; unknown ones are skipped.
    pub fn layer_predecessors(&self) -> Vec<Vec<usize>> {
        self.layers
            .iter()
            .enumerate()
            .map(|(i, layer)| match &layer.after {
                None => i.checked_sub(1).into_iter().collect(),
                Some(after) => {
                    let mut out: Vec<usize> =
                        after.iter().filter_map(|a| self.layer_index(a)).collect();
                    out.sort_unstable();
                    out.dedup();
                    out
                }
            })
            .collect()
    }
}

/// Names that are gitopsc's own directories.
const RESERVED_LAYERS: [&str; 3] = ["gitops", "namespaces", "bootstrap"];

pub(super) fn check_layers(c: &Check, bp: &Blueprint, max_name: usize) -> Result<()> {
    if bp.layers.is_empty() {
        return Err(c.fail(
            ErrorKind::InvalidValue,
            "/layers",
            "no layers are defined",
            "list the deployment layers in order, e.g. `[infrastructure, apps]`",
        ));
    }
    let name_at = |i: usize| {
        let at = push("/layers", &i.to_string());
        let layer = &bp.layers[i];
        if layer.after.is_some() || layer.namespace.is_some() {
            push(&at, "name")
        } else {
            at
        }
    };
    for (i, layer) in bp.layers.iter().enumerate() {
        let at = name_at(i);
        let name = layer.name.as_str();
        c.dns_label(&at, name, "layer", max_name)?;
        if RESERVED_LAYERS.contains(&name) {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &at,
                format!("layer name `{name}` is reserved"),
                "`gitops`, `namespaces` and `bootstrap` are directories gitopsc writes itself; pick another name",
            ));
        }
        if bp.layers[..i].iter().any(|l| l.name == name) {
            return Err(c.fail(
                ErrorKind::InvalidValue,
                &at,
                format!("layer `{name}` is listed twice"),
                "each layer appears once",
            ));
        }
        if let Some(ns) = &layer.namespace {
            let at = push(&push("/layers", &i.to_string()), "namespace");
            c.dns_label(&at, ns, "namespace", 63)?;
        }
    }
    for (i, layer) in bp.layers.iter().enumerate() {
        for (j, other) in layer.after.iter().flatten().enumerate() {
            let at = push(
                &push(&push("/layers", &i.to_string()), "after"),
                &j.to_string(),
            );
            if bp.layer_index(other).is_none() {
                return Err(c.fail(
                    ErrorKind::UnknownReference,
                    &at,
                    format!(
                        "layer `{}` is after `{other}`, which is not a layer",
                        layer.name
                    ),
                    suggest::help_for(other, "layers", bp.layer_names()),
                ));
            }
            if *other == layer.name {
                return Err(c.fail(
                    ErrorKind::InvalidValue,
                    &at,
                    format!("layer `{other}` is after itself"),
                    "name the layers it deploys after, or `[]` for none",
                ));
            }
        }
    }
    if let Some(cycle) = layer_cycle(&bp.layer_predecessors()) {
        let names: Vec<&str> = cycle.iter().map(|&i| bp.layers[i].name.as_str()).collect();
        // Blame the `after` entry that closes the loop: that is what a person edits.
        let (from, to) = (cycle[0], cycle[1]);
        let at = match &bp.layers[from].after {
            Some(after) => {
                let j = after
                    .iter()
                    .position(|a| *a == bp.layers[to].name)
                    .unwrap_or(0);
                push(
                    &push(&push("/layers", &from.to_string()), "after"),
                    &j.to_string(),
                )
            }
            None => name_at(from),
        };
        return Err(c.fail(
            ErrorKind::Cycle,
            &at,
            format!("layer order has a cycle: {}", names.join(" after ")),
            "remove one of these `after` entries",
        ));
    }
    Ok(())
}

/// A path `a, b, ..., a` where each layer is after the next, if there is one;
/// found by depth-first search from the lowest index, so the same blueprint
/// always names the same cycle.
fn layer_cycle(predecessors: &[Vec<usize>]) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        Open,
        Done,
    }
    fn visit(
        i: usize,
        predecessors: &[Vec<usize>],
        state: &mut [State],
        path: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        state[i] = State::Open;
        path.push(i);
        for &p in &predecessors[i] {
            match state[p] {
                State::Open => {
                    let start = path.iter().position(|&q| q == p).unwrap_or(0);
                    let mut cycle = path[start..].to_vec();
                    cycle.push(p);
                    return Some(cycle);
                }
                State::New => {
                    if let Some(c) = visit(p, predecessors, state, path) {
                        return Some(c);
                    }
                }
                State::Done => {}
            }
        }
        path.pop();
        state[i] = State::Done;
        None
    }
    let mut state = vec![State::New; predecessors.len()];
    (0..predecessors.len()).find_map(|i| {
        if state[i] != State::New {
            return None;
        }
        visit(i, predecessors, &mut state, &mut Vec::new())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers(yaml: &str) -> Vec<Layer> {
        let value = crate::yaml::parse_document("layers.yaml", yaml.as_bytes())
            .unwrap()
            .value;
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_layer_names_its_namespace_and_keeps_its_place_in_the_order() {
        let read = layers("[platform, {name: apps, namespace: production}]");
        assert_eq!(read[1].namespace.as_deref(), Some("production"));
        // No `after`: still after the entry before it.
        assert_eq!(read[1].after, None);
        // Written back as a map only where it needs one, so it reads the same again.
        let written = serde_json::to_value(&read).unwrap();
        assert_eq!(
            written,
            serde_json::json!(["platform", {"name": "apps", "namespace": "production"}])
        );
        assert_eq!(serde_json::from_value::<Vec<Layer>>(written).unwrap(), read);
    }

    #[test]
    fn a_loop_of_after_entries_is_found_and_a_tree_is_not() {
        assert_eq!(layer_cycle(&[vec![], vec![0], vec![0]]), None);
        assert_eq!(
            layer_cycle(&[vec![2], vec![0], vec![1]]),
            Some(vec![0, 2, 1, 0])
        );
    }
}
