//! The in-process index of a vector memory: its rows cached from the
//! table (reloaded when the collection's version changes), searched by an
//! exact cosine scan, by BM25 over terms, or both fused by reciprocal rank.

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
    /// By BM25 over the words of the texts.
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

struct Item {
    id: i64,
    text: String,
    metadata: Value,
    terms: HashMap<String, u32>,
    len: u32,
}

pub(super) struct Index {
    version: i64,
    items: Vec<Item>,
    /// Every item's vector, scaled to unit length, one after another (a
    /// dot product is then the cosine similarity).
    vectors: Vec<f32>,
    dims: usize,
    /// In how many items each term appears.
    df: HashMap<String, u32>,
    avg_len: f32,
}

type Cache = Mutex<HashMap<(usize, String), Arc<Index>>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Cache::default)
}

pub(crate) fn tokens(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 1)
        .map(str::to_string)
        .collect()
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
    let mut df: HashMap<String, u32> = HashMap::new();
    let mut total_len = 0u64;
    let dims = rows.first().map_or(0, |r| r.embedding.len() / 4);
    let mut vectors: Vec<f32> = Vec::with_capacity(rows.len() * dims);
    let items: Vec<Item> = rows
        .into_iter()
        .map(|row| {
            let mut vector = store::from_blob(&row.embedding);
            vector.resize(dims, 0.0);
            let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm > 0.0 {
                vector.iter_mut().for_each(|x| *x /= norm);
            }
            vectors.extend_from_slice(&vector);
            let mut terms: HashMap<String, u32> = HashMap::new();
            let words = tokens(&row.text);
            for w in &words {
                *terms.entry(w.clone()).or_default() += 1;
            }
            for t in terms.keys() {
                *df.entry(t.clone()).or_default() += 1;
            }
            let len = u32::try_from(words.len()).unwrap_or(u32::MAX);
            total_len += u64::from(len);
            Item {
                id: row.id,
                metadata: serde_json::from_str(&row.metadata).unwrap_or(Value::Null),
                text: row.text,
                terms,
                len,
            }
        })
        .collect();
    let avg_len = if items.is_empty() {
        1.0
    } else {
        (total_len as f32 / items.len() as f32).max(1.0)
    };
    Index {
        version,
        items,
        vectors,
        dims,
        df,
        avg_len,
    }
}

fn matches(item: &Item, filters: &[(String, Value)]) -> bool {
    filters
        .iter()
        .all(|(key, value)| item.metadata.get(key) == Some(value))
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
    fn vector_ranking(
        &self,
        query: &[f32],
        k: usize,
        filters: &[(String, Value)],
    ) -> Vec<(usize, f32)> {
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
        let n = self.items.len();
        // Large memories are scanned in parallel slices, one per core.
        let threads = if n < 20_000 {
            1
        } else {
            std::thread::available_parallelism()
                .map_or(1, |p| p.get())
                .min(8)
        };
        let per = n.div_ceil(threads).max(1);
        let scan = |from: usize| self.scan(&query, k, filters, from, (from + per).min(n));
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

    /// The best `k` of items `from..to`, in no particular order.
    fn scan(
        &self,
        query: &[f32],
        k: usize,
        filters: &[(String, Value)],
        from: usize,
        to: usize,
    ) -> Vec<(usize, f32)> {
        // The best k so far, worst first: most items are rejected by one
        // comparison with the worst kept.
        let mut best: Vec<(usize, f32)> = Vec::with_capacity(k + 1);
        if from >= to {
            return best;
        }
        let slice = &self.vectors[from * self.dims..to * self.dims];
        for (offset, vector) in slice.chunks_exact(self.dims).enumerate() {
            let i = from + offset;
            if !filters.is_empty() && !matches(&self.items[i], filters) {
                continue;
            }
            let score = dot(vector, query);
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

    fn keyword_ranking(
        &self,
        query: &str,
        k: usize,
        filters: &[(String, Value)],
    ) -> Vec<(usize, f32)> {
        let (k1, b) = (1.2f32, 0.75f32);
        let n = self.items.len() as f32;
        let mut words = tokens(query);
        words.sort();
        words.dedup();
        let idf: Vec<(String, f32)> = words
            .into_iter()
            .filter_map(|w| {
                let df = *self.df.get(&w)? as f32;
                Some((w, ((n - df + 0.5) / (df + 0.5) + 1.0).ln()))
            })
            .collect();
        if idf.is_empty() {
            return Vec::new();
        }
        let scored: Vec<(usize, f32)> = self
            .items
            .iter()
            .enumerate()
            .filter(|(_, item)| matches(item, filters))
            .filter_map(|(i, item)| {
                let mut score = 0.0;
                for (w, weight) in &idf {
                    if let Some(&tf) = item.terms.get(w) {
                        let tf = tf as f32;
                        let norm = 1.0 - b + b * item.len as f32 / self.avg_len;
                        score += weight * tf * (k1 + 1.0) / (tf + k1 * norm);
                    }
                }
                (score > 0.0).then_some((i, score))
            })
            .collect();
        top(scored, k)
    }

    pub(super) fn search(
        &self,
        query: &str,
        vector: Option<&[f32]>,
        k: usize,
        filters: &[(String, Value)],
        mode: Mode,
    ) -> Vec<Hit> {
        let ranked = match (mode, vector) {
            (Mode::Keyword, _) | (_, None) => self.keyword_ranking(query, k, filters),
            (Mode::Vector, Some(v)) => self.vector_ranking(v, k, filters),
            (Mode::Hybrid, Some(v)) => {
                // Reciprocal rank fusion over a deeper list of each.
                let depth = (k * 4).max(20);
                let mut fused: HashMap<usize, f32> = HashMap::new();
                // Items with no similarity at all are no vector match.
                let mut by_vector = self.vector_ranking(v, depth, filters);
                by_vector.retain(|(_, score)| *score > 0.0);
                for list in [by_vector, self.keyword_ranking(query, depth, filters)] {
                    for (rank, (i, _)) in list.into_iter().enumerate() {
                        *fused.entry(i).or_default() += 1.0 / (60.0 + rank as f32 + 1.0);
                    }
                }
                top(fused.into_iter().collect(), k)
            }
        };
        ranked
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
