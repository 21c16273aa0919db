//! `bao::ai` against stub servers that speak each provider's wire format:
//! plain and streamed replies (with the final usage), tool calls, 429 with
//! Retry-After, 500 then success, a stream cut short; fallback, budgets and
//! cost. No request leaves the machine.

use actix_web::{web, HttpRequest, HttpResponse};
use bao::ai::{
    self, AiError, Anthropic, Budget, Chat, Echo, HttpSettings, Ollama, OpenAi, Provider, Router,
    Scripted, ToolSpec,
};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a stub answers, in order (the last one repeats), and what it saw.
#[derive(Clone, Default)]
struct Script {
    answers: Arc<Mutex<Vec<Answer>>>,
    calls: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<(HttpRequest2, Value)>>>,
}

#[derive(Clone, Debug)]
struct HttpRequest2 {
    path: String,
    headers: Vec<(String, String)>,
}

#[derive(Clone)]
struct Answer {
    status: u16,
    content_type: &'static str,
    body: String,
    retry_after: Option<&'static str>,
}

fn json_answer(body: Value) -> Answer {
    Answer {
        status: 200,
        content_type: "application/json",
        body: body.to_string(),
        retry_after: None,
    }
}

fn sse_answer(events: &[(&str, Value)]) -> Answer {
    let mut body = String::new();
    for (event, data) in events {
        if !event.is_empty() {
            body.push_str(&format!("event: {event}\n"));
        }
        body.push_str(&format!("data: {data}\n\n"));
    }
    Answer {
        status: 200,
        content_type: "text/event-stream",
        body,
        retry_after: None,
    }
}

fn error_answer(status: u16, body: Value, retry_after: Option<&'static str>) -> Answer {
    Answer {
        status,
        content_type: "application/json",
        body: body.to_string(),
        retry_after,
    }
}

async fn stub_handler(
    req: HttpRequest,
    body: web::Bytes,
    script: web::Data<Script>,
) -> HttpResponse {
    let n = script.calls.fetch_add(1, Ordering::SeqCst);
    let seen = HttpRequest2 {
        path: req.path().to_string(),
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
    };
    script
        .seen
        .lock()
        .unwrap()
        .push((seen, serde_json::from_slice(&body).unwrap_or(Value::Null)));
    let answer = {
        let answers = script.answers.lock().unwrap();
        answers[n.min(answers.len() - 1)].clone()
    };
    let mut response =
        HttpResponse::build(actix_web::http::StatusCode::from_u16(answer.status).unwrap());
    response.content_type(answer.content_type);
    if let Some(after) = answer.retry_after {
        response.insert_header(("retry-after", after));
    }
    response.body(answer.body)
}

/// Starts a stub on a free port answering every POST with `answers` in turn.
fn stub(answers: Vec<Answer>) -> (String, Script) {
    let script = Script {
        answers: Arc::new(Mutex::new(answers)),
        ..Script::default()
    };
    let data = web::Data::new(script.clone());
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(data.clone())
            .default_service(web::to(stub_handler))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let addr = server.addrs()[0];
    actix_web::rt::spawn(server.run());
    (format!("http://{addr}"), script)
}

fn quick() -> HttpSettings {
    HttpSettings {
        timeout: Duration::from_secs(5),
        retries: 2,
        backoff: Duration::from_millis(10),
        max_wait: Duration::from_secs(3),
    }
}

fn openai_reply(text: &str) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
    })
}

#[bao::test]
async fn openai_plain_reply_with_usage_and_cost() {
    let (base, script) = stub(vec![json_answer(openai_reply("Hello from the stub"))]);
    let provider = OpenAi::new("sk-secret-key").base_url(&base).http(quick());
    let router = Router::new().provider(provider);
    let reply = router
        .complete(
            &Chat::new()
                .system("be brief")
                .user("hi")
                .temperature(0.5)
                .max_tokens(64),
        )
        .await
        .unwrap();
    assert_eq!(reply.text, "Hello from the stub");
    assert_eq!(
        (reply.usage.input_tokens, reply.usage.output_tokens),
        (12, 5)
    );
    assert_eq!(reply.model, "gpt-4o-mini-2024-07-18");
    let cost = reply.cost_usd.expect("gpt-4o-mini has a price");
    assert!(
        (cost - (12.0 * 0.15 + 5.0 * 0.6) / 1e6).abs() < 1e-12,
        "{cost}"
    );
    let seen = script.seen.lock().unwrap();
    let (request, body) = &seen[0];
    assert_eq!(request.path, "/v1/chat/completions");
    assert!(request
        .headers
        .iter()
        .any(|(k, v)| k == "authorization" && v == "Bearer sk-secret-key"));
    assert_eq!(
        body["messages"][0],
        json!({"role": "system", "content": "be brief"})
    );
    assert_eq!(
        body["messages"][1],
        json!({"role": "user", "content": "hi"})
    );
    assert_eq!(body["max_tokens"], 64);
    assert_eq!(body["model"], "gpt-4o-mini");
}

#[bao::test]
async fn openai_stream_yields_pieces_then_charges_the_final_usage() {
    let delta = |text: &str| json!({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]});
    // `[DONE]` is sent bare, not as a JSON string.
    let answers = vec![{
        let mut a = sse_answer(&[
            (
                "",
                json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}),
            ),
            ("", delta("Three ")),
            ("", delta("taglines")),
            (
                "",
                json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
            ),
            (
                "",
                json!({"choices": [], "model": "gpt-4o", "usage": {"prompt_tokens": 7, "completion_tokens": 3}}),
            ),
        ]);
        a.body.push_str("data: [DONE]\n\n");
        a
    }];
    let (base, script) = stub(answers);
    let router = Router::new().provider(OpenAi::new("k").base_url(&base).http(quick()));
    let (pieces, spent) = ai::with_budget(Budget::tokens(1_000), async {
        let mut stream = router.stream(&Chat::from("three taglines")).await.unwrap();
        let mut pieces = Vec::new();
        while let Some(piece) = stream.next().await {
            pieces.push(piece.unwrap());
        }
        let (usage, cost) = stream.usage().expect("ended");
        assert_eq!((usage.input_tokens, usage.output_tokens), (7, 3));
        assert!((cost.unwrap() - (7.0 * 2.5 + 3.0 * 10.0) / 1e6).abs() < 1e-12);
        (pieces, ai::spent().unwrap())
    })
    .await;
    assert_eq!(pieces, ["Three ", "taglines"]);
    assert_eq!(
        spent.tokens, 10,
        "charged from the usage event, not an estimate"
    );
    assert_eq!(spent.calls, 1);
    let seen = script.seen.lock().unwrap();
    assert_eq!(seen[0].1["stream"], true);
    assert_eq!(seen[0].1["stream_options"]["include_usage"], true);
}

#[bao::test]
async fn openai_tool_calls_come_back_parsed() {
    let (base, script) = stub(vec![json_answer(json!({
        "model": "gpt-4o",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
            "role": "assistant", "content": null,
            "tool_calls": [{"id": "call_9", "type": "function",
                "function": {"name": "search", "arguments": "{\"q\":\"retry docs\",\"limit\":3}"}}]
        }}],
        "usage": {"prompt_tokens": 30, "completion_tokens": 9}
    }))]);
    let router = Router::new().provider(OpenAi::new("k").base_url(&base).http(quick()));
    let tool = ToolSpec {
        name: "search".into(),
        description: "Searches the knowledge base.".into(),
        parameters: json!({"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}),
    };
    let reply = router
        .complete(&Chat::from("find the retry docs").tool(tool))
        .await
        .unwrap();
    assert_eq!(reply.tool_calls.len(), 1);
    assert_eq!(reply.tool_calls[0].id, "call_9");
    assert_eq!(reply.tool_calls[0].name, "search");
    assert_eq!(
        reply.tool_calls[0].arguments,
        json!({"q": "retry docs", "limit": 3})
    );
    assert_eq!(reply.stop_reason.as_deref(), Some("tool_calls"));
    let body = &script.seen.lock().unwrap()[0].1;
    assert_eq!(body["tools"][0]["type"], "function");
    assert_eq!(body["tools"][0]["function"]["name"], "search");
}

#[bao::test]
async fn a_429_is_retried_after_its_retry_after_and_a_500_after_backoff() {
    let (base, script) = stub(vec![
        error_answer(
            429,
            json!({"error": {"message": "slow down", "type": "rate_limit"}}),
            Some("1"),
        ),
        error_answer(500, json!({"error": {"message": "boom"}}), None),
        json_answer(openai_reply("finally")),
    ]);
    let router = Router::new().provider(OpenAi::new("k").base_url(&base).http(quick()));
    let started = Instant::now();
    let reply = router.complete(&Chat::from("hi")).await.unwrap();
    assert_eq!(reply.text, "finally");
    assert_eq!(script.calls.load(Ordering::SeqCst), 3);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "Retry-After: 1 was honoured ({:?})",
        started.elapsed()
    );
}

#[bao::test]
async fn errors_are_typed_and_never_show_the_key() {
    let (base, _) = stub(vec![error_answer(
        400,
        json!({"error": {"message": "max_tokens is too large"}}),
        None,
    )]);
    let router =
        Router::new().provider(OpenAi::new("sk-very-secret").base_url(&base).http(quick()));
    let error = router.complete(&Chat::from("hi")).await.unwrap_err();
    match &error {
        AiError::BadRequest {
            status, message, ..
        } => {
            assert_eq!(
                (*status, message.as_str()),
                (400, "max_tokens is too large")
            );
        }
        other => panic!("expected BadRequest, got {other:?}"),
    }
    assert_eq!(error.status(), 400);
    assert!(!format!("{error} {error:?}").contains("sk-very-secret"));

    let (base, _) = stub(vec![error_answer(
        429,
        json!({"error": {"message": "quota"}}),
        Some("120"),
    )]);
    let router =
        Router::new().provider(OpenAi::new("sk-very-secret").base_url(&base).http(quick()));
    let error = router.complete(&Chat::from("hi")).await.unwrap_err();
    assert!(
        matches!(error, AiError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(120)),
        "a Retry-After longer than the longest wait fails at once: {error:?}"
    );
    assert_eq!((error.status(), error.retry_after_secs()), (429, Some(120)));

    // Nothing listens here: unavailable, 503.
    let port = bao::testing::free_port();
    let router = Router::new().provider(
        OpenAi::new("sk-very-secret")
            .base_url(&format!("http://127.0.0.1:{port}"))
            .http(HttpSettings {
                retries: 0,
                ..quick()
            }),
    );
    let error = router.complete(&Chat::from("hi")).await.unwrap_err();
    assert!(matches!(error, AiError::Unavailable { .. }), "{error:?}");
    assert_eq!(error.status(), 503);
}

#[bao::test]
async fn a_stream_cut_after_two_pieces_ends_with_an_error_and_no_second_answer() {
    let delta = |text: &str| json!({"choices": [{"index": 0, "delta": {"content": text}}]});
    let (base, _) = stub(vec![sse_answer(&[
        ("", delta("one ")),
        ("", delta("two ")),
    ])]);
    // The fallback would answer differently: it must not be used mid-stream.
    let router = Router::new()
        .provider(OpenAi::new("k").base_url(&base).http(quick()))
        .provider(Echo::new());
    let mut stream = router.stream(&Chat::from("count")).await.unwrap();
    assert_eq!(stream.provider(), "openai");
    assert_eq!(stream.next().await.unwrap().unwrap(), "one ");
    assert_eq!(stream.next().await.unwrap().unwrap(), "two ");
    let error = stream.next().await.unwrap().unwrap_err();
    assert!(matches!(error, AiError::Unavailable { .. }), "{error:?}");
    assert!(stream.next().await.is_none(), "nothing after the error");
}

#[bao::test]
async fn fallback_tries_the_next_provider_only_before_any_output() {
    let (base, script) = stub(vec![error_answer(
        503,
        json!({"error": {"message": "overloaded"}}),
        None,
    )]);
    let router = Router::new()
        .provider(OpenAi::new("k").base_url(&base).http(HttpSettings {
            retries: 1,
            ..quick()
        }))
        .provider(Scripted::new(["from the fallback"]));
    let reply = router.complete(&Chat::from("hi")).await.unwrap();
    assert_eq!(
        (reply.text.as_str(), reply.provider.as_str()),
        ("from the fallback", "scripted")
    );
    assert_eq!(
        script.calls.load(Ordering::SeqCst),
        2,
        "one retry, then the fallback"
    );

    // A stream that fails before its first piece falls back too.
    let router = Router::new()
        .provider(OpenAi::new("k").base_url(&base).http(HttpSettings {
            retries: 0,
            ..quick()
        }))
        .provider(Echo::new());
    let stream = router.stream(&Chat::from("abc")).await.unwrap();
    assert_eq!(stream.provider(), "echo");
    assert_eq!(stream.text().await.unwrap(), "cba");

    // A request the provider rejects is not sent elsewhere.
    let (base, _) = stub(vec![error_answer(
        400,
        json!({"error": {"message": "bad"}}),
        None,
    )]);
    let router = Router::new()
        .provider(OpenAi::new("k").base_url(&base).http(quick()))
        .provider(Echo::new());
    assert!(matches!(
        router.complete(&Chat::from("hi")).await,
        Err(AiError::BadRequest { .. })
    ));

    // The default goes first, whatever the order of registration.
    let router = Router::new()
        .provider(Scripted::new(["scripted"]))
        .provider(Echo::new())
        .default("echo");
    assert_eq!(router.provider_names(), ["echo", "scripted"]);
    assert_eq!(router.complete(&Chat::from("ab")).await.unwrap().text, "ba");
}

#[bao::test]
async fn anthropic_messages_plain_streamed_and_tool_use() {
    let (base, script) = stub(vec![
        json_answer(json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-20250514",
            "content": [{"type": "text", "text": "Backpressure slows producers."}],
            "stop_reason": "end_turn", "usage": {"input_tokens": 20, "output_tokens": 6}
        })),
        sse_answer(&[
            (
                "message_start",
                json!({"type": "message_start", "message": {"id": "msg_2", "model": "claude-sonnet-4-20250514", "usage": {"input_tokens": 25, "output_tokens": 1}}}),
            ),
            (
                "content_block_start",
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ),
            ("ping", json!({"type": "ping"})),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}}),
            ),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}}),
            ),
            (
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 0}),
            ),
            (
                "content_block_start",
                json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "search", "input": {}}}),
            ),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"q\": \"re"}}),
            ),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "try\"}"}}),
            ),
            (
                "content_block_stop",
                json!({"type": "content_block_stop", "index": 1}),
            ),
            (
                "message_delta",
                json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 15}}),
            ),
            ("message_stop", json!({"type": "message_stop"})),
        ]),
    ]);
    let router = Router::new().provider(Anthropic::new("ak-secret").base_url(&base).http(quick()));
    let reply = router
        .complete(&Chat::new().system("be brief").user("what is backpressure?"))
        .await
        .unwrap();
    assert_eq!(reply.text, "Backpressure slows producers.");
    assert_eq!(
        (reply.usage.input_tokens, reply.usage.output_tokens),
        (20, 6)
    );
    assert!((reply.cost_usd.unwrap() - (20.0 * 3.0 + 6.0 * 15.0) / 1e6).abs() < 1e-12);
    {
        let seen = script.seen.lock().unwrap();
        let (request, body) = &seen[0];
        assert_eq!(request.path, "/v1/messages");
        assert!(request
            .headers
            .iter()
            .any(|(k, v)| k == "x-api-key" && v == "ak-secret"));
        assert!(request
            .headers
            .iter()
            .any(|(k, v)| k == "anthropic-version" && v == "2023-06-01"));
        assert_eq!(body["system"], "be brief");
        assert_eq!(
            body["messages"],
            json!([{"role": "user", "content": "what is backpressure?"}])
        );
        assert_eq!(
            body["max_tokens"], 1024,
            "required by the API: a default is sent"
        );
    }

    let mut stream = router.stream(&Chat::from("hi")).await.unwrap();
    let mut text = String::new();
    while let Some(piece) = stream.next().await {
        text.push_str(&piece.unwrap());
    }
    assert_eq!(text, "Hello");
    let (usage, _) = stream.usage().unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (25, 15));
    assert_eq!(stream.tool_calls().len(), 1);
    assert_eq!(stream.tool_calls()[0].arguments, json!({"q": "retry"}));
}

#[bao::test]
async fn anthropic_tool_use_reply_and_tool_results_on_the_wire() {
    let (base, script) = stub(vec![json_answer(json!({
        "type": "message", "model": "claude-sonnet-4-20250514", "stop_reason": "tool_use",
        "content": [
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "toolu_7", "name": "search", "input": {"q": "retries"}}
        ],
        "usage": {"input_tokens": 40, "output_tokens": 12}
    }))]);
    let router = Router::new().provider(Anthropic::new("k").base_url(&base).http(quick()));
    let call = bao::ai::ToolCall {
        id: "toolu_1".into(),
        name: "search".into(),
        arguments: json!({"q": "x"}),
    };
    let chat = Chat::new()
        .user("find it")
        .assistant_calls("", vec![call])
        .tool_result("toolu_1", "nothing found")
        .tool(ToolSpec {
            name: "search".into(),
            description: "Searches.".into(),
            parameters: json!({"type": "object"}),
        });
    let reply = router.complete(&chat).await.unwrap();
    assert_eq!(reply.text, "Let me look.");
    assert_eq!(reply.tool_calls[0].id, "toolu_7");
    assert_eq!(reply.tool_calls[0].arguments, json!({"q": "retries"}));
    let body = &script.seen.lock().unwrap()[0].1;
    assert_eq!(body["tools"][0]["input_schema"], json!({"type": "object"}));
    assert_eq!(body["messages"][1]["content"][0]["type"], "tool_use");
    assert_eq!(body["messages"][2]["content"][0]["type"], "tool_result");
    assert_eq!(body["messages"][2]["content"][0]["tool_use_id"], "toolu_1");
}

#[bao::test]
async fn anthropic_stream_error_event_ends_the_stream() {
    let (base, _) = stub(vec![sse_answer(&[
        (
            "message_start",
            json!({"type": "message_start", "message": {"usage": {"input_tokens": 5}}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
        ),
        (
            "error",
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ),
    ])]);
    let router = Router::new().provider(Anthropic::new("k").base_url(&base).http(quick()));
    let mut stream = router.stream(&Chat::from("hi")).await.unwrap();
    assert_eq!(stream.next().await.unwrap().unwrap(), "Hi");
    let error = stream.next().await.unwrap().unwrap_err();
    assert!(error.to_string().contains("Overloaded"), "{error}");
    assert!(stream.next().await.is_none());
}

#[bao::test]
async fn ollama_chat_ndjson_stream_and_embeddings() {
    let line = |v: Value| format!("{v}\n");
    let ndjson = [
        line(json!({"model": "llama3.2", "message": {"role": "assistant", "content": "Bao "}, "done": false})),
        line(json!({"model": "llama3.2", "message": {"role": "assistant", "content": "bounds work"}, "done": false})),
        line(json!({"model": "llama3.2", "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": "stop", "prompt_eval_count": 9, "eval_count": 4})),
    ]
    .concat();
    let (base, script) = stub(vec![
        json_answer(
            json!({"model": "llama3.2", "message": {"role": "assistant", "content": "local answer"},
            "done": true, "done_reason": "stop", "prompt_eval_count": 11, "eval_count": 2}),
        ),
        Answer {
            status: 200,
            content_type: "application/x-ndjson",
            body: ndjson,
            retry_after: None,
        },
        json_answer(
            json!({"model": "nomic-embed-text", "embeddings": [[0.1, 0.2], [0.3, 0.4]], "prompt_eval_count": 4}),
        ),
    ]);
    let router = Router::new().provider(Ollama::new(&base).http(quick()));
    let reply = router
        .complete(&Chat::from("hi").temperature(0.1).max_tokens(20))
        .await
        .unwrap();
    assert_eq!(reply.text, "local answer");
    assert_eq!(reply.cost_usd, Some(0.0), "local models cost nothing");
    assert_eq!(
        (reply.usage.input_tokens, reply.usage.output_tokens),
        (11, 2)
    );

    let mut stream = router.stream(&Chat::from("hi")).await.unwrap();
    let mut pieces = Vec::new();
    while let Some(piece) = stream.next().await {
        pieces.push(piece.unwrap());
    }
    assert_eq!(pieces, ["Bao ", "bounds work"]);
    assert_eq!(stream.usage().unwrap().0.output_tokens, 4);

    let vectors = router
        .embed(&["a".to_string(), "b".to_string()])
        .await
        .unwrap();
    assert_eq!(vectors, vec![vec![0.1f32, 0.2], vec![0.3, 0.4]]);
    let seen = script.seen.lock().unwrap();
    assert_eq!(seen[0].0.path, "/api/chat");
    assert_eq!(seen[0].1["stream"], false);
    assert_eq!(
        seen[0].1["options"],
        json!({"temperature": 0.10000000149011612, "num_predict": 20})
    );
    assert_eq!(seen[1].1["stream"], true);
    assert_eq!(seen[2].0.path, "/api/embed");
    assert_eq!(seen[2].1["input"], json!(["a", "b"]));
}

#[bao::test]
async fn openai_embeddings_in_index_order() {
    let (base, script) = stub(vec![json_answer(json!({
        "object": "list", "model": "text-embedding-3-small",
        "data": [
            {"object": "embedding", "index": 1, "embedding": [0.5, 0.5]},
            {"object": "embedding", "index": 0, "embedding": [1.0, 0.0]}
        ],
        "usage": {"prompt_tokens": 4, "total_tokens": 4}
    }))]);
    let router = Router::new().provider(
        OpenAi::new("k")
            .base_url(&format!("{base}/v1"))
            .http(quick()),
    );
    let vectors = router
        .embed(&["alpha".to_string(), "beta".to_string()])
        .await
        .unwrap();
    assert_eq!(vectors, vec![vec![1.0f32, 0.0], vec![0.5, 0.5]]);
    assert_eq!(script.seen.lock().unwrap()[0].0.path, "/v1/embeddings");
}

#[bao::test]
async fn budgets_refuse_calls_that_cannot_fit_and_nest() {
    ai::install(Router::new().provider(Echo::new()));
    // A prompt of ~40 characters is ~10 tokens: it cannot fit in 5.
    let refused = ai::with_budget(Budget::tokens(5), async {
        ai::ask("a prompt of about forty characters long").await
    })
    .await;
    assert!(
        matches!(refused, Err(AiError::BudgetExceeded(_))),
        "{refused:?}"
    );

    let (inner, outer) = ai::with_budget(Budget::tokens(1_000), async {
        ai::ask("outer call").await.unwrap();
        let inner = ai::with_budget(Budget::tokens(500), async {
            ai::ask("inner call").await.unwrap();
            ai::spent().unwrap()
        })
        .await;
        (inner, ai::spent().unwrap())
    })
    .await;
    assert_eq!(inner.calls, 1);
    assert_eq!(
        outer.calls, 2,
        "the inner call is charged to the outer budget too"
    );
    assert!(outer.tokens > inner.tokens && inner.tokens > 0);

    // Used up: the next call is refused before it is made.
    // "twelve chars" is ~4 tokens in and 3 out: after one call 2 of 9 are left.
    let result = ai::with_budget(Budget::tokens(9), async {
        ai::ask("twelve chars").await.unwrap();
        ai::ask("twelve chars").await
    })
    .await;
    assert!(
        matches!(result, Err(AiError::BudgetExceeded(_))),
        "{result:?}"
    );
}

#[bao::test]
async fn unknown_prices_are_unknown_not_free_and_dollar_budgets_refuse_them() {
    let (base, _) = stub(vec![json_answer(json!({
        "model": "my-finetune",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 1000}
    }))]);
    let provider = || {
        OpenAi::new("k")
            .base_url(&base)
            .model("my-finetune")
            .http(quick())
    };
    let router = Router::new().provider(provider());
    let reply = router.complete(&Chat::from("hi")).await.unwrap();
    assert_eq!(reply.cost_usd, None, "no price: the cost is unknown");

    let refused = ai::with_budget(
        Budget::unlimited().usd(1.0),
        router.complete(&Chat::from("hi")),
    )
    .await;
    assert!(
        matches!(&refused, Err(AiError::BudgetExceeded(m)) if m.contains("my-finetune")),
        "{refused:?}"
    );

    let priced = Router::new()
        .provider(provider())
        .price("my-finetune", 1.0, 2.0);
    let reply = ai::with_budget(
        Budget::unlimited().usd(1.0),
        priced.complete(&Chat::from("hi")),
    )
    .await
    .unwrap();
    assert!((reply.cost_usd.unwrap() - 0.003).abs() < 1e-12);
}

#[bao::test]
async fn a_stream_dropped_early_is_still_charged() {
    ai::install(Router::new().provider(Echo::new()));
    let spent = ai::with_budget(Budget::tokens(1_000), async {
        let mut stream = ai::stream("abcdefghijklmnop").await.unwrap();
        assert_eq!(stream.next().await.unwrap().unwrap(), "p");
        drop(stream);
        ai::spent().unwrap()
    })
    .await;
    assert_eq!(spent.calls, 1);
    assert!(spent.tokens > 0);
}

#[bao::test]
async fn echo_is_deterministic_offline() {
    let echo = Echo::new();
    let reply = echo.complete(&Chat::from("hello")).await.unwrap();
    assert_eq!(reply.text, "olleh");
    let mut stream = echo.stream(&Chat::from("abc")).await.unwrap();
    let mut pieces = Vec::new();
    while let Some(Ok(bao::ai::Chunk::Text(t))) = stream.next().await {
        pieces.push(t);
    }
    assert_eq!(pieces, ["c", "b", "a"], "one character per chunk");
    let a = echo
        .embed(&[
            "retry the task".into(),
            "retry the task".into(),
            "bake bread".into(),
        ])
        .await
        .unwrap();
    assert_eq!(a.vectors[0], a.vectors[1]);
    assert_eq!(a.vectors[0].len(), 384);
    let dot: f32 = a.vectors[0]
        .iter()
        .zip(&a.vectors[2])
        .map(|(x, y)| x * y)
        .sum();
    assert!(dot.abs() < 0.5, "different texts are far apart: {dot}");
}

#[bao::test]
async fn the_router_from_the_environment_checks_its_names_and_keys() {
    let error = Router::from_names(Some("openai,nonsense"), None).unwrap_err();
    assert!(
        error.to_string().contains("OPENAI_API_KEY") || error.to_string().contains("nonsense"),
        "{error}"
    );
    let error = Router::from_names(Some("echo,llamafile"), None).unwrap_err();
    assert!(error.to_string().contains("`llamafile`"), "{error}");
    let error = Router::from_names(Some("echo"), Some("ollama")).unwrap_err();
    assert!(error.to_string().contains("BAO_AI_DEFAULT"), "{error}");
    let router = Router::from_names(Some("echo, ollama"), Some("ollama")).unwrap();
    assert_eq!(router.provider_names(), ["ollama", "echo"]);
}

#[bao::test]
async fn mock_native_calls_the_named_tool_then_answers_from_its_result() {
    let search = ToolSpec {
        name: "search".into(),
        description: "Searches.".into(),
        parameters: json!({"type": "object", "properties": {"q": {"type": "string"}, "limit": {"type": "integer"}}, "required": ["q", "limit"]}),
    };
    let post = ToolSpec {
        name: "post".into(),
        description: "Posts.".into(),
        parameters: json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}),
    };
    let router = Router::new().provider(bao::ai::MockNative::new());
    let chat = Chat::from("please post this").tool(search).tool(post);
    let reply = router.complete(&chat).await.unwrap();
    assert_eq!(reply.tool_calls.len(), 1);
    assert_eq!(reply.tool_calls[0].name, "post");
    assert_eq!(
        reply.tool_calls[0].arguments,
        json!({"text": "please post this"})
    );
    let call = reply.tool_calls[0].clone();
    let chat = chat
        .assistant_calls("", vec![call.clone()])
        .tool_result(call.id, "posted #7");
    let reply = router.complete(&chat).await.unwrap();
    assert_eq!(reply.text, "done: posted #7");
    assert!(reply.tool_calls.is_empty());
}

pub struct Assistant;

#[bao::controller("/assistant")]
impl Assistant {
    /// Answers a prompt within a tiny budget, or with the router's error.
    #[get("/{budget}/{prompt}")]
    async fn ask(budget: u64, prompt: String) -> bao::Result<String> {
        let answer = ai::with_budget(Budget::tokens(budget), ai::ask(&prompt)).await?;
        Ok(answer)
    }
}

bao::app! { controllers: [Assistant] }

#[bao::test]
async fn ai_errors_answer_with_their_http_status() {
    let (base, _) = stub(vec![error_answer(
        503,
        json!({"error": {"message": "down"}}),
        None,
    )]);
    let client = bao::testing::TestClient::new(app().ai(Router::new().provider(
        OpenAi::new("k").base_url(&base).http(HttpSettings {
            retries: 0,
            ..quick()
        }),
    )))
    .await;
    let response = client.get("/assistant/1000/hello").await;
    response.assert_status(503);
    assert_eq!(response.header("retry-after"), Some("5"));
    let client = bao::testing::TestClient::new(app().ai(Router::new().provider(Echo::new()))).await;
    client
        .get("/assistant/1000/hello")
        .await
        .assert_ok()
        .assert_see("olleh");
    client
        .get("/assistant/1/a%20long%20prompt%20that%20cannot%20fit")
        .await
        .assert_status(402);
}

#[bao::test]
async fn ollama_tool_calls_come_back_parsed() {
    let (base, script) = stub(vec![json_answer(json!({
        "model": "llama3.2",
        "message": {"role": "assistant", "content": "", "tool_calls": [
            {"function": {"name": "search", "arguments": {"q": "retry docs"}}}
        ]},
        "done": true, "done_reason": "stop", "prompt_eval_count": 20, "eval_count": 6
    }))]);
    let router = Router::new().provider(Ollama::new(&base).http(quick()));
    let tool = ToolSpec {
        name: "search".into(),
        description: "Searches.".into(),
        parameters: json!({"type": "object", "properties": {"q": {"type": "string"}}}),
    };
    let reply = router
        .complete(&Chat::from("find the retry docs").tool(tool))
        .await
        .unwrap();
    assert_eq!(reply.tool_calls.len(), 1);
    assert_eq!(reply.tool_calls[0].name, "search");
    assert_eq!(reply.tool_calls[0].arguments, json!({"q": "retry docs"}));
    assert_eq!(
        reply.tool_calls[0].id, "call_1",
        "Ollama sends no ids: one is made up"
    );
    let body = &script.seen.lock().unwrap()[0].1;
    assert_eq!(body["tools"][0]["function"]["name"], "search");
}
