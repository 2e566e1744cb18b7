//! What the API server enforces that schemas do not show: object names,
//! label and annotation keys and values, ConfigMap and Secret sizes, int32
//! and port ranges, resource quantities with limits at or above requests,
//! and CronJob schedules. Checked on the built-in API groups only; custom
//! resources and chart values are the operator's and the chart's to judge.
//! (Rules from k8s.io/apimachinery `validation` and `ValidateObjectMeta`.)

use serde_json::{Map, Value};

use super::{Violation, small_get};
use crate::blueprint::syntax::{is_dns_label, is_dns_subdomain, is_label_key, is_label_value};
use crate::cron;
use crate::error::ErrorKind;
use crate::pointer::{Lookup, Path, Token, push};
use crate::quantity;
use crate::render::Object;

const MAX_CONFIG_BYTES: usize = 1 << 20;
const MAX_ANNOTATION_BYTES: usize = 256 << 10;
const BUILT_IN_GROUPS: [&str; 8] = [
    "",
    "apps",
    "batch",
    "autoscaling",
    "policy",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
    "scheduling.k8s.io",
];

fn invalid(path: impl Into<String>, message: impl Into<String>) -> Violation {
    Violation::new(
        ErrorKind::InvalidValue,
        path,
        message,
        "the Kubernetes API server would reject this object",
    )
}

pub fn check(object: &Object) -> Result<(), Violation> {
    let id = object.id();
    check_name(&id.kind, &id.name)?;
    check_metadata_maps(&object.value, "/metadata")?;
    if !BUILT_IN_GROUPS.contains(&id.group()) {
        return Ok(());
    }
    for template in [
        "/spec/template/metadata",
        "/spec/jobTemplate/spec/template/metadata",
    ] {
        if object.value.at(template).is_some() {
            check_metadata_maps(&object.value, template)?;
        }
    }
    if let Some(Value::Object(labels)) = object.value.at("/spec/selector/matchLabels") {
        check_labels(labels, "/spec/selector/matchLabels")?;
    }
    if matches!(id.kind.as_str(), "ConfigMap" | "Secret") {
        check_config_data(&object.value)?;
    }
    if id.kind == "CronJob"
        && let Some(schedule) = object.value.at("/spec/schedule").and_then(Value::as_str)
        && let Err(why) = cron::parse(schedule)
    {
        return Err(invalid(
            "/spec/schedule",
            format!("schedule `{schedule}` is not a cron expression: {why}"),
        ));
    }
    check_numbers_and_resources(&object.value)
}

fn check_name(kind: &str, name: &str) -> Result<(), Violation> {
    let (ok, rule) = match kind {
        "Namespace" | "Service" => (
            is_dns_label(name),
            "a DNS-1123 label (at most 63 lowercase letters, digits and `-`)",
        ),
        "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding" => (
            !name.is_empty() && !name.contains(['/', '%']) && name != "." && name != "..",
            "a path segment (no `/` or `%`)",
        ),
        "CronJob" => (
            is_dns_subdomain(name) && name.len() <= 52,
            "a DNS-1123 subdomain of at most 52 characters (Jobs add a suffix)",
        ),
        _ => (
            is_dns_subdomain(name),
            "a DNS-1123 subdomain (lowercase letters, digits, `-` and `.`)",
        ),
    };
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "/metadata/name",
            format!("name `{name}` is not {rule}"),
        ))
    }
}

fn check_metadata_maps(value: &Value, meta: &str) -> Result<(), Violation> {
    let Some(metadata) = value.at(meta) else {
        return Ok(());
    };
    if let Some(Value::Object(labels)) = metadata.get("labels") {
        check_labels(labels, &push(meta, "labels"))?;
    }
    if let Some(Value::Object(annotations)) = metadata.get("annotations") {
        let at = || push(meta, "annotations");
        let mut total = 0;
        for (key, v) in annotations {
            if !is_label_key(key) {
                return Err(invalid(
                    push(&at(), key),
                    format!("annotation key `{key}` is not a qualified name"),
                ));
            }
            total += key.len() + v.as_str().map_or(0, str::len);
        }
        if total > MAX_ANNOTATION_BYTES {
            return Err(invalid(
                at(),
                format!("annotations take {total} bytes, over the 256 KiB limit"),
            ));
        }
    }
    Ok(())
}

fn check_labels(labels: &Map<String, Value>, at: &str) -> Result<(), Violation> {
    for (key, v) in labels {
        if !is_label_key(key) {
            return Err(invalid(
                push(at, key),
                format!("label key `{key}` is not a qualified name"),
            ));
        }
        let text = v.as_str().unwrap_or("");
        if !is_label_value(text) || !v.is_string() {
            return Err(invalid(
                push(at, key),
                format!(
                    "label value `{text}` of `{key}` must be at most 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit"
                ),
            ));
        }
    }
    Ok(())
}

fn check_config_data(value: &Value) -> Result<(), Violation> {
    let mut total = 0;
    for field in ["data", "binaryData", "stringData"] {
        let Some(Value::Object(data)) = value.get(field) else {
            continue;
        };
        for (key, v) in data {
            let key_ok = !key.is_empty()
                && key.len() <= 253
                && key
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c));
            if !key_ok {
                return Err(invalid(
                    push(&format!("/{field}"), key),
                    format!("data key `{key}` may hold only letters, digits, `-`, `_` and `.`"),
                ));
            }
            total += key.len() + v.as_str().map_or(0, str::len);
        }
    }
    if total > MAX_CONFIG_BYTES {
        return Err(invalid(
            "/data",
            format!("data takes {total} bytes, over the 1 MiB limit of a ConfigMap or Secret"),
        ));
    }
    Ok(())
}

/// The allowed range of an integer field, by field name.
fn integer_range(key: &str) -> Option<(i64, i64)> {
    const INT32: i64 = i32::MAX as i64;
    Some(match key {
        "containerPort" | "targetPort" | "number" => (1, 65535),
        "port" => (1, 65535),
        "hostPort" | "nodePort" => (0, 65535),
        "defaultMode" | "mode" => (0, 0o777),
        "minReplicas" | "maxReplicas" => (1, INT32),
        "replicas"
        | "initialDelaySeconds"
        | "periodSeconds"
        | "timeoutSeconds"
        | "successThreshold"
        | "failureThreshold"
        | "revisionHistoryLimit"
        | "progressDeadlineSeconds"
        | "minReadySeconds"
        | "backoffLimit"
        | "completions"
        | "parallelism"
        | "successfulJobsHistoryLimit"
        | "failedJobsHistoryLimit"
        | "averageUtilization"
        | "minAvailable"
        | "maxUnavailable"
        | "startingDeadlineSeconds" => (0, INT32),
        "terminationGracePeriodSeconds"
        | "activeDeadlineSeconds"
        | "runAsUser"
        | "runAsGroup"
        | "fsGroup" => (0, i64::MAX),
        _ => return None,
    })
}

/// Integer fields in range and every `resources` block sound, in one walk
/// over the object (it visits every node). A number out of range is
/// reported before any resources block, as when these were two walks: the
/// first bad block is kept while the walk looks on for numbers.
fn check_numbers_and_resources(value: &Value) -> Result<(), Violation> {
    let mut first_bad_block = None;
    check_fields(value, &mut Path::default(), &mut first_bad_block)?;
    first_bad_block.map_or(Ok(()), Err)
}

fn check_fields<'v>(
    value: &'v Value,
    at: &mut Path<'v>,
    first_bad_block: &mut Option<Violation>,
) -> Result<(), Violation> {
    match value {
        Value::Object(map) => {
            if first_bad_block.is_none()
                && let (Some(Value::Object(requests)), Some(Value::Object(limits))) =
                    (small_get(map, "requests"), small_get(map, "limits"))
            {
                *first_bad_block = check_limits(requests, limits, at).err();
            }
            for (key, v) in map {
                at.with(Token::Key(key), |here| {
                    check_number(key, v, here)?;
                    check_fields(v, here, first_bad_block)
                })?;
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                at.with(Token::Index(i), |at| check_fields(v, at, first_bad_block))?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// An integer field (`port`, `replicas`, ...) at `here` within its range.
fn check_number(key: &str, v: &Value, here: &Path) -> Result<(), Violation> {
    let (Value::Number(n), Some((min, max))) = (v, integer_range(key)) else {
        return Ok(());
    };
    let Some(i) = n.as_i64() else {
        return Err(invalid(
            here.pointer(),
            format!("`{key}` must be an integer, not `{n}`"),
        ));
    };
    if i < min || i > max {
        return Err(invalid(
            here.pointer(),
            format!("`{key}` is {i}, outside {min}..={max}"),
        ));
    }
    Ok(())
}

/// One `resources` block at `at`: each limit a quantity, at or above its request.
fn check_limits(
    requests: &Map<String, Value>,
    limits: &Map<String, Value>,
    at: &Path,
) -> Result<(), Violation> {
    let at = &at.pointer();
    for (resource, limit) in limits {
        let limit_at = || push(&push(at, "limits"), resource);
        let limit_value = amount(limit)
            .ok_or_else(|| invalid(limit_at(), format!("`{resource}` limit is not a quantity")))?;
        if let Some(request) = requests.get(resource) {
            let request_value = amount(request).ok_or_else(|| {
                invalid(
                    push(&push(at, "requests"), resource),
                    format!("`{resource}` request is not a quantity"),
                )
            })?;
            if limit_value < request_value {
                return Err(invalid(
                    limit_at(),
                    format!("the `{resource}` limit is below its request"),
                ));
            }
        }
    }
    Ok(())
}

fn amount(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) => quantity::parse(s),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn verdict(value: Value) -> Option<String> {
        check(&Object::new(value)).err().map(|v| v.path)
    }

    #[test]
    fn what_the_api_server_refuses() {
        let deployment = |spec: Value| json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "apps"}, "spec": spec});
        assert_eq!(verdict(deployment(json!({"replicas": 3}))), None);
        assert_eq!(
            verdict(deployment(json!({"replicas": 3_000_000_000u64}))).as_deref(),
            Some("/spec/replicas")
        );
        assert_eq!(
            verdict(deployment(json!({"replicas": 2.5}))).as_deref(),
            Some("/spec/replicas")
        );
        let limits_below = deployment(
            json!({"template": {"spec": {"containers": [{"name": "x", "resources": {"requests": {"cpu": "1"}, "limits": {"cpu": "500m"}}}]}}}),
        );
        assert_eq!(
            verdict(limits_below).as_deref(),
            Some("/spec/template/spec/containers/0/resources/limits/cpu")
        );
        let bad_label = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"team": "a b"}}});
        assert_eq!(verdict(bad_label).as_deref(), Some("/metadata/labels/team"));
        let bad_annotation = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "annotations": {"bad key!": "x"}}});
        assert_eq!(
            verdict(bad_annotation).as_deref(),
            Some("/metadata/annotations/bad key!")
        );
        let big = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"f": "x".repeat(MAX_CONFIG_BYTES + 1)}});
        assert_eq!(verdict(big).as_deref(), Some("/data"));
        let bad_name =
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "Web_1"}});
        assert_eq!(verdict(bad_name).as_deref(), Some("/metadata/name"));
        let port = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"ports": [{"port": 70000}]}});
        assert_eq!(verdict(port).as_deref(), Some("/spec/ports/0/port"));
    }

    #[test]
    fn a_number_out_of_range_is_reported_before_a_resources_block() {
        let both = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {
            "template": {"spec": {"containers": [
                {"name": "a", "resources": {"requests": {"cpu": "1"}, "limits": {"cpu": "500m"}}},
                {"name": "b", "resources": {"requests": {"cpu": "1"}, "limits": {"cpu": "100m"}}},
            ]}},
            "replicas": -1,
        }});
        assert_eq!(verdict(both.clone()).as_deref(), Some("/spec/replicas"));
        let mut blocks_only = both;
        blocks_only["spec"]["replicas"] = json!(1);
        assert_eq!(
            verdict(blocks_only).as_deref(),
            Some("/spec/template/spec/containers/0/resources/limits/cpu"),
            "the first bad block"
        );
    }
}
