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
    /// From the column.
    fn load(stored: Self::Stored) -> Self;
}

macro_rules! stored_as_is {
    ($($ty:ty),*) => {$(
        impl Storable for $ty {
            type Stored = $ty;
            fn store(self) -> $ty {
                self
            }
            fn load(stored: $ty) -> $ty {
                stored
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
    fn load(stored: NaiveDateTime) -> Self {
        Utc.from_utc_datetime(&stored)
    }
}

impl<T: Storable> Storable for Option<T> {
    type Stored = Option<T::Stored>;
    fn store(self) -> Self::Stored {
        self.map(T::store)
    }
    fn load(stored: Self::Stored) -> Self {
        stored.map(T::load)
    }
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
        assert_eq!(DateTime::<Utc>::load(now.store()), now);
        assert_eq!(Option::<DateTime<Utc>>::load(None), None);
    }
}
