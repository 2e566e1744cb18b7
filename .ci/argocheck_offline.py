"""Runs argocheck's app-of-apps walk over one rendered environment, offline.

Usage: python argocheck_offline.py REPO_URL CHECKOUT ROOT_APP_FILE

argocheck resolves every Application source by cloning its Git repository or
pulling its Helm chart. Here the GitOps repository is the local CHECKOUT (the
rendered tree laid out as the engine sees it), and chart sources resolve to an
empty directory: argocheck's Helm rendering (which needs `helm` and the chart
registries) is skipped, everything else (parsing, source paths, the tree of
Applications, cycles, depth) runs as argocheck runs it. Exit 1 on any error.
"""

import sys
import tempfile
from pathlib import Path

from argocheck import plugins, resolver, walker
from argocheck.display import render_tree
from argocheck.parser import load_yaml_file, parse_application


class OfflineSources(plugins.ArgocheckPlugin):
    name = "offline-sources"

    def __init__(self, repo_url: str, checkout: Path, empty: Path):
        self.repo_url = repo_url
        self.checkout = checkout
        self.empty = empty

    def resolve_source(self, source, context):
        if source.chart:
            return self.empty
        if source.repo_url == self.repo_url:
            path = self.checkout / (source.path or "")
            if not path.is_dir():
                raise resolver.ResolveError(f"path {source.path!r} not found in {self.repo_url}")
            return path
        return None


def errors(node, trail=()):
    here = trail + (node.name,)
    if node.error:
        yield " > ".join(here), node.error
    for child in node.children:
        yield from errors(child, here)


def main() -> int:
    repo_url, checkout, root_file = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    with tempfile.TemporaryDirectory(prefix="argocheck-offline-") as tmp:
        empty = Path(tmp) / "chart-skipped"
        empty.mkdir()
        registry = plugins.PluginRegistry([OfflineSources(repo_url, checkout, empty)])
        # The walk and the resolver look the registry up through this function.
        for module in (walker, resolver, plugins):
            module.get_registry = lambda: registry
        root = parse_application(load_yaml_file(root_file))
        tree = walker.walk(root, tmp_dir=Path(tmp), _parent_chart_dir=root_file.parent)
    render_tree(tree)
    found = list(errors(tree))
    for where, error in found:
        print(f"argocheck: {where}: {error}", file=sys.stderr)
    count = sum(1 for _ in walk_nodes(tree))
    print(f"argocheck: {count} Applications walked, {len(found)} with errors")
    return 1 if found else 0


def walk_nodes(node):
    yield node
    for child in node.children:
        yield from walk_nodes(child)


if __name__ == "__main__":
    sys.exit(main())
