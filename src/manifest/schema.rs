//! The JSON Schema of the manifest format, for editors' YAML extensions (completion, hover and
//! red squiggles while typing). `tagrec validate` stays the authority: it also checks what a
//! schema cannot say (duplicates across projects, source text of values, the policy).

use serde_json::{Value, json};

use crate::rules::{MAX_KEY_CHARS, MAX_NAME_CHARS, MAX_TAGS, MAX_VALUE_CHARS};

/// Draft-07, the newest draft that the common YAML language servers fully support.
pub fn manifest_schema() -> Value {
    let tags = json!({
        "type": "object",
        "description": "Tags as `Key: value`. Values are text; a plain value keeps the text as written.",
        "maxProperties": MAX_TAGS,
        "propertyNames": {
            "minLength": 1,
            "maxLength": MAX_KEY_CHARS,
            "not": {"pattern": "^(aws:|tagrec:protect$)"}
        },
        "additionalProperties": {
            "type": ["string", "number", "boolean"],
            "maxLength": MAX_VALUE_CHARS
        }
    });
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://tagrec.dev/schema/manifest-v1.json",
        "title": "tagrec manifest",
        "description": "The Amazon Bedrock projects of an account and their cost-allocation tags.",
        "type": "object",
        "additionalProperties": false,
        "required": ["version", "projects"],
        "properties": {
            "version": {"const": 1, "description": "The manifest format version."},
            "target": {
                "type": "object",
                "additionalProperties": false,
                "description": "Where the projects live.",
                "properties": {
                    "region": {
                        "type": "string",
                        "description": "AWS region: the endpoint is https://bedrock-mantle.<region>.api.aws/v1 and the SigV4 region."
                    },
                    "endpoint": {
                        "type": "string",
                        "pattern": "^https?://",
                        "description": "An explicit base URL (wins over region for the URL)."
                    },
                    "profile": {
                        "type": "string",
                        "minLength": 1,
                        "description": "The AWS profile (config and credentials files, SSO, credential_process) whose credentials sign requests; means SigV4. --profile wins over it."
                    },
                    "role_arn": {
                        "type": "string",
                        "pattern": "^arn:aws[a-z-]*:iam::[0-9]{12}:role/",
                        "description": "An IAM role assumed with the credentials found (one CI identity for every account); means SigV4."
                    },
                    "external_id": {
                        "type": "string",
                        "minLength": 1,
                        "description": "The external id the role's trust policy asks for (with role_arn)."
                    },
                    "sandbox": {
                        "type": "object",
                        "additionalProperties": false,
                        "required": ["state"],
                        "description": "Use tagrec's embedded emulator on a local state file.",
                        "properties": {
                            "state": {"type": "string", "description": "State file, relative to the manifest."},
                            "seed": {"type": "string", "description": "Initial projects (JSON array), relative to the manifest."},
                            "costs": {"type": "string", "description": "Spend rows for the emulated Cost Explorer (JSON array of {date, service, project_id, amount}), relative to the manifest."},
                            "active_cost_tags": {"type": "array", "items": {"type": "string"}, "description": "Cost allocation tag keys active in the emulated Billing from the start."},
                            "linked_account": {"type": "boolean", "description": "The emulated Cost Explorer answers as a member account's: access denied."}
                        }
                    }
                }
            },
            "policy": {
                "type": "string",
                "description": "JSON Schema tag policy (YAML or JSON), relative to the manifest."
            },
            "billing": {
                "type": "object",
                "additionalProperties": false,
                "description": "Whose credentials `tagrec billing` and `tagrec costs` call Cost Explorer with: the payer (management) account's, never the target's own.",
                "properties": {
                    "profile": {"type": "string", "minLength": 1, "description": "The payer account's AWS profile."},
                    "role_arn": {"type": "string", "pattern": "^arn:aws[a-z-]*:iam::[0-9]{12}:role/", "description": "A role in the payer account, assumed with the credentials found."}
                }
            },
            "owner": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_VALUE_CHARS,
                "description": "Written as tag ManagedBy on every project of this manifest."
            },
            "prune": {
                "type": "boolean",
                "description": "Archive owned projects that are no longer in the manifest."
            },
            "ignore_tags": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Tag keys tagrec never touches: exact, or a prefix with a trailing *."
            },
            "defaults": {
                "type": "object",
                "additionalProperties": false,
                "properties": {"tags": tags.clone()}
            },
            "projects": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["name"],
                    "properties": {
                        "name": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": MAX_NAME_CHARS,
                            "pattern": "\\S",
                            "not": {"const": "default"}
                        },
                        "id": {
                            "type": "string",
                            "pattern": "^proj_[a-z0-9]+$",
                            "description": "Pin to this live project (a new name is then a rename)."
                        },
                        "protect": {
                            "type": "boolean",
                            "description": "true: never archived by tagrec (kept on the live project as tag tagrec:protect: \"true\"); false: removes that tag; absent: the live tag is left as it is."
                        },
                        "tags": tags
                    }
                }
            }
        }
    })
}

pub fn manifest_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&manifest_schema()).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_is_a_valid_schema_and_accepts_the_example() {
        let schema = manifest_schema();
        let validator = jsonschema::validator_for(&schema);
        assert!(validator.is_ok(), "{:?}", validator.err());
        let Ok(validator) = validator else { return };
        let example = json!({
            "version": 1,
            "target": {"region": "us-east-1", "sandbox": {"state": "s.json", "seed": "live.json"}},
            "owner": "platform",
            "projects": [{"name": "A", "protect": true, "tags": {"CostCenter": "CC-0070"}}]
        });
        assert!(validator.is_valid(&example));
        let typo = json!({"version": 1, "projcts": []});
        assert!(!validator.is_valid(&typo));
    }
}
