//! Reading HTML form values into typed fields, one error per field, so a
//! form can be shown again with what the user typed and a message beside
//! each field. `bao make:crud` controllers use it.

use crate::api::FieldError;

/// A field type a form can fill.
pub trait FormValue: Sized {
    /// Parses the submitted text (already trimmed, never empty).
    fn from_form(raw: &str) -> Result<Self, String>;
    /// How the value is written back into its `<input>`.
    fn to_form(&self) -> String;
}

impl FormValue for String {
    fn from_form(raw: &str) -> Result<Self, String> {
        Ok(raw.to_string())
    }
    fn to_form(&self) -> String {
        self.clone()
    }
}

macro_rules! number {
    ($($t:ty => $what:literal),*) => {$(
        impl FormValue for $t {
            fn from_form(raw: &str) -> Result<Self, String> {
                raw.parse().map_err(|_| format!("enter {}", $what))
            }
            fn to_form(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
number!(i32 => "a whole number", i64 => "a whole number", f64 => "a number");

impl FormValue for bigdecimal::BigDecimal {
    fn from_form(raw: &str) -> Result<Self, String> {
        raw.parse()
            .map_err(|_| "enter a decimal number, like 12.50".to_string())
    }
    fn to_form(&self) -> String {
        self.to_string()
    }
}

impl FormValue for bool {
    /// A checkbox sends its value when checked and nothing otherwise.
    fn from_form(raw: &str) -> Result<Self, String> {
        match raw {
            "true" | "on" | "1" | "yes" => Ok(true),
            "false" | "off" | "0" | "no" => Ok(false),
            _ => Err("must be checked or not".into()),
        }
    }
    fn to_form(&self) -> String {
        if *self {
            "true".into()
        } else {
            String::new()
        }
    }
}

impl FormValue for chrono::NaiveDateTime {
    /// `datetime-local` sends `2026-11-27T09:30` or, with seconds, `..:00`.
    fn from_form(raw: &str) -> Result<Self, String> {
        chrono::NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S")
            .or_else(|_| chrono::NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M"))
            .map_err(|_| "enter a date and time".into())
    }
    fn to_form(&self) -> String {
        self.format("%Y-%m-%dT%H:%M:%S").to_string()
    }
}

impl FormValue for chrono::NaiveDate {
    fn from_form(raw: &str) -> Result<Self, String> {
        chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| "enter a date".into())
    }
    fn to_form(&self) -> String {
        self.format("%Y-%m-%d").to_string()
    }
}

impl FormValue for chrono::NaiveTime {
    fn from_form(raw: &str) -> Result<Self, String> {
        chrono::NaiveTime::parse_from_str(raw, "%H:%M:%S")
            .or_else(|_| chrono::NaiveTime::parse_from_str(raw, "%H:%M"))
            .map_err(|_| "enter a time".into())
    }
    fn to_form(&self) -> String {
        self.format("%H:%M:%S").to_string()
    }
}

/// Reads field `name` from its submitted text: `None` with an error in
/// `errors` when it is missing (and `required`) or does not parse.
pub fn field<T: FormValue>(
    name: &str,
    raw: &str,
    required: bool,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    parse_with(name, raw, required, errors, T::from_form)
}

/// Like [`field`] with a parser of the caller's (a text enum's `from_text`).
pub fn parse_with<T>(
    name: &str,
    raw: &str,
    required: bool,
    errors: &mut Vec<FieldError>,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Option<T> {
    let raw = raw.trim();
    if raw.is_empty() {
        if required {
            errors.push(FieldError::new(name, "can't be blank"));
        }
        return None;
    }
    match parse(raw) {
        Ok(v) => Some(v),
        Err(message) => {
            errors.push(FieldError::new(name, &message));
            None
        }
    }
}

/// The message for `field` among `errors`, or `""`.
pub fn error_for<'a>(errors: &'a [FieldError], field: &str) -> &'a str {
    errors
        .iter()
        .find(|e| e.field == field)
        .map_or("", |e| e.message.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_round_trip_and_explain_errors() {
        let mut errors = Vec::new();
        assert_eq!(field::<i64>("n", " 42 ", true, &mut errors), Some(42));
        assert_eq!(field::<i64>("n", "x", true, &mut errors), None);
        assert_eq!(field::<String>("s", "", true, &mut errors), None);
        assert_eq!(field::<String>("o", "", false, &mut errors), None);
        assert_eq!(
            errors
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>(),
            ["enter a whole number", "can't be blank"]
        );
        let at =
            field::<chrono::NaiveDateTime>("d", "2026-11-27T09:30", true, &mut errors).unwrap();
        assert_eq!(at.to_form(), "2026-11-27T09:30:00");
        assert_eq!(field::<bool>("b", "true", false, &mut errors), Some(true));
        assert_eq!(error_for(&errors, "n"), "enter a whole number");
    }
}
