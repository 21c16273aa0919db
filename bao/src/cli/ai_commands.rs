//! `bao ai:ask`, `bao ai:stream` and `bao ai:providers`: the app's AI router
//! from the command line (the app binary knows the router its `setup`
//! configured).

use super::{fail, AiAskArgs, JsonArgs};
use crate::ai::{AiError, Chat, Router};
use crate::App;
use futures_util::StreamExt;
use serde_json::json;
use std::io::Write;
use std::process::ExitCode;

/// The app's router: the one `setup` gave `App::ai`, else the environment's.
fn router(app: &App) -> Result<Router, AiError> {
    match app.ai_router() {
        Some(router) => Ok(router.clone()),
        None => Router::from_env(),
    }
}

fn chat(args: &AiAskArgs) -> Chat {
    let mut chat = Chat::new();
    if let Some(system) = &args.system {
        chat = chat.system(system.clone());
    }
    chat = chat.user(args.prompt.clone());
    if let Some(provider) = &args.provider {
        chat = chat.provider(provider.clone());
    }
    if let Some(model) = &args.model {
        chat = chat.model(model.clone());
    }
    if let Some(n) = args.max_tokens {
        chat = chat.max_tokens(n);
    }
    if let Some(t) = args.temperature {
        chat = chat.temperature(t);
    }
    chat
}

/// The app's router and a runtime to call it on.
fn prepare(app: &App) -> Result<(Router, tokio::runtime::Runtime), ExitCode> {
    let router = router(app).map_err(fail)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(format!("cannot start the runtime: {e}")))?;
    Ok((router, runtime))
}

pub(super) fn ask(app: &App, args: &AiAskArgs) -> ExitCode {
    let (router, runtime) = match prepare(app) {
        Ok(ready) => ready,
        Err(code) => return code,
    };
    match runtime.block_on(router.complete(&chat(args))) {
        Ok(reply) if args.json => {
            println!(
                "{}",
                serde_json::to_string_pretty(&reply).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Ok(reply) => {
            println!("{}", reply.text);
            for call in &reply.tool_calls {
                println!("[tool call {}({})]", call.name, call.arguments);
            }
            ExitCode::SUCCESS
        }
        Err(error) => fail(error),
    }
}

pub(super) fn stream(app: &App, args: &AiAskArgs) -> ExitCode {
    let (router, runtime) = match prepare(app) {
        Ok(ready) => ready,
        Err(code) => return code,
    };
    runtime.block_on(async {
        let mut stream = match router.stream(&chat(args)).await {
            Ok(stream) => stream,
            Err(error) => return fail(error),
        };
        let mut out = std::io::stdout().lock();
        let mut text = String::new();
        while let Some(piece) = stream.next().await {
            match piece {
                Ok(piece) if args.json => text.push_str(&piece),
                Ok(piece) => {
                    let _ = out.write_all(piece.as_bytes());
                    let _ = out.flush();
                }
                Err(error) => {
                    let _ = writeln!(out);
                    return fail(error);
                }
            }
        }
        let (usage, cost) = stream.usage().unwrap_or_default();
        if args.json {
            let value = json!({
                "text": text,
                "provider": stream.provider(),
                "model": stream.model(),
                "usage": usage,
                "cost_usd": cost,
                "tool_calls": stream.tool_calls(),
            });
            let _ = writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            );
        } else {
            let _ = writeln!(out);
        }
        ExitCode::SUCCESS
    })
}

pub(super) fn providers(app: &App, args: &JsonArgs) -> ExitCode {
    let router = match router(app) {
        Ok(router) => router,
        Err(error) => return fail(error),
    };
    let providers = router.providers();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&providers).unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    println!(
        "{:<12} {:<28} {:<24} {:<20} CIRCUIT",
        "PROVIDER", "MODEL", "EMBEDDINGS", "USD/M TOKENS (IN/OUT)"
    );
    for p in providers {
        let name = if p.default {
            format!("{} *", p.name)
        } else {
            p.name.clone()
        };
        let price = p
            .price
            .map_or_else(|| "unknown".to_string(), |(i, o)| format!("{i}/{o}"));
        println!(
            "{:<12} {:<28} {:<24} {:<20} {}",
            name,
            p.model,
            p.embedding_model.as_deref().unwrap_or("-"),
            price,
            p.circuit
        );
    }
    println!("\n* tried first; the others follow in order when it fails before answering");
    ExitCode::SUCCESS
}
