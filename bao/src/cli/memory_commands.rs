//! `bao memory:*` and `bao rag:*`: the app's vector memories and documents
//! from the command line.

use super::{
    fail, MemoryAddArgs, MemoryPruneArgs, MemorySearchArgs, RagAskArgs, RagIngestArgs,
    RagRetrieveArgs,
};
use crate::db::DbPool;
use crate::memory::VectorMemory;
use crate::App;
use std::process::ExitCode;

fn prepare(app: &App) -> Result<(DbPool, tokio::runtime::Runtime), ExitCode> {
    let ready = super::app_runtime(app)?;
    Ok((ready.pool, ready.runtime))
}

/// The memory `name`, with the dimensions it was made with (or the
/// embedder's, to make it), as `tenant` sees it.
async fn open(pool: &DbPool, name: &str, tenant: Option<i64>) -> crate::Result<VectorMemory> {
    let memory = crate::memory::open_with_embedder_dims(pool, name).await?;
    Ok(match tenant {
        Some(id) => memory.for_tenant(crate::Tenant(id)),
        None => memory,
    })
}

/// The app's document set, or `tenant`'s.
fn library(pool: &DbPool, tenant: Option<i64>) -> crate::rag::Library {
    let library = crate::rag::library(pool);
    match tenant {
        Some(id) => library.for_tenant(crate::Tenant(id)),
        None => library,
    }
}

fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

fn parse_filters(filters: &[String]) -> Result<Vec<(String, serde_json::Value)>, String> {
    filters
        .iter()
        .map(|f| {
            let (key, value) = f
                .split_once('=')
                .ok_or_else(|| format!("`{f}` is not a filter: write key=value"))?;
            // A JSON value when it parses (numbers, true), else a string.
            let value =
                serde_json::from_str(value).unwrap_or_else(|_| serde_json::Value::from(value));
            Ok((key.to_string(), value))
        })
        .collect()
}

pub(super) fn add(app: &App, args: &MemoryAddArgs) -> ExitCode {
    let (pool, runtime) = match prepare(app) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let metadata = match serde_json::from_str::<serde_json::Value>(&args.metadata) {
        Ok(v) if v.is_object() => v,
        _ => {
            return fail(format!(
                "--metadata is a JSON object, like '{{\"source\": \"docs\"}}', not {}",
                args.metadata
            ))
        }
    };
    let result = runtime.block_on(async {
        let kb = open(&pool, &args.name, args.tenant).await?;
        kb.add(&args.text, metadata).await
    });
    match result {
        Ok(id) if args.json => {
            print_json(&serde_json::json!({"id": id, "memory": args.name}));
            ExitCode::SUCCESS
        }
        Ok(id) => {
            println!("added {id} to {}", args.name);
            ExitCode::SUCCESS
        }
        Err(error) => fail(error),
    }
}

pub(super) fn search(app: &App, args: &MemorySearchArgs) -> ExitCode {
    let filters = match parse_filters(&args.filter) {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    let (pool, runtime) = match prepare(app) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let started = std::time::Instant::now();
    let result = runtime.block_on(async {
        let mut kb = open(&pool, &args.name, args.tenant).await?;
        if args.in_database {
            kb = kb.in_database();
        }
        let mut search = kb.search(&args.query, args.k).mode(args.mode);
        for (key, value) in filters.clone() {
            search = search.filter(&key, value);
        }
        let hits = search.await?;
        // The size is only said by --explain: counted only then.
        let items = if args.explain {
            crate::memory::collections(&pool)
                .await?
                .into_iter()
                .find(|(n, _, _)| *n == args.name)
                .map_or(0, |(_, _, items)| items)
        } else {
            0
        };
        Ok::<_, crate::Error>((hits, items))
    });
    let (hits, items) = match result {
        Ok(found) => found,
        Err(error) => return fail(error),
    };
    if args.explain {
        eprintln!(
            "{}",
            explain(
                args,
                pool.dialect(),
                items,
                filters.len(),
                started.elapsed()
            )
        );
    }
    if args.json {
        print_json(&hits);
        return ExitCode::SUCCESS;
    }
    for hit in hits {
        println!(
            "{:>8.4}  #{}  {}  {}",
            hit.score, hit.id, hit.text, hit.metadata
        );
    }
    ExitCode::SUCCESS
}

/// What `memory:search --explain` says: which scan ran over how many
/// items, with which filters, and how long the command's search took.
fn explain(
    args: &MemorySearchArgs,
    dialect: crate::db::Dialect,
    items: i64,
    filters: usize,
    took: std::time::Duration,
) -> String {
    use crate::memory::Mode;
    let vector = if args.in_database {
        "in SQLite, sqlite-vec's exact cosine over the stored vectors (nothing cached)".to_string()
    } else if usize::try_from(items).unwrap_or(usize::MAX) < crate::memory::QUANTIZED_FROM {
        "in process, an exact cosine scan of the cached vectors".to_string()
    } else {
        format!(
            "in process, an 8-bit scan of the cached vectors for candidates, ranked by exact \
             cosine (from {} items on)",
            crate::memory::QUANTIZED_FROM
        )
    };
    let keyword = match dialect {
        crate::db::Dialect::Sqlite => "in SQLite, the FTS5 index ranked by BM25 (Porter stemmer)",
        crate::db::Dialect::Postgres => {
            "in PostgreSQL, the English tsvector index ranked by ts_rank"
        }
    };
    let scan = match args.mode {
        Mode::Vector => vector,
        Mode::Keyword => keyword.to_string(),
        Mode::Hybrid => format!("{vector}; {keyword}; fused by reciprocal rank"),
    };
    let tenant = args.tenant.map_or_else(
        || "items of no tenant".to_string(),
        |t| format!("tenant {t}'s items"),
    );
    format!(
        "search: {:?} mode over `{}` ({items} items in all): {scan}; \
         {tenant} and {filters} metadata filter(s) applied inside the search; \
         {took:?}",
        args.mode, args.name,
    )
}

pub(super) fn prune(app: &App, args: &MemoryPruneArgs) -> ExitCode {
    if args.max_age.is_none() && args.max_items.is_none() {
        return fail("say what to prune: --max-age 30d and/or --max-items 1000");
    }
    let (pool, runtime) = match prepare(app) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let result = runtime.block_on(async {
        let kb = open(&pool, &args.name, args.tenant).await?;
        kb.prune(args.max_age, args.max_items).await
    });
    match result {
        Ok(n) if args.json => {
            print_json(&serde_json::json!({"removed": n, "memory": args.name}));
            ExitCode::SUCCESS
        }
        Ok(n) => {
            println!("removed {n} from {}", args.name);
            ExitCode::SUCCESS
        }
        Err(error) => fail(error),
    }
}

pub(super) fn ingest(app: &App, args: &RagIngestArgs) -> ExitCode {
    let mut files = Vec::new();
    if args.from_file.is_dir() {
        let Ok(entries) = std::fs::read_dir(&args.from_file) else {
            return fail(format!("cannot read {}", args.from_file.display()));
        };
        let mut paths: Vec<_> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "md" || e == "txt"))
            .collect();
        paths.sort();
        files.extend(paths);
        if files.is_empty() {
            return fail(format!(
                "no .md or .txt files in {}",
                args.from_file.display()
            ));
        }
    } else {
        files.push(args.from_file.clone());
    }
    let (pool, runtime) = match prepare(app) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut documents = Vec::new();
    for path in &files {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => return fail(format!("cannot read {}: {e}", path.display())),
        };
        let title = match (&args.title, files.len()) {
            (Some(title), 1) => title.clone(),
            _ => path.file_stem().map_or_else(
                || path.display().to_string(),
                |s| s.to_string_lossy().to_string(),
            ),
        };
        let source = path.display().to_string();
        let library = library(&pool, args.tenant).chunking(args.chunk_chars, args.overlap);
        match runtime.block_on(library.ingest(&title, &text, &source)) {
            Ok(doc) => documents.push(doc),
            Err(error) => return fail(format!("{}: {error}", path.display())),
        }
    }
    if args.json {
        print_json(&documents);
    } else {
        for d in documents {
            println!("ingested {} ({}): {} chunks", d.source, d.title, d.chunks);
        }
    }
    ExitCode::SUCCESS
}

pub(super) fn retrieve(app: &App, args: &RagRetrieveArgs) -> ExitCode {
    let (pool, runtime) = match prepare(app) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let library = library(&pool, args.tenant);
    match runtime.block_on(library.retrieve_with(&args.query, args.k, args.mode)) {
        Ok(chunks) if args.json => {
            print_json(&chunks);
            ExitCode::SUCCESS
        }
        Ok(chunks) => {
            for c in chunks {
                println!("{:>8.4}  {} #{}  {}", c.score, c.source, c.chunk, c.text);
            }
            ExitCode::SUCCESS
        }
        Err(error) => fail(error),
    }
}

pub(super) fn ask(app: &App, args: &RagAskArgs) -> ExitCode {
    let (pool, runtime) = match prepare(app) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let library = library(&pool, args.tenant);
    match runtime.block_on(library.ask(&args.question, args.k)) {
        Ok(answer) if args.json => {
            print_json(&answer);
            ExitCode::SUCCESS
        }
        Ok(answer) => {
            println!("{}", answer.text);
            println!();
            for (i, s) in answer.sources.iter().enumerate() {
                println!("[{}] {} ({})", i + 1, s.title, s.source);
            }
            ExitCode::SUCCESS
        }
        Err(error) => fail(error),
    }
}
