// The Kapitan peer's component: the target's environment and app count from
// the inventory, the objects from the same library as the Jsonnet peer; each
// key becomes one YAML file under compiled/<target>/apps/.
local kap = import 'lib/kapitan.libjsonnet';
local lib = import 'apps.libsonnet';
local p = kap.inventory().parameters;

lib.files(p.env, p.apps)
