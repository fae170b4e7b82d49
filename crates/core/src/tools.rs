//! Tools Z may call with models that support tool calls: declared once,
//! with a JSON schema for their arguments and a permission tier. Arguments
//! are checked against the schema before a tool runs; a call that fails the
//! check is answered to the model with the reason, never run.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a tool may touch, which decides whether it runs on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Reads the owner's data: runs automatically.
    Read,
    /// Changes the owner's own data: runs automatically and is logged.
    Write,
    /// Acts outside the system (sends, posts, pays, books): never runs on
    /// its own; the model is told to present a draft instead.
    External,
}

/// A tool as models see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON schema of the arguments (an object schema).
    pub parameters: Value,
    pub tier: Tier,
}

/// A model asking for a tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's id for the call (made up when it has none).
    pub id: String,
    pub name: String,
    /// The arguments as the model wrote them (a JSON object, or text that
    /// failed to parse as one).
    pub arguments: Value,
}

/// What a tool call gave back, for the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolResult {
    pub id: String,
    pub name: String,
    pub content: String,
    pub is_error: bool,
}

impl ToolResult {
    pub fn ok(call: &ToolCall, content: impl Into<String>) -> Self {
        Self {
            id: call.id.clone(),
            name: call.name.clone(),
            content: content.into(),
            is_error: false,
        }
    }

    pub fn error(call: &ToolCall, why: impl Into<String>) -> Self {
        Self {
            id: call.id.clone(),
            name: call.name.clone(),
            content: format!("error: {}", why.into()),
            is_error: true,
        }
    }
}

/// Checks `args` against the subset of JSON schema our tools use: an
/// object with typed properties (`string`, `integer`, `number`, `boolean`),
/// `required`, `enum`, `minimum`/`maximum`, and no unknown properties.
pub fn check_arguments(schema: &Value, args: &Value) -> Result<(), String> {
    let Some(obj) = args.as_object() else {
        return Err(format!("arguments must be a JSON object, got {args}"));
    };
    let props = schema
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for r in required.iter().filter_map(Value::as_str) {
            if !obj.contains_key(r) {
                return Err(format!("missing required argument '{r}'"));
            }
        }
    }
    for (key, value) in obj {
        let Some(prop) = props.get(key) else {
            let known: Vec<&str> = props.keys().map(String::as_str).collect();
            return Err(format!(
                "unknown argument '{key}' (known: {})",
                known.join(", ")
            ));
        };
        let ty = prop.get("type").and_then(Value::as_str).unwrap_or("string");
        let ok = match ty {
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            _ => true,
        };
        if !ok {
            return Err(format!(
                "argument '{key}' must be of type {ty}, got {value}"
            ));
        }
        if let Some(allowed) = prop.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            let names: Vec<String> = allowed.iter().map(Value::to_string).collect();
            return Err(format!(
                "argument '{key}' must be one of {}, got {value}",
                names.join(", ")
            ));
        }
        if let Some(n) = value.as_f64() {
            if let Some(min) = prop.get("minimum").and_then(Value::as_f64)
                && n < min
            {
                return Err(format!("argument '{key}' must be at least {min}, got {n}"));
            }
            if let Some(max) = prop.get("maximum").and_then(Value::as_f64)
                && n > max
            {
                return Err(format!("argument '{key}' must be at most {max}, got {n}"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "query": {"type": "string"},
                "k": {"type": "integer", "minimum": 1, "maximum": 20},
                "status": {"type": "string", "enum": ["active", "paused"]}
            },
            "required": ["query"]
        })
    }

    #[test]
    fn good_arguments_pass() {
        assert_eq!(
            check_arguments(&schema(), &json!({"query": "dentist"})),
            Ok(())
        );
        assert_eq!(
            check_arguments(
                &schema(),
                &json!({"query": "x", "k": 5, "status": "paused"})
            ),
            Ok(())
        );
    }

    #[test]
    fn bad_arguments_say_what_is_wrong() {
        let cases = [
            (json!({}), "missing required argument 'query'"),
            (
                json!({"query": 3}),
                "argument 'query' must be of type string",
            ),
            (json!({"query": "x", "k": 0}), "must be at least 1"),
            (json!({"query": "x", "k": 2.5}), "must be of type integer"),
            (json!({"query": "x", "status": "gone"}), "must be one of"),
            (
                json!({"query": "x", "limit": 3}),
                "unknown argument 'limit'",
            ),
            (json!("dentist"), "must be a JSON object"),
        ];
        for (args, expected) in cases {
            let err = check_arguments(&schema(), &args).unwrap_err();
            assert!(err.contains(expected), "{args}: {err}");
        }
    }
}
