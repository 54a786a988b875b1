//! The JSON Schema of the manifest format, for editors' YAML extensions.

// TODO(skeleton): the foundation issue writes the full schema.
pub fn manifest_schema_text() -> String {
    "{}\n".to_string()
}
