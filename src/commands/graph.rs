//! `gitopsc graph`: layers, components, `uses` edges and the derived
//! deployment order of one environment, as mermaid or Graphviz dot.

use std::sync::Arc;

use super::EXIT_OK;
use crate::cli::{GraphFormat, ProjectArgs};
use crate::error::{Error, ErrorKind, Result};
use crate::graph::{Graph, Reason};
use crate::render::UnitKind;
use crate::resolve::{ComponentKind, ResolvedEnv};
use crate::{blueprint, graph, render, resolve, workspace};

pub fn run(args: &ProjectArgs, format: GraphFormat) -> Result<u8> {
    let root = workspace::project_root(args.root.as_deref())?;
    let project = blueprint::load(Arc::new(workspace::read_sources(&root)?))?;
    let env_name = match args.envs.as_slice() {
        [] => resolve::environment_names(&project)
            .into_iter()
            .next()
            .unwrap_or_default(),
        [one] => one.clone(),
        _ => {
            return Err(Error::plain(
                ErrorKind::Usage,
                "`graph` draws one environment; pass a single `--env`",
            ));
        }
    };
    crate::EnvSelection::Only(vec![env_name.clone()]).names(&project)?;
    let env = resolve::resolve(&project, &env_name)?;
    let manifests = render::render(&env)?;
    let graph = graph::build(&env, &manifests)?;
    print!("{}", draw(&env, &graph, format));
    Ok(EXIT_OK)
}

fn node_id(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn kind_label(kind: UnitKind) -> &'static str {
    match kind {
        UnitKind::Component(ComponentKind::App) => "app",
        UnitKind::Component(ComponentKind::Chart) => "chart",
        UnitKind::Component(ComponentKind::Manifests) => "manifests",
        UnitKind::Component(ComponentKind::Gateway) => "gateway",
        UnitKind::Namespace => "namespace",
        UnitKind::Entry => "entry",
    }
}

/// Component nodes grouped by layer; `uses` edges solid, other ordering dashed.
pub fn draw(env: &ResolvedEnv, graph: &Graph, format: GraphFormat) -> String {
    let components: Vec<usize> = (0..graph.nodes.len())
        .filter(|&i| matches!(graph.nodes[i].kind, UnitKind::Component(_)))
        .collect();
    let mut edges = Vec::new();
    for &i in &components {
        for &j in &graph.depends_on[i] {
            if !matches!(graph.nodes[j].kind, UnitKind::Component(_)) {
                continue;
            }
            let style = match graph.edges[i].get(&j) {
                Some(Reason::Uses) => "uses",
                Some(Reason::Crd) => "crds",
                _ => "after",
            };
            edges.push((i, j, style));
        }
    }
    // Components grouped by layer, in layer order, empty layers left out.
    let by_layer: Vec<(&String, Vec<usize>)> = env
        .blueprint
        .layers
        .iter()
        .map(|layer| {
            let members = components
                .iter()
                .copied()
                .filter(|&i| graph.nodes[i].layer.as_deref() == Some(layer))
                .collect();
            (layer, members)
        })
        .filter(|(_, m): &(&String, Vec<usize>)| !m.is_empty())
        .collect();
    let label = |i: usize| {
        let n = &graph.nodes[i];
        format!(
            "{} ({}, wave {})",
            n.name,
            kind_label(n.kind),
            graph.waves[i]
        )
    };
    let mut out = String::new();
    match format {
        GraphFormat::Mermaid => {
            out.push_str(&format!(
                "%% gitopsc graph of {} in {}\nflowchart LR\n",
                env.blueprint.system.name, env.name
            ));
            for (layer, members) in &by_layer {
                out.push_str(&format!(
                    "  subgraph {}[\"{layer}\"]\n",
                    node_id(&format!("layer_{layer}"))
                ));
                for &i in members {
                    out.push_str(&format!(
                        "    {}[\"{}\"]\n",
                        node_id(&graph.nodes[i].name),
                        label(i)
                    ));
                }
                out.push_str("  end\n");
            }
            for (i, j, style) in edges {
                let arrow = match style {
                    "uses" => "-->|uses|",
                    "crds" => "-.->|CRDs|",
                    _ => "-.->",
                };
                out.push_str(&format!(
                    "  {} {arrow} {}\n",
                    node_id(&graph.nodes[i].name),
                    node_id(&graph.nodes[j].name)
                ));
            }
        }
        GraphFormat::Dot => {
            out.push_str(&format!("// gitopsc graph of {} in {}\ndigraph gitopsc {{\n  rankdir=LR;\n  node [shape=box];\n", env.blueprint.system.name, env.name));
            for (layer, members) in &by_layer {
                out.push_str(&format!(
                    "  subgraph \"cluster_{layer}\" {{\n    label=\"{layer}\";\n"
                ));
                for &i in members {
                    out.push_str(&format!(
                        "    \"{}\" [label=\"{}\"];\n",
                        graph.nodes[i].name,
                        label(i)
                    ));
                }
                out.push_str("  }\n");
            }
            for (i, j, style) in edges {
                let attrs = match style {
                    "uses" => " [label=\"uses\"]",
                    "crds" => " [style=dashed, label=\"CRDs\"]",
                    _ => " [style=dashed]",
                };
                out.push_str(&format!(
                    "  \"{}\" -> \"{}\"{attrs};\n",
                    graph.nodes[i].name, graph.nodes[j].name
                ));
            }
            out.push_str("}\n");
        }
    }
    out
}
