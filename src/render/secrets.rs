//! ExternalSecrets: the one way gitopsc fills a Secret from a store, for an
//! app's variables (one Secret per store it reads) and for the Secrets a
//! chart or manifest set reads by name (`secrets:`, one Secret each, named
//! as written so a chart's `existingSecret` can name it).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::labels;
use super::object::Object;
use crate::blueprint::catalog::EXTERNAL_SECRET_API;
use crate::blueprint::model::{Blueprint, NamedSecret};
use crate::blueprint::secrets::SecretRef;

/// What an ExternalSecret copies into its Secret.
pub enum Contents<'a> {
    /// Secret key -> reference (`spec.data`).
    Keys(Vec<(&'a str, SecretRef<'a>)>),
    /// Every field of one remote entry (`spec.dataFrom[].extract`).
    Whole(SecretRef<'a>),
}

/// The ExternalSecret `name` (its target Secret has the same name) reading
/// `store_key`; `None` when the store is not defined (the blueprint's checks
/// have refused that already).
pub fn external_secret(
    bp: &Blueprint,
    metadata: Value,
    name: &str,
    store_key: &str,
    contents: &Contents,
) -> Option<Value> {
    let store = bp.secret_stores.get(store_key)?;
    let infisical = store.provider.as_deref() == Some(INFISICAL);
    let mut spec = json!({
        "refreshInterval": store.refresh,
        "secretStoreRef": {
            "kind": store.kind.name(),
            "name": store.name.clone().unwrap_or_else(|| store_key.to_string()),
        },
        "target": {"name": name, "creationPolicy": "Owner", "deletionPolicy": "Retain"},
    });
    match contents {
        Contents::Keys(entries) => {
            let data: Vec<Value> = entries
                .iter()
                .map(|(key, r)| json!({"secretKey": key, "remoteRef": remote_ref(r, infisical)}))
                .collect();
            spec["data"] = Value::Array(data);
        }
        Contents::Whole(r) => {
            spec["dataFrom"] = json!([{"extract": remote_ref(r, infisical)}]);
        }
    }
    // Moved in, not copied as `json!` would.
    Some(obj! {
        "apiVersion" => EXTERNAL_SECRET_API,
        "kind" => "ExternalSecret",
        "metadata" => metadata,
        "spec" => spec,
    })
}

/// The ExternalSecrets of a chart's or manifest set's `secrets`, in `namespace`.
pub fn named_secrets(
    bp: &Blueprint,
    namespace: &str,
    secrets: &BTreeMap<String, NamedSecret>,
) -> Vec<Object> {
    let common = labels::common(bp);
    let mut objects = Vec::new();
    for (name, secret) in secrets {
        let (store, contents) = match secret {
            NamedSecret::Whole(reference) => {
                let Some(r) = SecretRef::parse(reference) else {
                    continue;
                };
                (r.store, Contents::Whole(r))
            }
            NamedSecret::Keys(keys) => {
                let entries: Vec<(&str, SecretRef)> = keys
                    .iter()
                    .filter_map(|(k, r)| Some((k.as_str(), SecretRef::parse(r)?)))
                    .collect();
                let Some(store) = entries.first().map(|(_, r)| r.store) else {
                    continue;
                };
                (store, Contents::Keys(entries))
            }
        };
        let metadata = labels::metadata(name, Some(namespace), &common, &BTreeMap::new());
        objects.extend(external_secret(bp, metadata, name, store, &contents).map(Object::new));
    }
    objects
}

/// The provider whose references name a folder and a secret, not a secret and a field.
const INFISICAL: &str = "infisical";

/// `remoteRef` of one reference. Infisical's provider reads `key` as
/// `<folder>/<secret name>` (an absolute key is a path from the project root)
/// and `property` as a JSON field inside the secret's value, so
/// `infisical:/api#DB_PASSWORD` is the secret `DB_PASSWORD` in folder `/api`
/// (ESO `providers/v1/infisical/client.go`, `getSecretAddress`). Other
/// providers (Vault and most) take the path as `key` and the field as `property`.
fn remote_ref(r: &SecretRef, infisical: bool) -> Value {
    match (infisical, r.property) {
        (true, Some(name)) => {
            let folder = r.key.trim_end_matches('/');
            json!({"key": format!("{folder}/{name}")})
        }
        (_, None) => json!({"key": r.key}),
        (false, Some(p)) => json!({"key": r.key, "property": p}),
    }
}
