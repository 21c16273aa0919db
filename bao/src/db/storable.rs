//! How field values are stored: most types as they are; `DateTime<Utc>` as a
//! UTC `TIMESTAMP` (the one timestamp type SQLite and PostgreSQL share through
//! one connection type).

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// A field type and the type its column holds.
pub trait Storable: Sized {
    /// What the column holds.
    type Stored;
    /// To the column.
    fn store(self) -> Self::Stored;
    /// From the column; an error names a value the field cannot hold.
    fn load(stored: Self::Stored) -> Result<Self, String>;
}

macro_rules! stored_as_is {
    ($($ty:ty),*) => {$(
        impl Storable for $ty {
            type Stored = $ty;
            fn store(self) -> $ty {
                self
            }
            fn load(stored: $ty) -> Result<$ty, String> {
                Ok(stored)
            }
        }
    )*};
}

stored_as_is!(
    String,
    i32,
    i64,
    f64,
    bool,
    NaiveDateTime,
    NaiveDate,
    NaiveTime
);

impl Storable for DateTime<Utc> {
    type Stored = NaiveDateTime;
    fn store(self) -> NaiveDateTime {
        self.naive_utc()
    }
    fn load(stored: NaiveDateTime) -> Result<Self, String> {
        Ok(Utc.from_utc_datetime(&stored))
    }
}

impl<T: Storable> Storable for Option<T> {
    type Stored = Option<T::Stored>;
    fn store(self) -> Self::Stored {
        self.map(T::store)
    }
    fn load(stored: Self::Stored) -> Result<Self, String> {
        stored.map(T::load).transpose()
    }
}

/// Decimals are stored as their exact text in both databases (SQLite has no
/// exact decimal type; a REAL would round money).
impl Storable for bigdecimal::BigDecimal {
    type Stored = String;
    fn store(self) -> String {
        self.normalized().to_string()
    }
    fn load(stored: String) -> Result<Self, String> {
        stored
            .parse()
            .map_err(|e| format!("the column holds `{stored}`, not a decimal: {e}"))
    }
}

/// JSON is stored as text in both databases.
impl Storable for serde_json::Value {
    type Stored = String;
    fn store(self) -> String {
        self.to_string()
    }
    fn load(stored: String) -> Result<Self, String> {
        serde_json::from_str(&stored).map_err(|e| format!("the column holds invalid JSON: {e}"))
    }
}

/// A Rust enum stored as text, limited to its variants by a CHECK constraint:
/// `#[derive(bao::TextEnum)]`, then `#[text_enum]` on the model field.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a text enum",
    label = "marked #[text_enum] here",
    note = "add #[derive(bao::TextEnum)] to `enum {Self}` (unit variants only)"
)]
pub trait TextEnum: Sized + Copy + 'static {
    /// The stored text of each variant, in declaration order.
    const VALUES: &'static [&'static str];
    /// This variant's text.
    fn as_text(&self) -> &'static str;
    /// The variant with this text.
    fn from_text(text: &str) -> Option<Self>;
}

/// The current UTC time to the microsecond (what both databases keep).
pub fn now_utc() -> DateTime<Utc> {
    let now = Utc::now();
    now - chrono::Duration::nanoseconds(i64::from(now.timestamp_subsec_nanos() % 1000))
}

/// A timestamp type Bao can fill in (`created_at`, `updated_at`).
pub trait Timestamp {
    /// `now` in this type.
    fn from_utc(now: DateTime<Utc>) -> Self;
}

impl Timestamp for DateTime<Utc> {
    fn from_utc(now: DateTime<Utc>) -> Self {
        now
    }
}

impl Timestamp for NaiveDateTime {
    fn from_utc(now: DateTime<Utc>) -> Self {
        now.naive_utc()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_timestamps_round_trip() {
        let now = now_utc();
        assert_eq!(now.timestamp_subsec_nanos() % 1000, 0);
        assert_eq!(DateTime::<Utc>::load(now.store()), Ok(now));
        assert_eq!(Option::<DateTime<Utc>>::load(None), Ok(None));
        let json = serde_json::json!({"a": [1, 2]});
        assert_eq!(serde_json::Value::load(json.clone().store()), Ok(json));
        assert!(serde_json::Value::load("{oops".into()).is_err());
        let price: bigdecimal::BigDecimal = "19.990".parse().unwrap();
        assert_eq!(
            bigdecimal::BigDecimal::load(price.clone().store()),
            Ok(price)
        );
    }
}
