//! `gitopsc graph`: layers, components, `uses` edges and the derived
//! deployment order, as mermaid or Graphviz dot. One environment draws as
//! its own chart; several (every environment by default) draw as one chart
//! with a box per environment, in promotion order, so they read side by side.

use std::sync::Arc;

use super::EXIT_OK;
use crate::cli::{GraphFormat, ProjectArgs};
use crate::error::Result;
use crate::graph::{Graph, Reason};
use crate::render::UnitKind;
use crate::resolve::{ComponentKind, ResolvedEnv};
use crate::{blueprint, graph, render, resolve};

pub fn run(args: &ProjectArgs, format: GraphFormat) -> Result<u8> {
    let root = crate::discovery::project_root(args.root.as_deref())?;
    let project = blueprint::load(Arc::new(crate::workspace::read_sources(&root)?))?;
    let selected = crate::EnvSelection::from_flags(&args.envs).names(&project)?;
    let mut drawn = Vec::new();
    for name in resolve::promotion_order(&project) {
        if !selected.contains(&name) {
            continue;
        }
        let env = resolve::resolve(&project, &name)?;
        let manifests = render::render(&env)?;
        let graph = graph::build(&env, &manifests)?;
        drawn.push((env, graph));
    }
    let text = match drawn.as_slice() {
        [(env, graph)] => draw(env, graph, format),
        several => draw_all(several, format),
    };
    print!("{text}");
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

/// Where one environment's drawing goes: alone, or inside a chart of several,
/// where its node ids carry the environment so that no two collide.
struct Scope<'a> {
    env: Option<&'a str>,
    indent: &'a str,
}

impl Scope<'_> {
    fn mermaid_id(&self, name: &str) -> String {
        match self.env {
            Some(env) => node_id(&format!("{env}__{name}")),
            None => node_id(name),
        }
    }

    fn dot_id(&self, name: &str) -> String {
        match self.env {
            Some(env) => format!("{env}/{name}"),
            None => name.to_string(),
        }
    }
}

/// One environment's chart.
pub fn draw(env: &ResolvedEnv, graph: &Graph, format: GraphFormat) -> String {
    let scope = Scope {
        env: None,
        indent: "  ",
    };
    let title = format!(
        "gitopsc graph of {} in {}",
        env.blueprint.system.name, env.name
    );
    match format {
        GraphFormat::Mermaid => format!(
            "%% {title}\nflowchart LR\n{}",
            body(env, graph, format, &scope)
        ),
        GraphFormat::Dot => format!(
            "// {title}\ndigraph gitopsc {{\n  rankdir=LR;\n  node [shape=box];\n{}}}\n",
            body(env, graph, format, &scope)
        ),
    }
}

/// Several environments in one chart, a box each.
fn draw_all(drawn: &[(ResolvedEnv, Graph)], format: GraphFormat) -> String {
    let system = drawn
        .first()
        .map(|(env, _)| env.blueprint.system.name.as_str())
        .unwrap_or_default();
    let names: Vec<&str> = drawn.iter().map(|(env, _)| env.name.as_str()).collect();
    let title = format!("gitopsc graph of {system} in {}", names.join(", "));
    let mut out = match format {
        GraphFormat::Mermaid => format!("%% {title}\nflowchart LR\n"),
        GraphFormat::Dot => {
            format!("// {title}\ndigraph gitopsc {{\n  rankdir=LR;\n  node [shape=box];\n")
        }
    };
    for (env, graph) in drawn {
        let scope = Scope {
            env: Some(&env.name),
            indent: "    ",
        };
        let inner = body(env, graph, format, &scope);
        match format {
            GraphFormat::Mermaid => out.push_str(&format!(
                "  subgraph {}[\"{}\"]\n{inner}  end\n",
                node_id(&format!("env_{}", env.name)),
                env.name
            )),
            GraphFormat::Dot => out.push_str(&format!(
                "  subgraph \"cluster_env_{0}\" {{\n    label=\"{0}\";\n{inner}  }}\n",
                env.name
            )),
        }
    }
    if format == GraphFormat::Dot {
        out.push_str("}\n");
    }
    out
}

/// Component nodes grouped by layer; `uses` edges solid, other ordering dashed.
fn body(env: &ResolvedEnv, graph: &Graph, format: GraphFormat, scope: &Scope) -> String {
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
    let by_layer: Vec<(&str, Vec<usize>)> = env
        .blueprint
        .layer_names()
        .map(|layer| {
            let members = components
                .iter()
                .copied()
                .filter(|&i| graph.nodes[i].layer.as_deref() == Some(layer))
                .collect();
            (layer, members)
        })
        .filter(|(_, m): &(&str, Vec<usize>)| !m.is_empty())
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
    let pad = scope.indent;
    let name = |i: usize| graph.nodes[i].name.as_str();
    let mut out = String::new();
    match format {
        GraphFormat::Mermaid => {
            for (layer, members) in &by_layer {
                out.push_str(&format!(
                    "{pad}subgraph {}[\"{layer}\"]\n",
                    scope.mermaid_id(&format!("layer_{layer}"))
                ));
                for &i in members {
                    out.push_str(&format!(
                        "{pad}  {}[\"{}\"]\n",
                        scope.mermaid_id(name(i)),
                        label(i)
                    ));
                }
                out.push_str(&format!("{pad}end\n"));
            }
            for (i, j, style) in edges {
                let arrow = match style {
                    "uses" => "-->|uses|",
                    "crds" => "-.->|CRDs|",
                    _ => "-.->",
                };
                out.push_str(&format!(
                    "{pad}{} {arrow} {}\n",
                    scope.mermaid_id(name(i)),
                    scope.mermaid_id(name(j))
                ));
            }
        }
        GraphFormat::Dot => {
            let cluster = |layer: &str| match scope.env {
                Some(env) => format!("cluster_{env}_{layer}"),
                None => format!("cluster_{layer}"),
            };
            for (layer, members) in &by_layer {
                out.push_str(&format!(
                    "{pad}subgraph \"{}\" {{\n{pad}  label=\"{layer}\";\n",
                    cluster(layer)
                ));
                for &i in members {
                    out.push_str(&format!(
                        "{pad}  \"{}\" [label=\"{}\"];\n",
                        scope.dot_id(name(i)),
                        label(i)
                    ));
                }
                out.push_str(&format!("{pad}}}\n"));
            }
            for (i, j, style) in edges {
                let attrs = match style {
                    "uses" => " [label=\"uses\"]",
                    "crds" => " [style=dashed, label=\"CRDs\"]",
                    _ => " [style=dashed]",
                };
                out.push_str(&format!(
                    "{pad}\"{}\" -> \"{}\"{attrs};\n",
                    scope.dot_id(name(i)),
                    scope.dot_id(name(j))
                ));
            }
        }
    }
    out
}
