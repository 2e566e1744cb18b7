// The synthetic system's per-app objects for one environment, as a Jsonnet
// user writes them: one function per object, the environment's differences
// as conditionals. Used as is by the Jsonnet and Kapitan peers.
local domains = { dev: 'dev.example.com', staging: 'staging.example.com', prod: 'example.com' };

local name(i) = 'app-' + std.format('%04d', i);

local labels(n) = {
  'app.kubernetes.io/component': 'apps',
  'app.kubernetes.io/instance': 'synthetic-' + n,
  'app.kubernetes.io/managed-by': 'jsonnet',
  'app.kubernetes.io/name': n,
  'app.kubernetes.io/part-of': 'synthetic',
};
local selector(n) = { 'app.kubernetes.io/instance': 'synthetic-' + n, 'app.kubernetes.io/name': n };
local meta(n, kindName=n) = { name: kindName, namespace: 'apps', labels: labels(n) };

local app(env, i, apps) =
  local n = name(i);
  local envVars =
    [{ name: 'APP_NAME', value: n }, { name: 'LOG_LEVEL', value: if env == 'dev' then 'debug' else 'info' }]
    + (if env == 'staging' then [{ name: 'FEATURE_FLAGS', value: 'beta' }] else [])
    + [{ name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: n + '-vault', key: 'DB_PASSWORD' } } }];
  [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(n), automountServiceAccountToken: false },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(n, n + '-config'), data: { 'app.yaml': 'name: %s\nport: 8080\n' % n } },
    {
      apiVersion: 'external-secrets.io/v1',
      kind: 'ExternalSecret',
      metadata: meta(n, n + '-vault'),
      spec: {
        secretStoreRef: { kind: 'ClusterSecretStore', name: 'vault' },
        target: { name: n + '-vault' },
        data: [{ secretKey: 'DB_PASSWORD', remoteRef: { key: 'apps/' + n, property: 'db_password' } }],
      },
    },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(n) { labels+: { 'app.kubernetes.io/version': '1.0.%d' % i } },
      spec: {
        revisionHistoryLimit: 5,
        selector: { matchLabels: selector(n) },
        template: {
          metadata: { labels: labels(n) },
          spec: {
            automountServiceAccountToken: false,
            serviceAccountName: n,
            containers: [{
              name: n,
              image: 'ghcr.io/acme/%s:1.0.%d' % [n, i],
              env: envVars,
              ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
              readinessProbe: { httpGet: { path: '/ready', port: 'http' } },
              livenessProbe: { httpGet: { path: '/live', port: 'http' } },
              resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
              securityContext: {
                allowPrivilegeEscalation: false,
                capabilities: { drop: ['ALL'] },
                privileged: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
              },
              volumeMounts: [{ name: 'config', mountPath: '/etc/app', readOnly: true }, { name: 'tmp', mountPath: '/tmp' }],
            }],
            securityContext: { fsGroup: 10001, runAsGroup: 10001, runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } },
            volumes: [{ name: 'config', configMap: { name: n + '-config' } }, { name: 'tmp', emptyDir: { sizeLimit: '256Mi' } }],
          } + (if env == 'prod' then {
                 topologySpreadConstraints: [{
                   labelSelector: { matchLabels: selector(n) },
                   maxSkew: 1,
                   topologyKey: 'topology.kubernetes.io/zone',
                   whenUnsatisfiable: 'DoNotSchedule',
                 }],
               } else {}),
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(n),
      spec: { selector: selector(n), ports: [{ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' }] },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: meta(n) { annotations: { 'cert-manager.io/cluster-issuer': 'letsencrypt' } },
      spec: {
        ingressClassName: 'nginx',
        tls: [{ hosts: ['%s.%s' % [n, domains[env]]], secretName: n + '-tls' }],
        rules: [{
          host: '%s.%s' % [n, domains[env]],
          http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: n, port: { name: 'http' } } } }] },
        }],
      },
    },
    {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: meta(n),
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: n },
        minReplicas: if env == 'prod' then 3 else 2,
        maxReplicas: if env == 'prod' then 10 else 5,
      },
    },
    { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: meta(n), spec: { maxUnavailable: 1, selector: { matchLabels: selector(n) } } },
  ]
  + (if env != 'dev' then [{
       apiVersion: 'networking.k8s.io/v1',
       kind: 'NetworkPolicy',
       metadata: meta(n, 'ingress-' + n),
       spec: {
         podSelector: { matchLabels: selector(n) },
         policyTypes: ['Ingress'],
         ingress: [{
           from: [{
             namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } },
             podSelector: { matchLabels: { 'app.kubernetes.io/component': 'controller', 'app.kubernetes.io/name': 'ingress-nginx' } },
           }],
           ports: [{ port: 8080, protocol: 'TCP' }],
         }],
       },
     }] else [])
  + (if env == 'prod' then [{
       apiVersion: 'networking.k8s.io/v1',
       kind: 'NetworkPolicy',
       metadata: meta(n, 'egress-' + n),
       spec: {
         podSelector: { matchLabels: selector(n) },
         policyTypes: ['Egress'],
         egress: (if i > 0 then [{
                    to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'apps' } }, podSelector: { matchLabels: selector(name(i - 1)) } }],
                    ports: [{ port: 8080, protocol: 'TCP' }],
                  }] else [])
                 + [{
                   to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'data' } }, podSelector: { matchLabels: selector('postgres') } }],
                   ports: [{ port: 5432, protocol: 'TCP' }],
                 }],
       },
     }] else [])
  + [{
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name: 'synthetic-apps-' + n, namespace: 'flux-system' },
    spec: {
      interval: '10m',
      path: './clusters/%s/apps/%s' % [env, n],
      prune: true,
      sourceRef: { kind: 'GitRepository', name: 'synthetic' },
      dependsOn: [{ name: 'synthetic-data-postgres' }] + (if i > 0 then [{ name: 'synthetic-apps-' + name(i - 1) }] else []),
      wait: true,
    },
  }];

{
  name:: name,
  app:: app,
  // File name -> the app's objects, for every app of one environment.
  files(env, apps):: { [name(i)]: app(env, i, apps) for i in std.range(0, apps - 1) },
}
