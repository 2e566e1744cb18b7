// The cdk8s peer: a Chart per app in an App per environment, each object an
// ApiObject, as a cdk8s user writes it without generated imports (those need
// `cdk8s import`, which downloads the schema). `cdk8s synth` runs it through
// cdk8s.yaml; APPS is the number of apps.
const { App, Chart, ApiObject } = require('cdk8s');

const apps = Number(process.env.APPS);
const domains = { dev: 'dev.example.com', staging: 'staging.example.com', prod: 'example.com' };
const appName = (i) => `app-${String(i).padStart(4, '0')}`;
const selector = (n) => ({ 'app.kubernetes.io/instance': `synthetic-${n}`, 'app.kubernetes.io/name': n });
const labels = (n) => ({
  'app.kubernetes.io/component': 'apps',
  'app.kubernetes.io/instance': `synthetic-${n}`,
  'app.kubernetes.io/managed-by': 'cdk8s',
  'app.kubernetes.io/name': n,
  'app.kubernetes.io/part-of': 'synthetic',
});
const meta = (n, name = n) => ({ name, namespace: 'apps', labels: labels(n) });

class AppChart extends Chart {
  constructor(scope, env, i) {
    const n = appName(i);
    super(scope, n, { disableResourceNameHashes: true });
    const host = `${n}.${domains[env]}`;
    const obj = (id, props) => new ApiObject(this, id, props);
    obj('sa', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(n), automountServiceAccountToken: false });
    obj('config', { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(n, `${n}-config`), data: { 'app.yaml': `name: ${n}\nport: 8080\n` } });
    obj('secret', {
      apiVersion: 'external-secrets.io/v1',
      kind: 'ExternalSecret',
      metadata: meta(n, `${n}-vault`),
      spec: {
        secretStoreRef: { kind: 'ClusterSecretStore', name: 'vault' },
        target: { name: `${n}-vault` },
        data: [{ secretKey: 'DB_PASSWORD', remoteRef: { key: `apps/${n}`, property: 'db_password' } }],
      },
    });
    const envVars = [
      { name: 'APP_NAME', value: n },
      { name: 'LOG_LEVEL', value: env === 'dev' ? 'debug' : 'info' },
      ...(env === 'staging' ? [{ name: 'FEATURE_FLAGS', value: 'beta' }] : []),
      { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: `${n}-vault`, key: 'DB_PASSWORD' } } },
    ];
    const podSpec = {
      automountServiceAccountToken: false,
      serviceAccountName: n,
      containers: [{
        name: n,
        image: `ghcr.io/acme/${n}:1.0.${i}`,
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
      volumes: [{ name: 'config', configMap: { name: `${n}-config` } }, { name: 'tmp', emptyDir: { sizeLimit: '256Mi' } }],
      ...(env === 'prod'
        ? {
          topologySpreadConstraints: [{
            labelSelector: { matchLabels: selector(n) },
            maxSkew: 1,
            topologyKey: 'topology.kubernetes.io/zone',
            whenUnsatisfiable: 'DoNotSchedule',
          }],
        }
        : {}),
    };
    obj('deployment', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { ...meta(n), labels: { ...labels(n), 'app.kubernetes.io/version': `1.0.${i}` } },
      spec: { revisionHistoryLimit: 5, selector: { matchLabels: selector(n) }, template: { metadata: { labels: labels(n) }, spec: podSpec } },
    });
    obj('service', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(n),
      spec: { selector: selector(n), ports: [{ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' }] },
    });
    obj('ingress', {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { ...meta(n), annotations: { 'cert-manager.io/cluster-issuer': 'letsencrypt' } },
      spec: {
        ingressClassName: 'nginx',
        tls: [{ hosts: [host], secretName: `${n}-tls` }],
        rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: n, port: { name: 'http' } } } }] } }],
      },
    });
    obj('hpa', {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: meta(n),
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: n },
        minReplicas: env === 'prod' ? 3 : 2,
        maxReplicas: env === 'prod' ? 10 : 5,
      },
    });
    obj('pdb', { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: meta(n), spec: { maxUnavailable: 1, selector: { matchLabels: selector(n) } } });
    if (env !== 'dev') {
      obj('ingress-policy', {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: meta(n, `ingress-${n}`),
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
      });
    }
    if (env === 'prod') {
      obj('egress-policy', {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: meta(n, `egress-${n}`),
        spec: {
          podSelector: { matchLabels: selector(n) },
          policyTypes: ['Egress'],
          egress: [
            ...(i > 0
              ? [{
                to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'apps' } }, podSelector: { matchLabels: selector(appName(i - 1)) } }],
                ports: [{ port: 8080, protocol: 'TCP' }],
              }]
              : []),
            {
              to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'data' } }, podSelector: { matchLabels: selector('postgres') } }],
              ports: [{ port: 5432, protocol: 'TCP' }],
            },
          ],
        },
      });
    }
    obj('flux', {
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      metadata: { name: `synthetic-apps-${n}`, namespace: 'flux-system' },
      spec: {
        interval: '10m',
        path: `./clusters/${env}/apps/${n}`,
        prune: true,
        sourceRef: { kind: 'GitRepository', name: 'synthetic' },
        dependsOn: [{ name: 'synthetic-data-postgres' }, ...(i > 0 ? [{ name: `synthetic-apps-${appName(i - 1)}` }] : [])],
        wait: true,
      },
    });
  }
}

for (const env of ['dev', 'staging', 'prod']) {
  const app = new App({ outdir: `dist/${env}` });
  for (let i = 0; i < apps; i++) new AppChart(app, env, i);
  app.synth();
}
