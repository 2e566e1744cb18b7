//! Hand-worked cases from the Kubernetes NetworkPolicy docs,
//! <https://kubernetes.io/docs/concepts/services-networking/network-policies/>.

use super::*;
use serde_json::json;

fn pod(name: &str, namespace: &str, labels: &[(&str, &str)], ports: &[(u32, &str)]) -> Endpoint {
    Endpoint {
        name: name.to_string(),
        place: Place::Pods {
            namespace: namespace.to_string(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        },
        ports: ports
            .iter()
            .map(|(n, name)| Port::tcp(*n, Some(name)))
            .collect(),
    }
}

fn address(text: &str, ports: &[u32]) -> Endpoint {
    Endpoint {
        name: text.to_string(),
        place: Place::Address(text.parse().unwrap()),
        ports: ports.iter().map(|n| Port::tcp(*n, None)).collect(),
    }
}

fn policies(namespaces: &[(&str, &[(&str, &str)])], objects: &[Value]) -> Policies {
    let mut out = Policies::default();
    for (name, labels) in namespaces {
        out.add_namespace(
            name,
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
    }
    for o in objects {
        out.add_policy(Policy::parse(o).expect("a NetworkPolicy"));
    }
    out
}

fn netpol(namespace: &str, spec: Value) -> Value {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
           "metadata": {"name": "p", "namespace": namespace}, "spec": spec})
}

fn tcp(n: u32) -> Port {
    Port::tcp(n, None)
}

/// The docs' "test-network-policy": role=db pods in `default` take 6379 from
/// role=frontend pods of `default`, from every pod of a namespace labelled
/// project=myproject, and from 172.17.0.0/16 except 172.17.1.0/24; they may
/// only send to 10.0.0.0/24 on 5978.
#[test]
fn the_docs_example_policy() {
    let p = policies(
        &[
            ("default", &[]),
            ("myproject", &[("project", "myproject")]),
            ("other", &[]),
        ],
        &[netpol(
            "default",
            json!({
                "podSelector": {"matchLabels": {"role": "db"}},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{
                    "from": [
                        {"ipBlock": {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}},
                        {"namespaceSelector": {"matchLabels": {"project": "myproject"}}},
                        {"podSelector": {"matchLabels": {"role": "frontend"}}},
                    ],
                    "ports": [{"protocol": "TCP", "port": 6379}],
                }],
                "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/24"}}], "ports": [{"protocol": "TCP", "port": 5978}]}],
            }),
        )],
    );
    let db = pod(
        "db",
        "default",
        &[("role", "db")],
        &[(6379, "redis"), (8080, "admin")],
    );
    let frontend = pod("fe", "default", &[("role", "frontend")], &[]);
    let frontend_elsewhere = pod("fe2", "other", &[("role", "frontend")], &[]);
    let anyone_in_project = pod("x", "myproject", &[], &[]);
    let redis = Port::tcp(6379, Some("redis"));
    assert!(p.allows(&frontend, &db, &redis));
    assert!(p.allows(&anyone_in_project, &db, &redis));
    // A bare podSelector means the policy's own namespace only.
    assert!(!p.allows(&frontend_elsewhere, &db, &redis));
    // Only the listed port.
    assert!(!p.allows(&frontend, &db, &Port::tcp(8080, Some("admin"))));
    // ipBlock with except: 172.17.0.x and 172.17.2.x yes, 172.17.1.x no.
    assert!(p.allows(&address("172.17.0.9", &[]), &db, &redis));
    assert!(p.allows(&address("172.17.2.9", &[]), &db, &redis));
    assert!(!p.allows(&address("172.17.1.9", &[]), &db, &redis));
    assert!(!p.allows(&address("172.18.0.1", &[]), &db, &redis));
    // Egress: 10.0.0.0/24 on 5978 only; pods not selected stay unrestricted.
    assert!(p.allows(&db, &address("10.0.0.7", &[5978]), &tcp(5978)));
    assert!(!p.allows(&db, &address("10.0.0.7", &[80]), &tcp(80)));
    assert!(!p.allows(&db, &address("10.0.1.7", &[5978]), &tcp(5978)));
    assert!(p.allows(&frontend, &address("8.8.8.8", &[53]), &tcp(53)));
}

/// "Behavior of to and from selectors": one element with both selectors is
/// an AND, two elements are an OR.
#[test]
fn namespace_and_pod_selector_in_one_peer_is_and_in_two_is_or() {
    let and = json!({"podSelector": {}, "ingress": [{"from": [
        {"namespaceSelector": {"matchLabels": {"user": "alice"}}, "podSelector": {"matchLabels": {"role": "client"}}}]}]});
    let or = json!({"podSelector": {}, "ingress": [{"from": [
        {"namespaceSelector": {"matchLabels": {"user": "alice"}}}, {"podSelector": {"matchLabels": {"role": "client"}}}]}]});
    let namespaces: &[(&str, &[(&str, &str)])] = &[("app", &[]), ("alice", &[("user", "alice")])];
    let server = pod("s", "app", &[], &[(80, "http")]);
    let http = Port::tcp(80, Some("http"));
    let alice_client = pod("a", "alice", &[("role", "client")], &[]);
    let alice_other = pod("b", "alice", &[], &[]);
    let local_client = pod("c", "app", &[("role", "client")], &[]);
    let p = policies(namespaces, &[netpol("app", and)]);
    assert!(p.allows(&alice_client, &server, &http));
    assert!(!p.allows(&alice_other, &server, &http));
    assert!(!p.allows(&local_client, &server, &http));
    let p = policies(namespaces, &[netpol("app", or)]);
    assert!(p.allows(&alice_client, &server, &http));
    assert!(p.allows(&alice_other, &server, &http));
    assert!(p.allows(&local_client, &server, &http));
}

/// "Default policies": no policy allows all; a `podSelector: {}` Ingress
/// policy with no rules denies all ingress but leaves egress; `ingress: [{}]`
/// allows all again; policies are additive.
#[test]
fn default_deny_and_allow_all() {
    let a = pod("a", "ns", &[("app", "a")], &[(80, "http")]);
    let b = pod("b", "ns", &[("app", "b")], &[(80, "http")]);
    let http = Port::tcp(80, Some("http"));
    assert!(Policies::default().allows(&a, &b, &http));
    let deny = netpol("ns", json!({"podSelector": {}, "policyTypes": ["Ingress"]}));
    let p = policies(&[], std::slice::from_ref(&deny));
    assert!(!p.allows(&a, &b, &http));
    assert!(p.allows(&a, &address("1.1.1.1", &[443]), &tcp(443)));
    let allow_all = netpol("ns", json!({"podSelector": {}, "ingress": [{}]}));
    assert!(policies(&[], &[deny, allow_all]).allows(&a, &b, &http));
}

/// "If no policyTypes are specified on a NetworkPolicy then by default
/// Ingress will always be set and Egress will be set if the NetworkPolicy
/// has any egress rules."
#[test]
fn policy_types_default_from_the_rules() {
    let a = pod("a", "ns", &[("app", "a")], &[]);
    let b = pod("b", "ns", &[("app", "b")], &[(80, "http")]);
    let http = Port::tcp(80, Some("http"));
    // Egress rules present, no policyTypes: both directions isolate `a`.
    let egress_only = netpol(
        "ns",
        json!({"podSelector": {"matchLabels": {"app": "a"}},
        "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "c"}}}]}]}),
    );
    let p = policies(&[], &[egress_only]);
    assert!(!p.allows(&a, &b, &http));
    // Ingress is isolated too (no ingress rules): `b` cannot reach `a`.
    let a_served = pod("a", "ns", &[("app", "a")], &[(80, "http")]);
    assert!(!p.allows(&b, &a_served, &http));
    // An explicit `policyTypes: [Egress]` leaves ingress open.
    let explicit = netpol(
        "ns",
        json!({"podSelector": {"matchLabels": {"app": "a"}}, "policyTypes": ["Egress"]}),
    );
    assert!(policies(&[], &[explicit]).allows(&b, &a_served, &http));
}

/// Both ends must agree: the source's egress and the destination's ingress.
#[test]
fn a_connection_needs_egress_and_ingress() {
    let a = pod("a", "one", &[("app", "a")], &[]);
    let b = pod("b", "two", &[("app", "b")], &[(5432, "postgres")]);
    let pg = Port::tcp(5432, Some("postgres"));
    let to_b = netpol(
        "one",
        json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [
        {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: "two"}}, "podSelector": {"matchLabels": {"app": "b"}}}]}]}),
    );
    let deny_two = netpol(
        "two",
        json!({"podSelector": {}, "policyTypes": ["Ingress"]}),
    );
    let from_a = netpol(
        "two",
        json!({"podSelector": {"matchLabels": {"app": "b"}}, "ingress": [{"from": [
        {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: "one"}}, "podSelector": {"matchLabels": {"app": "a"}}}],
        "ports": [{"port": 5432}]}]}),
    );
    // The namespace name label is there even when the Namespace object is not.
    assert!(policies(&[], std::slice::from_ref(&to_b)).allows(&a, &b, &pg));
    assert!(!policies(&[], &[to_b.clone(), deny_two.clone()]).allows(&a, &b, &pg));
    assert!(policies(&[], &[to_b, deny_two.clone(), from_a.clone()]).allows(&a, &b, &pg));
    let elsewhere = pod("c", "one", &[("app", "c")], &[]);
    assert!(!policies(&[], &[deny_two, from_a]).allows(&elsewhere, &b, &pg));
}

/// Named ports resolve against the destination's container ports; a
/// protocol defaults to TCP; `endPort` makes a range.
#[test]
fn named_ports_protocols_and_ranges() {
    let client = pod("c", "ns", &[("app", "c")], &[]);
    let server = pod(
        "s",
        "ns",
        &[("app", "s")],
        &[(9090, "metrics"), (8080, "http")],
    );
    let named = netpol(
        "ns",
        json!({"podSelector": {"matchLabels": {"app": "s"}}, "ingress": [{"ports": [{"port": "metrics"}]}]}),
    );
    let p = policies(&[], &[named]);
    assert!(p.allows(&client, &server, &Port::tcp(9090, Some("metrics"))));
    assert!(!p.allows(&client, &server, &Port::tcp(8080, Some("http"))));
    let udp = netpol(
        "ns",
        json!({"podSelector": {"matchLabels": {"app": "s"}}, "ingress": [{"ports": [{"port": 8080, "protocol": "UDP"}]}]}),
    );
    assert!(!policies(&[], &[udp]).allows(&client, &server, &Port::tcp(8080, Some("http"))));
    // The docs' endPort example: TCP 32000 to 32768 towards 10.0.0.0/24.
    let range = netpol(
        "ns",
        json!({"podSelector": {"matchLabels": {"app": "c"}}, "policyTypes": ["Egress"],
        "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/24"}}], "ports": [{"protocol": "TCP", "port": 32000, "endPort": 32768}]}]}),
    );
    let p = policies(&[], &[range]);
    assert!(p.allows(&client, &address("10.0.0.1", &[32000]), &tcp(32000)));
    assert!(p.allows(&client, &address("10.0.0.1", &[32768]), &tcp(32768)));
    assert!(!p.allows(&client, &address("10.0.0.1", &[32769]), &tcp(32769)));
    // A named egress port cannot name an address's port.
    let named_out = netpol(
        "ns",
        json!({"podSelector": {"matchLabels": {"app": "c"}}, "policyTypes": ["Egress"],
        "egress": [{"ports": [{"port": "https"}]}]}),
    );
    assert!(!policies(&[], &[named_out]).allows(&client, &address("1.1.1.1", &[443]), &tcp(443)));
}

/// ipBlock selects addresses, not pods, and `matchExpressions` work in
/// namespace selectors as in pod selectors.
#[test]
fn ip_blocks_do_not_match_pods_and_expressions_select_namespaces() {
    let a = pod("a", "ns", &[("app", "a")], &[]);
    let b = pod("b", "team-b", &[("app", "b")], &[(80, "http")]);
    let http = Port::tcp(80, Some("http"));
    let any_ip = netpol(
        "ns",
        json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]}),
    );
    let p = policies(&[], &[any_ip]);
    assert!(!p.allows(&a, &b, &http));
    assert!(p.allows(&a, &address("93.184.216.34", &[80]), &tcp(80)));
    let teams = netpol(
        "ns",
        json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"namespaceSelector":
        {"matchExpressions": [{"key": "team", "operator": "In", "values": ["b", "c"]}]}}]}]}),
    );
    assert!(
        policies(
            &[("team-b", &[("team", "b")])],
            std::slice::from_ref(&teams)
        )
        .allows(&a, &b, &http)
    );
    assert!(!policies(&[("team-b", &[("team", "d")])], &[teams]).allows(&a, &b, &http));
}

#[test]
fn cidrs_parse_and_contain() {
    let c = Cidr::parse("10.1.2.3/16").unwrap();
    assert!(c.contains("10.1.200.1".parse().unwrap()));
    assert!(!c.contains("10.2.0.1".parse().unwrap()));
    assert_eq!(c.representative().to_string(), "10.1.0.1");
    assert!(
        Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap())
    );
    assert_eq!(
        Cidr::parse("10.0.0.5/32")
            .unwrap()
            .representative()
            .to_string(),
        "10.0.0.5"
    );
    assert_eq!(Cidr::parse("::/0"), None);
    assert_eq!(Cidr::parse("10.0.0.0/33"), None);
}
