//! The in-process index of a vector memory: its rows cached from the
//! table (reloaded when the collection's version changes), searched by
//! cosine (an exact scan, or an 8-bit scan for candidates that are then
//! ranked exactly); and reciprocal rank fusion of rankings.

use super::store;
use super::Hit;
use crate::db::DbPool;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// How a search ranks items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// By the cosine similarity of embeddings.
    #[default]
    Vector,
    /// By the database's full-text index over the words of the texts.
    Keyword,
    /// Both, fused with reciprocal rank fusion (the default for RAG).
    Hybrid,
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Mode, String> {
        match s {
            "vector" => Ok(Mode::Vector),
            "keyword" => Ok(Mode::Keyword),
            "hybrid" => Ok(Mode::Hybrid),
            other => Err(format!(
                "`{other}` is not a search mode: vector, keyword or hybrid"
            )),
        }
    }
}

/// From this many items on, vector search scans 8-bit copies of the
/// vectors (a quarter of the memory traffic) for candidates, and ranks
/// those by their exact cosine similarity.
pub const QUANTIZED_FROM: usize = 4096;

/// How many candidates the 8-bit scan keeps for each result wanted.
const CANDIDATES_PER_RESULT: usize = 8;

/// Which items a search may return: one tenant's (0: items of no tenant)
/// whose metadata has every `key = value` of `filters`.
#[derive(Debug, Clone, Default)]
pub(super) struct Scope {
    pub(super) tenant: i64,
    pub(super) filters: Vec<(String, Value)>,
}

impl Scope {
    fn admits(&self, item: &Item) -> bool {
        item.tenant == self.tenant
            && self
                .filters
                .iter()
                .all(|(key, value)| item.metadata.get(key) == Some(value))
    }
}

struct Item {
    id: i64,
    tenant: i64,
    text: String,
    metadata: Value,
}

pub(super) struct Index {
    version: i64,
    items: Vec<Item>,
    /// Every item's vector, scaled to unit length, one after another (a
    /// dot product is then the cosine similarity).
    vectors: Vec<f32>,
    /// The same vectors in 8 bits: `codes[i] * scales[item]` is close to
    /// `vectors[i]`.
    codes: Vec<i8>,
    scales: Vec<f32>,
    dims: usize,
    /// The items of each tenant, in order.
    by_tenant: HashMap<i64, Vec<u32>>,
    /// The items whose metadata has a top-level key with a scalar value
    /// (keyed by the key and the value's JSON text), in order: a filtered
    /// search scans only the shortest of its lists.
    by_value: HashMap<(String, String), Vec<u32>>,
}

/// Which items a scan visits: all of them, or those listed.
#[derive(Clone, Copy)]
enum Visit<'a> {
    All(usize),
    Listed(&'a [u32]),
}

impl Visit<'_> {
    fn len(&self) -> usize {
        match self {
            Visit::All(n) => *n,
            Visit::Listed(list) => list.len(),
        }
    }

    fn item(&self, position: usize) -> usize {
        match self {
            Visit::All(_) => position,
            Visit::Listed(list) => list[position] as usize,
        }
    }
}

type Cache = Mutex<HashMap<(usize, String), Arc<Index>>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Cache::default)
}

/// The index of `collection`, loaded again when it changed.
pub(super) async fn load(pool: &DbPool, collection: &str) -> crate::Result<Arc<Index>> {
    let key = (pool.cache_key(), collection.to_string());
    let name = collection.to_string();
    let version = pool.run(move |c| store::version(c, &name)).await?;
    if let Some(index) = cache().lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        if index.version == version {
            return Ok(index.clone());
        }
    }
    let name = collection.to_string();
    let rows = pool.run(move |c| store::items(c, &name)).await?;
    let index = Arc::new(
        tokio::task::spawn_blocking(move || build(version, rows))
            .await
            .map_err(|e| crate::Error::Internal(e.to_string()))?,
    );
    cache()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, index.clone());
    Ok(index)
}

fn build(version: i64, rows: Vec<store::ItemRow>) -> Index {
    let dims = rows.first().map_or(0, |r| r.embedding.len() / 4);
    let mut vectors: Vec<f32> = Vec::with_capacity(rows.len() * dims);
    let mut codes: Vec<i8> = Vec::with_capacity(rows.len() * dims);
    let mut scales: Vec<f32> = Vec::with_capacity(rows.len());
    let mut by_tenant: HashMap<i64, Vec<u32>> = HashMap::new();
    let mut by_value: HashMap<(String, String), Vec<u32>> = HashMap::new();
    let items: Vec<Item> = rows
        .into_iter()
        .enumerate()
        .map(|(position, row)| {
            let position = u32::try_from(position).unwrap_or(u32::MAX);
            let mut vector = store::from_blob(&row.embedding);
            vector.resize(dims, 0.0);
            let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm > 0.0 {
                vector.iter_mut().for_each(|x| *x /= norm);
            }
            scales.push(quantize(&vector, &mut codes));
            vectors.extend_from_slice(&vector);
            let metadata: Value = serde_json::from_str(&row.metadata).unwrap_or(Value::Null);
            by_tenant.entry(row.tenant_id).or_default().push(position);
            if let Value::Object(fields) = &metadata {
                for (key, value) in fields {
                    if !value.is_object() && !value.is_array() {
                        by_value
                            .entry((key.clone(), value.to_string()))
                            .or_default()
                            .push(position);
                    }
                }
            }
            Item {
                id: row.id,
                tenant: row.tenant_id,
                metadata,
                text: row.text,
            }
        })
        .collect();
    Index {
        version,
        items,
        vectors,
        codes,
        scales,
        dims,
        by_tenant,
        by_value,
    }
}

/// Appends `vector` in 8 bits to `codes`; the scale that maps them back.
fn quantize(vector: &[f32], codes: &mut Vec<i8>) -> f32 {
    let max = vector.iter().fold(0f32, |m, x| m.max(x.abs()));
    if max == 0.0 {
        codes.extend(std::iter::repeat_n(0, vector.len()));
        return 0.0;
    }
    let scale = max / 127.0;
    // In range by construction: |x / scale| <= 127.
    codes.extend(vector.iter().map(|x| (x / scale).round() as i8));
    scale
}

/// The dot product of two 8-bit vectors, in sixteen lanes so the compiler
/// vectorizes it (the products of two i8 fit an i16).
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    let mut lanes = [0i32; 16];
    let (xs, ys) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: i32 = xs
        .remainder()
        .iter()
        .zip(ys.remainder())
        .map(|(x, y)| i32::from(*x) * i32::from(*y))
        .sum();
    for (x, y) in xs.zip(ys) {
        for lane in 0..16 {
            lanes[lane] += i32::from(i16::from(x[lane]) * i16::from(y[lane]));
        }
    }
    lanes.iter().sum::<i32>() + tail
}

/// The dot product, in eight lanes so the compiler vectorizes it.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (xs, ys) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = xs
        .remainder()
        .iter()
        .zip(ys.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in xs.zip(ys) {
        for lane in 0..8 {
            lanes[lane] += x[lane] * y[lane];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// The best `k` of `scored` (index, score), highest first.
fn top(mut scored: Vec<(usize, f32)>, k: usize) -> Vec<(usize, f32)> {
    if scored.len() > k {
        scored.select_nth_unstable_by(k, |a, b| b.1.total_cmp(&a.1));
        scored.truncate(k);
    }
    scored.sort_by(|a, b| b.1.total_cmp(&a.1));
    scored
}

impl Index {
    fn vector_ranking(&self, query: &[f32], k: usize, scope: &Scope) -> Vec<(usize, f32)> {
        if self.dims == 0 || query.len() != self.dims || k == 0 {
            return Vec::new();
        }
        let qnorm = query
            .iter()
            .map(|x| x * x)
            .sum::<f32>()
            .sqrt()
            .max(f32::EPSILON);
        let query: Vec<f32> = query.iter().map(|x| x / qnorm).collect();
        let exact = |i: usize| dot(self.vector(i), &query);
        if self.items.len() < QUANTIZED_FROM {
            return self.best(k, scope, &exact);
        }
        let mut codes = Vec::with_capacity(self.dims);
        let qscale = quantize(&query, &mut codes);
        let approximate = |i: usize| {
            let code = &self.codes[i * self.dims..(i + 1) * self.dims];
            dot_i8(code, &codes) as f32 * self.scales[i] * qscale
        };
        let candidates = self.best(k.saturating_mul(CANDIDATES_PER_RESULT), scope, &approximate);
        top(
            candidates.into_iter().map(|(i, _)| (i, exact(i))).collect(),
            k,
        )
    }

    fn vector(&self, i: usize) -> &[f32] {
        &self.vectors[i * self.dims..(i + 1) * self.dims]
    }

    /// The best `k` items in `scope` by `score`, highest first. Large
    /// memories are scanned in parallel slices, one per core.
    fn best(
        &self,
        k: usize,
        scope: &Scope,
        score: &(dyn Fn(usize) -> f32 + Sync),
    ) -> Vec<(usize, f32)> {
        let visit = self.visit(scope);
        let n = visit.len();
        let threads = if n < 20_000 {
            1
        } else {
            std::thread::available_parallelism()
                .map_or(1, |p| p.get())
                .min(8)
        };
        let per = n.div_ceil(threads).max(1);
        let scan = |from: usize| self.scan(k, scope, score, visit, from, (from + per).min(n));
        let mut best: Vec<(usize, f32)> = if threads == 1 {
            scan(0)
        } else {
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| s.spawn(move || scan(t * per)))
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().unwrap_or_default())
                    .collect()
            })
        };
        best.sort_by(|a, b| b.1.total_cmp(&a.1));
        best.truncate(k);
        best
    }

    /// The items a search in `scope` needs to visit: the shortest of the
    /// tenant's list and the lists of its filters' values.
    fn visit(&self, scope: &Scope) -> Visit<'_> {
        const NONE: &[u32] = &[];
        let mut shortest: &[u32] = self
            .by_tenant
            .get(&scope.tenant)
            .map_or(NONE, Vec::as_slice);
        for (key, value) in &scope.filters {
            if value.is_object() || value.is_array() {
                continue;
            }
            let listed = self
                .by_value
                .get(&(key.clone(), value.to_string()))
                .map_or(NONE, Vec::as_slice);
            if listed.len() < shortest.len() {
                shortest = listed;
            }
        }
        if shortest.len() == self.items.len() {
            Visit::All(self.items.len())
        } else {
            Visit::Listed(shortest)
        }
    }

    /// The best `k` of the visited items at positions `from..to` that are
    /// in `scope`, in no particular order.
    fn scan(
        &self,
        k: usize,
        scope: &Scope,
        score: &(dyn Fn(usize) -> f32 + Sync),
        visit: Visit<'_>,
        from: usize,
        to: usize,
    ) -> Vec<(usize, f32)> {
        // The best k so far, worst first: most items are rejected by one
        // comparison with the worst kept.
        let mut best: Vec<(usize, f32)> = Vec::with_capacity(k + 1);
        for position in from..to {
            let i = visit.item(position);
            if !scope.admits(&self.items[i]) {
                continue;
            }
            let score = score(i);
            if best.len() == k && score <= best[0].1 {
                continue;
            }
            let at = best.partition_point(|(_, s)| *s < score);
            best.insert(at, (i, score));
            if best.len() > k {
                best.remove(0);
            }
        }
        best
    }

    /// The `k` items in `scope` nearest to `query` by cosine, best first.
    pub(super) fn nearest(&self, query: &[f32], k: usize, scope: &Scope) -> Vec<Hit> {
        self.vector_ranking(query, k, scope)
            .into_iter()
            .map(|(i, score)| {
                let item = &self.items[i];
                Hit {
                    id: item.id,
                    text: item.text.clone(),
                    metadata: item.metadata.clone(),
                    score,
                }
            })
            .collect()
    }
}

/// The best `k` of several rankings fused by reciprocal rank (each hit
/// scores 1 / (60 + rank) in each list it is in), best first.
pub(super) fn fuse<const N: usize>(rankings: [Vec<Hit>; N], k: usize) -> Vec<Hit> {
    let mut fused: HashMap<i64, Hit> = HashMap::new();
    for ranking in rankings {
        for (rank, hit) in ranking.into_iter().enumerate() {
            let score = 1.0 / (60.0 + rank as f32 + 1.0);
            fused
                .entry(hit.id)
                .and_modify(|kept| kept.score += score)
                .or_insert(Hit { score, ..hit });
        }
    }
    let mut fused: Vec<Hit> = fused.into_values().collect();
    fused.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    fused.truncate(k);
    fused
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::random_vector;

    fn index(n: usize, dims: usize) -> Index {
        let rows = (0..n)
            .map(|i| store::ItemRow {
                id: i as i64 + 1,
                tenant_id: (i % 3) as i64,
                text: format!("item {i}"),
                metadata: format!(r#"{{"tag": "{}"}}"#, if i % 10 == 0 { "a" } else { "b" }),
                embedding: store::to_blob(&random_vector(i as u64 + 1, dims)),
            })
            .collect();
        build(1, rows)
    }

    /// The exact top `k` in `scope`, by brute force.
    fn reference(index: &Index, query: &[f32], k: usize, scope: &Scope) -> Vec<usize> {
        let norm = query.iter().map(|x| x * x).sum::<f32>().sqrt();
        let mut all: Vec<(usize, f32)> = (0..index.items.len())
            .filter(|&i| scope.admits(&index.items[i]))
            .map(|i| (i, dot(index.vector(i), query) / norm))
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1));
        all.into_iter().take(k).map(|(i, _)| i).collect()
    }

    #[test]
    fn the_quantized_scan_finds_the_exact_top_ten() {
        let (n, dims) = (QUANTIZED_FROM * 2, 96);
        let index = index(n, dims);
        let mut found = 0;
        let mut wanted = 0;
        for q in 0..20u64 {
            let query = random_vector(1_000_000 + q, dims);
            for scope in [
                Scope::default(),
                Scope {
                    tenant: 2,
                    filters: vec![("tag".into(), Value::from("a"))],
                },
            ] {
                let want = reference(&index, &query, 10, &scope);
                let got: Vec<usize> = index
                    .vector_ranking(&query, 10, &scope)
                    .into_iter()
                    .map(|(i, _)| i)
                    .collect();
                assert_eq!(got.len(), want.len(), "k results when k exist");
                assert!(got.iter().all(|&i| scope.admits(&index.items[i])));
                found += got.iter().filter(|i| want.contains(i)).count();
                wanted += want.len();
            }
        }
        let recall = found as f64 / wanted as f64;
        assert!(recall >= 0.99, "recall@10 {recall}");
    }

    #[test]
    fn eight_bit_codes_map_back_close_to_the_vector() {
        let vector = [0.5f32, -0.25, 0.0, 1.0, -1.0];
        let mut codes = Vec::new();
        let scale = quantize(&vector, &mut codes);
        assert_eq!(codes, [64, -32, 0, 127, -127]);
        for (x, c) in vector.iter().zip(&codes) {
            assert!((x - f32::from(*c) * scale).abs() <= scale / 2.0);
        }
        assert_eq!(quantize(&[0.0; 3], &mut codes), 0.0);
        assert_eq!(dot_i8(&[1; 20], &[-2; 20]), -40);
    }
}
