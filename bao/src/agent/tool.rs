//! Tools: their definitions (made at compile time by `#[bao::agent]`), the
//! JSON schema of each argument type, and the check of a model's arguments
//! against that schema before a tool runs.

use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

/// A type a tool may take as an argument: it has a JSON schema the model is
/// shown, and it is read from the model's JSON.
///
/// Implemented for strings, numbers, `bool`, `Option<T>`, `Vec<T>` and
/// `serde_json::Value`; implement it for your own types (an enum of
/// choices, a struct) by writing their schema.
///
/// ```
/// use bao::agent::ToolParam;
/// #[derive(serde::Deserialize)]
/// #[serde(rename_all = "lowercase")]
/// pub enum Priority { Low, High }
///
/// impl ToolParam for Priority {
///     fn schema() -> serde_json::Value {
///         serde_json::json!({"type": "string", "enum": ["low", "high"]})
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a tool argument: Bao knows no JSON schema for it",
    label = "the model is shown a JSON schema of every argument",
    note = "tool arguments are `String`, numbers, `bool`, `Option<T>`, `Vec<T>` or `serde_json::Value`; for your own type, `impl bao::agent::ToolParam for {Self} {{ fn schema() -> serde_json::Value {{ .. }} }}` (and derive `serde::Deserialize`)"
)]
pub trait ToolParam: DeserializeOwned {
    /// The JSON schema of a value.
    fn schema() -> Value;

    /// Whether the model must give it (false for `Option<T>`).
    const REQUIRED: bool = true;
}

macro_rules! tool_param {
    ($kind:literal: $($t:ty),*) => {$(
        impl ToolParam for $t {
            fn schema() -> Value {
                json!({"type": $kind})
            }
        }
    )*};
}
tool_param!("string": String);
tool_param!("integer": i8, i16, i32, i64, u8, u16, u32, u64, usize, isize);
tool_param!("number": f32, f64);
tool_param!("boolean": bool);

impl<T: ToolParam> ToolParam for Option<T> {
    fn schema() -> Value {
        T::schema()
    }

    const REQUIRED: bool = false;
}

impl<T: ToolParam> ToolParam for Vec<T> {
    fn schema() -> Value {
        json!({"type": "array", "items": T::schema()})
    }
}

impl ToolParam for Value {
    fn schema() -> Value {
        json!({})
    }
}

/// One argument of a tool.
#[derive(Debug, Clone)]
pub struct ParamDef {
    /// Its name.
    pub name: &'static str,
    /// Its schema.
    pub schema: Value,
    /// Whether the model must give it.
    pub required: bool,
}

/// A tool of an agent, as `#[bao::agent]` declares it.
#[derive(Debug, Clone, Copy)]
pub struct ToolDef {
    /// Its name (the method's).
    pub name: &'static str,
    /// What it does: the method's doc comment.
    pub description: &'static str,
    /// A person must approve each call (`#[tool(requires_approval)]`).
    pub requires_approval: bool,
    /// A scope label (`#[tool(scope = "write")]`), shown with approvals.
    pub scope: Option<&'static str>,
    /// Its arguments, with their schemas.
    pub params: fn() -> Vec<ParamDef>,
}

impl ToolDef {
    /// The JSON schema of its arguments object.
    pub fn schema(&self) -> Value {
        let params = (self.params)();
        let mut properties = Map::new();
        let mut required = Vec::new();
        for p in &params {
            properties.insert(p.name.to_string(), p.schema.clone());
            if p.required {
                required.push(Value::from(p.name));
            }
        }
        json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        })
    }

    /// As the router offers it to a model.
    pub fn spec(&self) -> crate::ai::ToolSpec {
        crate::ai::ToolSpec {
            name: self.name.to_string(),
            description: self.description.to_string(),
            parameters: self.schema(),
        }
    }
}

/// Checks `arguments` against `schema` (the subset tools use: object,
/// required, additionalProperties, and the types of properties and array
/// items). The message says what is wrong, for the model to fix.
pub fn check_arguments(schema: &Value, arguments: &Value) -> Result<(), String> {
    let Some(object) = arguments.as_object() else {
        return Err(format!(
            "the arguments must be a JSON object, not {arguments}"
        ));
    };
    for name in schema["required"].as_array().into_iter().flatten() {
        let name = name.as_str().unwrap_or_default();
        if object.get(name).is_none_or(Value::is_null) {
            return Err(format!("the argument `{name}` is required"));
        }
    }
    let properties = schema["properties"].as_object();
    for (name, value) in object {
        let Some(property) = properties.and_then(|p| p.get(name)) else {
            let known: Vec<&str> = properties
                .map(|p| p.keys().map(String::as_str).collect())
                .unwrap_or_default();
            return Err(format!(
                "there is no argument `{name}` (the arguments are: {})",
                known.join(", ")
            ));
        };
        if !value.is_null() {
            check_type(property, value).map_err(|e| format!("`{name}`: {e}"))?;
        }
    }
    Ok(())
}

fn check_type(schema: &Value, value: &Value) -> Result<(), String> {
    let ok = match schema["type"].as_str() {
        None => true,
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        Some("object") => value.is_object(),
        Some("array") => {
            let Some(items) = value.as_array() else {
                return Err(format!("expected an array, got {value}"));
            };
            for item in items {
                check_type(&schema["items"], item)?;
            }
            true
        }
        Some(_) => true,
    };
    if let Some(choices) = schema["enum"].as_array() {
        if !choices.contains(value) {
            return Err(format!(
                "{value} is not one of {}",
                Value::from(choices.clone())
            ));
        }
    }
    if ok {
        Ok(())
    } else {
        Err(format!(
            "expected {}, got {value}",
            schema["type"].as_str().unwrap_or("a value")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> Vec<ParamDef> {
        vec![
            ParamDef {
                name: "q",
                schema: String::schema(),
                required: String::REQUIRED,
            },
            ParamDef {
                name: "limit",
                schema: <Option<u32>>::schema(),
                required: <Option<u32>>::REQUIRED,
            },
            ParamDef {
                name: "tags",
                schema: <Vec<String>>::schema(),
                required: false,
            },
        ]
    }

    #[test]
    fn schemas_and_argument_checks() {
        let tool = ToolDef {
            name: "search",
            description: "Searches.",
            requires_approval: false,
            scope: None,
            params,
        };
        let schema = tool.schema();
        assert_eq!(schema["required"], json!(["q"]));
        assert_eq!(schema["properties"]["limit"], json!({"type": "integer"}));
        assert!(check_arguments(&schema, &json!({"q": "x", "limit": 3})).is_ok());
        assert!(check_arguments(&schema, &json!({"q": "x", "limit": null})).is_ok());
        assert_eq!(
            check_arguments(&schema, &json!({"limit": 3})).unwrap_err(),
            "the argument `q` is required"
        );
        assert!(check_arguments(&schema, &json!({"q": 5}))
            .unwrap_err()
            .contains("expected string"));
        assert!(
            check_arguments(&schema, &json!({"q": "x", "tags": ["a", 1]}))
                .unwrap_err()
                .contains("`tags`")
        );
        assert!(check_arguments(&schema, &json!({"q": "x", "lmit": 1}))
            .unwrap_err()
            .contains("no argument `lmit`"));
        assert!(check_arguments(&schema, &json!("q")).is_err());
    }
}
