//! Factories: rows of fake but plausible data for seeds and tests.
//!
//! `#[bao::model]` gives every model `Model::factory()`:
//!
//! ```text
//! let posts = Post::factory().count(20).create(&db).await?;          // 20 rows
//! let mine = Post::factory().parent(&user).with(|p, i| p.title = format!("Post {i}"))
//!     .create_one(&db).await?;
//! let same = Post::factory().seed(7).count(3).create(&db).await?;     // the same data each run
//! ```
//!
//! Each field gets a value that fits its type, its `#[validate(..)]` rules
//! and its name (`email` gets an address, `name` a person's name, `title` a
//! short sentence, `#[text]` fields a paragraph, text enums one of their
//! values). A `#[belongs_to(Parent)]` field points at the parent given with
//! [`Factory::parent`], or at a new parent made by the parent's own factory
//! (a nullable one stays `NULL` unless a parent is given). All rows of one
//! `create` are written in one transaction: all of them, or none.

use super::{DbConnection, DbError, DbPool, Model, ModelQueries};
use fake::faker::{address, company, internet, lorem, name};
use fake::rand::rngs::StdRng;
use fake::rand::{RngExt, SeedableRng};
use fake::Fake as _;
use std::any::Any;
use std::collections::HashMap;

/// Implemented by `#[bao::model]`: a new row with fake values.
pub trait Fake: ModelQueries {
    /// A new row with a fake value in every field; parents it needs are
    /// made on `conn`.
    fn fake_new(conn: &mut DbConnection, faker: &mut Faker) -> Result<Self::New, DbError>;
}

/// What a field's fake value must respect: its name and its
/// `#[validate(..)]` rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct FieldHint {
    /// The field's name (`email`, `title`, ..).
    pub name: &'static str,
    /// `length(min = ..)`.
    pub min_len: Option<u64>,
    /// `length(max = ..)`.
    pub max_len: Option<u64>,
    /// `range(min = ..)`.
    pub min: Option<f64>,
    /// `range(max = ..)`.
    pub max: Option<f64>,
    /// `#[validate(email)]`.
    pub email: bool,
    /// `#[text]`: long text.
    pub long_text: bool,
}

/// The source of fake values for one factory run: a random generator
/// (seeded with [`Factory::seed`] for repeatable data), a sequence number
/// that keeps unique fields unique, the parents given, and the tenant.
pub struct Faker {
    rng: StdRng,
    seq: u64,
    parents: HashMap<&'static str, Box<dyn Any + Send>>,
    tenant: Option<i64>,
    depth: u32,
}

impl Faker {
    fn new(seed: Option<u64>) -> Faker {
        let seed = seed.unwrap_or_else(|| fake::rand::rng().random());
        Faker {
            rng: StdRng::seed_from_u64(seed),
            seq: 0,
            parents: HashMap::new(),
            tenant: None,
            depth: 0,
        }
    }

    /// The number of the row being made (from 1), unique in this run.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The tenant rows of tenant-scoped models are made in: the one given
    /// with [`Factory::tenant`], else 1.
    pub fn tenant(&self) -> i64 {
        self.tenant.unwrap_or(1)
    }

    /// The tenant given with [`Factory::tenant`], if one was (an optional
    /// `tenant_id`, like a user's, stays empty otherwise).
    pub fn given_tenant(&self) -> Option<i64> {
        self.tenant
    }

    /// The key of the parent row (of the table `table`) the new row
    /// belongs to: the one given with [`Factory::parent`], else a new one
    /// made by `make` (the parent model's `Model::fake_key`).
    pub fn parent<K: Copy + 'static>(
        &mut self,
        conn: &mut DbConnection,
        table: &'static str,
        make: fn(&mut DbConnection, &mut Faker) -> Result<K, DbError>,
    ) -> Result<K, DbError> {
        if let Some(key) = self.given_parent(table) {
            return Ok(key);
        }
        if self.depth >= 8 {
            return Err(DbError::Invalid(format!(
                "a factory row needs a `{table}` row, which needs one of its own, endlessly: give one with .parent(&row)"
            )));
        }
        self.depth += 1;
        let seq = self.seq;
        let made = make(conn, self);
        self.seq = seq;
        self.depth -= 1;
        made
    }

    /// The key of the parent row of `table` given with [`Factory::parent`],
    /// if one was.
    pub fn given_parent<K: Copy + 'static>(&self, table: &'static str) -> Option<K> {
        self.parents
            .get(table)
            .and_then(|k| k.downcast_ref::<K>())
            .copied()
    }

    /// One of `values`, at random.
    pub fn pick<'a>(&mut self, values: &[&'a str]) -> &'a str {
        values[self
            .rng
            .random_range(0..values.len().max(1))
            .min(values.len() - 1)]
    }

    /// A text value for the field `hint` describes.
    pub fn text(&mut self, hint: &FieldHint) -> String {
        let seq = self.seq;
        let rng = &mut self.rng;
        let field = hint.name;
        let has = |word: &str| field == word || field.ends_with(&format!("_{word}"));
        let mut text: String = if hint.email || has("email") {
            let user: String = internet::en::Username().fake_with_rng(rng);
            let user: String = user
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_')
                .collect();
            format!("{}{seq}@example.com", user.to_lowercase())
        } else if has("name") && !has("username") || has("author") {
            name::en::Name().fake_with_rng(rng)
        } else if has("username") || has("login") || has("handle") {
            let user: String = internet::en::Username().fake_with_rng(rng);
            format!("{user}{seq}")
        } else if has("company") || has("organization") {
            company::en::CompanyName().fake_with_rng(rng)
        } else if has("city") {
            address::en::CityName().fake_with_rng(rng)
        } else if has("url") || has("website") || has("link") {
            format!("https://example.com/{seq}")
        } else if has("slug") {
            let words: Vec<String> = lorem::en::Words(2..4).fake_with_rng(rng);
            format!("{}-{seq}", words.join("-"))
        } else if has("title") || has("subject") || has("label") || has("summary") {
            let sentence: String = lorem::en::Sentence(2..6).fake_with_rng(rng);
            sentence.trim_end_matches('.').to_string()
        } else if hint.long_text
            || has("body")
            || has("description")
            || has("notes")
            || has("content")
        {
            lorem::en::Paragraph(2..5).fake_with_rng(rng)
        } else if has("hash") || has("token") || has("digest") {
            format!("{:016x}{seq:08x}", rng.random::<u64>())
        } else {
            let words: Vec<String> = lorem::en::Words(1..4).fake_with_rng(rng);
            words.join(" ")
        };
        let max = hint.max_len.map_or(usize::MAX, |m| m as usize);
        if text.chars().count() > max {
            text = text
                .chars()
                .take(max)
                .collect::<String>()
                .trim_end()
                .to_string();
            if text.is_empty() {
                text = "x".repeat(max.min(1));
            }
        }
        let min = hint.min_len.unwrap_or(0) as usize;
        while text.chars().count() < min {
            text.push('x');
        }
        text
    }

    /// A whole number within the field's `range`, else 1 to 1000.
    pub fn whole(&mut self, hint: &FieldHint) -> i64 {
        let min = hint.min.map_or(1, |m| m.ceil() as i64);
        let max = hint.max.map_or(min.max(1) + 999, |m| m.floor() as i64);
        if max <= min {
            return min;
        }
        self.rng.random_range(min..=max)
    }

    /// A number with two decimals within the field's `range`, else 0 to 1000.
    pub fn number(&mut self, hint: &FieldHint) -> f64 {
        let min = hint.min.unwrap_or(0.0);
        let max = hint.max.unwrap_or(min + 1000.0);
        if max <= min {
            return min;
        }
        let value: f64 = self.rng.random_range(min..max);
        ((value * 100.0).round() / 100.0).clamp(min, max)
    }

    /// `true` or `false`.
    pub fn flag(&mut self) -> bool {
        self.rng.random_bool(0.5)
    }

    /// A moment in the past year (UTC).
    pub fn moment(&mut self) -> chrono::NaiveDateTime {
        let seconds = self.rng.random_range(0..365 * 24 * 3600);
        let now = chrono::Utc::now().naive_utc();
        (now - chrono::Duration::seconds(seconds)).with_nanosecond_zero()
    }
}

trait NoNanos {
    fn with_nanosecond_zero(self) -> Self;
}

impl NoNanos for chrono::NaiveDateTime {
    fn with_nanosecond_zero(self) -> Self {
        use chrono::Timelike as _;
        self.with_nanosecond(0).unwrap_or(self)
    }
}

/// A fake value of a field's type. Implemented for the types a model's
/// fields may have; text enums and references are handled by the model.
pub trait FakeValue: Sized {
    /// A value for the field `hint` describes.
    fn fake(faker: &mut Faker, hint: &FieldHint) -> Self;
}

impl FakeValue for String {
    fn fake(faker: &mut Faker, hint: &FieldHint) -> Self {
        faker.text(hint)
    }
}

impl FakeValue for i64 {
    fn fake(faker: &mut Faker, hint: &FieldHint) -> Self {
        faker.whole(hint)
    }
}

impl FakeValue for i32 {
    fn fake(faker: &mut Faker, hint: &FieldHint) -> Self {
        faker.whole(hint).clamp(i32::MIN as i64, i32::MAX as i64) as i32
    }
}

impl FakeValue for f64 {
    fn fake(faker: &mut Faker, hint: &FieldHint) -> Self {
        faker.number(hint)
    }
}

impl FakeValue for bool {
    fn fake(faker: &mut Faker, _hint: &FieldHint) -> Self {
        faker.flag()
    }
}

impl FakeValue for chrono::NaiveDateTime {
    fn fake(faker: &mut Faker, _hint: &FieldHint) -> Self {
        faker.moment()
    }
}

impl FakeValue for chrono::DateTime<chrono::Utc> {
    fn fake(faker: &mut Faker, _hint: &FieldHint) -> Self {
        faker.moment().and_utc()
    }
}

impl FakeValue for chrono::NaiveDate {
    fn fake(faker: &mut Faker, _hint: &FieldHint) -> Self {
        faker.moment().date()
    }
}

impl FakeValue for chrono::NaiveTime {
    fn fake(faker: &mut Faker, _hint: &FieldHint) -> Self {
        faker.moment().time()
    }
}

impl FakeValue for bigdecimal::BigDecimal {
    fn fake(faker: &mut Faker, hint: &FieldHint) -> Self {
        let cents = (faker.number(hint) * 100.0).round() as i64;
        bigdecimal::BigDecimal::new(cents.into(), 2)
    }
}

impl FakeValue for serde_json::Value {
    fn fake(faker: &mut Faker, _hint: &FieldHint) -> Self {
        serde_json::json!({ "n": faker.seq() })
    }
}

impl<T: FakeValue> FakeValue for Option<T> {
    fn fake(faker: &mut Faker, hint: &FieldHint) -> Self {
        Some(T::fake(faker, hint))
    }
}

/// One of a text enum's values, at random.
pub fn fake_enum<T: super::TextEnum>(faker: &mut Faker) -> T {
    let text = faker.pick(T::VALUES);
    T::from_text(text).expect("a text enum's VALUES parse")
}

type Tweak<M> = Box<dyn Fn(&mut <M as Model>::New, usize) + Send + Sync>;

/// Rows of `M` to make: `Model::factory()`. See the [module](self) docs.
pub struct Factory<M: Fake> {
    count: usize,
    seed: Option<u64>,
    tenant: Option<i64>,
    parents: Vec<(&'static str, Box<dyn Any + Send>)>,
    tweaks: Vec<Tweak<M>>,
}

impl<M: Fake> Default for Factory<M> {
    fn default() -> Self {
        Factory {
            count: 1,
            seed: None,
            tenant: None,
            parents: Vec::new(),
            tweaks: Vec::new(),
        }
    }
}

impl<M: Fake> Factory<M> {
    /// A factory of one row.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many rows `create` makes (1 unless set).
    pub fn count(mut self, n: usize) -> Self {
        self.count = n;
        self
    }

    /// The same data on every run (tests that compare output, seeds that
    /// must not change).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Changes each new row before it is written: `|post, i| post.title =
    /// format!("Post {i}")` (`i` counts from 0).
    pub fn with(mut self, tweak: impl Fn(&mut M::New, usize) + Send + Sync + 'static) -> Self {
        self.tweaks.push(Box::new(tweak));
        self
    }

    /// The rows belong to `parent` (their `#[belongs_to(P)]` field points
    /// at it) instead of each getting a new one.
    pub fn parent<P: Model>(mut self, parent: &P) -> Self
    where
        P::Key: Send,
    {
        self.parents.retain(|(t, _)| *t != P::TABLE);
        self.parents.push((P::TABLE, Box::new(parent.key())));
        self
    }

    /// The tenant the rows of a tenant-scoped model are made in (1 unless
    /// set).
    pub fn tenant(mut self, tenant: super::Tenant) -> Self {
        self.tenant = Some(tenant.0);
        self
    }

    /// Makes and writes the rows, in one transaction; the rows as stored.
    pub async fn create(self, db: &DbPool) -> crate::Result<Vec<M>>
    where
        M::New: Send,
    {
        Ok(db.run(move |conn| self.create_on(conn)).await?)
    }

    /// Makes and writes one row (whatever `count` says).
    pub async fn create_one(self, db: &DbPool) -> crate::Result<M>
    where
        M::New: Send,
    {
        let mut rows = self.count(1).create(db).await?;
        Ok(rows.remove(0))
    }

    /// [`Factory::create`] on a connection you hold (a seeder's, a
    /// transaction's).
    pub fn create_on(self, conn: &mut DbConnection) -> Result<Vec<M>, DbError> {
        let Factory {
            count,
            seed,
            tenant,
            parents,
            tweaks,
        } = self;
        let mut faker = Faker::new(seed);
        faker.parents = parents.into_iter().collect();
        faker.tenant = tenant;
        conn.write_transaction::<_, DbError, _>(|conn| {
            let mut rows = Vec::with_capacity(count);
            for i in 0..count {
                faker.seq = i as u64 + 1;
                let mut new = M::fake_new(conn, &mut faker)?;
                for tweak in &tweaks {
                    tweak(&mut new, i);
                }
                rows.push(M::insert(conn, new).map_err(DbError::from)?);
            }
            Ok(rows)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_fits_the_field_and_its_rules() {
        let mut faker = Faker::new(Some(1));
        faker.seq = 3;
        let email = faker.text(&FieldHint {
            name: "email",
            ..FieldHint::default()
        });
        assert!(
            email.ends_with("3@example.com") && !email.contains(' '),
            "{email}"
        );
        let short = faker.text(&FieldHint {
            name: "body",
            max_len: Some(10),
            ..FieldHint::default()
        });
        assert!(short.chars().count() <= 10, "{short}");
        let long = faker.text(&FieldHint {
            name: "code",
            min_len: Some(30),
            ..FieldHint::default()
        });
        assert!(long.chars().count() >= 30, "{long}");
        let n = faker.whole(&FieldHint {
            min: Some(5.0),
            max: Some(7.0),
            ..FieldHint::default()
        });
        assert!((5..=7).contains(&n));
        let x = faker.number(&FieldHint {
            min: Some(0.5),
            max: Some(0.75),
            ..FieldHint::default()
        });
        assert!((0.5..=0.75).contains(&x), "{x}");
    }

    #[test]
    fn a_seed_gives_the_same_values() {
        let hint = FieldHint {
            name: "title",
            ..FieldHint::default()
        };
        let a = Faker::new(Some(9)).text(&hint);
        let b = Faker::new(Some(9)).text(&hint);
        assert_eq!(a, b);
    }
}
