// The Jsonnet peer: every environment's per-app files, one YAML stream each,
// written with `jsonnet -S -m OUT --tla-code apps=N main.jsonnet`.
local lib = import 'apps.libsonnet';

function(apps) {
  [env + '/' + lib.name(i) + '.yaml']: std.manifestYamlStream(lib.app(env, i, apps))
  for env in ['dev', 'staging', 'prod']
  for i in std.range(0, apps - 1)
}
