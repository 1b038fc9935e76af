//! The clients against a real HTTP server on 127.0.0.1 that answers with the documented
//! response shapes of the OpenAI chat completions and Anthropic Messages APIs.

mod support;

use apprentice_llm::{
    AnthropicClient, ChatClient, ChatMessage, LlmError, OpenAiClient, RequestOptions, RetryPolicy,
    Usage,
};
use std::time::{Duration, Instant};
use support::{Reply, TestServer, closed_port_base};

const OPENAI_KEY: &str = "sk-test-openai-5f2c9a";
const ANTHROPIC_KEY: &str = "sk-ant-test-0b7e44d1";

const OPENAI_OK: &str = r#"{
  "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000,
  "model": "qwen2.5-coder-1.5b-instruct",
  "choices": [{"index": 0, "finish_reason": "stop",
    "message": {"role": "assistant", "content": "<read path=\"src/lib.rs\"/>", "tool_calls": null}}],
  "usage": {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49}
}"#;

const ANTHROPIC_OK: &str = r#"{
  "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
  "content": [{"type": "text", "text": "Looks "}, {"type": "text", "text": "good."}],
  "stop_reason": "end_turn", "stop_sequence": null,
  "usage": {"input_tokens": 120, "output_tokens": 5,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 900}
}"#;

const OVERLOADED: &str =
    r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;

/// Tiny delays so retry tests take milliseconds.
fn fast_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_total_wait: Duration::from_secs(5),
        ..RetryPolicy::default()
    }
}

fn openai(server_base: &str, key: Option<&str>) -> OpenAiClient {
    OpenAiClient::new(
        "qwen2.5-coder-1.5b-instruct",
        server_base,
        key.map(str::to_owned),
    )
    .expect("client")
    .with_retry(fast_retry(3))
    .with_timeout(Duration::from_secs(5))
}

fn anthropic(server_base: &str) -> AnthropicClient {
    AnthropicClient::new("claude-sonnet-4-5", Some(server_base), ANTHROPIC_KEY)
        .expect("client")
        .with_retry(fast_retry(3))
        .with_timeout(Duration::from_secs(5))
}

fn convo() -> Vec<ChatMessage> {
    vec![
        ChatMessage::system("You are a careful coding agent."),
        ChatMessage::user("Fix the bug."),
        ChatMessage::assistant("<read path=\"src/lib.rs\"/>"),
        ChatMessage::user("fn main() {}"),
    ]
}

#[tokio::test]
async fn openai_success_sends_documented_request() {
    let server = TestServer::start(vec![Reply::json(200, OPENAI_OK)]).await;
    // Base without /v1: the client adds it.
    let client = openai(&server.base(), Some(OPENAI_KEY));
    let opts = RequestOptions {
        max_tokens: 256,
        temperature: Some(0.2),
        top_p: Some(0.95),
        stop: vec!["</done>".into()],
        seed: Some(7),
        lora_scale: Some(0.5),
    };
    let c = client.complete(&convo(), &opts).await.expect("completion");

    assert_eq!(c.text, "<read path=\"src/lib.rs\"/>");
    assert_eq!(c.usage, Usage::new(42, 7));
    assert_eq!(c.finish_reason.as_deref(), Some("stop"));
    assert_eq!(c.model, "qwen2.5-coder-1.5b-instruct");
    assert_eq!(c.reasoning, None);

    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body = r.json();
    assert_eq!(body["model"], "qwen2.5-coder-1.5b-instruct");
    assert_eq!(body["max_tokens"], 256);
    assert_eq!(body["temperature"].as_f64(), Some(0.2));
    assert_eq!(body["top_p"].as_f64(), Some(0.95));
    assert_eq!(body["stop"], serde_json::json!(["</done>"]));
    assert_eq!(body["seed"], 7);
    assert_eq!(body["stream"], false);
    assert_eq!(body["lora"], serde_json::json!([{"id": 0, "scale": 0.5}]));
    assert_eq!(
        body["messages"],
        serde_json::json!([
            {"role": "system", "content": "You are a careful coding agent."},
            {"role": "user", "content": "Fix the bug."},
            {"role": "assistant", "content": "<read path=\"src/lib.rs\"/>"},
            {"role": "user", "content": "fn main() {}"},
        ])
    );
}

#[tokio::test]
async fn openai_base_with_v1_and_no_key_sends_no_auth_and_no_lora() {
    let server = TestServer::start(vec![Reply::json(200, OPENAI_OK)]).await;
    let client = openai(&format!("{}/v1/", server.base()), None);
    client
        .complete(&[ChatMessage::user("hi")], &RequestOptions::default())
        .await
        .expect("completion");
    let r = &server.requests()[0];
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(r.header("authorization"), None);
    let body = r.json();
    assert!(body.get("lora").is_none());
    assert!(body.get("temperature").is_none());
    assert!(body.get("stop").is_none());
    assert_eq!(body["max_tokens"], 1024);
}

#[tokio::test]
async fn openai_null_content_with_reasoning_is_handled() {
    let body = r#"{"model":"qwq","choices":[{"index":0,"finish_reason":"length",
        "message":{"role":"assistant","content":null,"reasoning_content":"Let me think"}}],
        "usage":{"prompt_tokens":3,"completion_tokens":64}}"#;
    let server = TestServer::start(vec![Reply::json(200, body)]).await;
    let c = openai(&server.base(), None)
        .complete(&[ChatMessage::user("hi")], &RequestOptions::default())
        .await
        .expect("completion");
    assert_eq!(c.text, "");
    assert_eq!(c.reasoning.as_deref(), Some("Let me think"));
    assert!(c.hit_max_tokens());
    assert_eq!(server.requests().len(), 1, "not retried");
}

#[tokio::test]
async fn anthropic_success_sends_documented_request() {
    let server = TestServer::start(vec![Reply::json(200, ANTHROPIC_OK)]).await;
    let client = anthropic(&server.base());
    let opts = RequestOptions {
        max_tokens: 512,
        temperature: Some(0.0),
        ..RequestOptions::default()
    };
    let c = client
        .complete("Review the patch.", &convo(), &opts)
        .await
        .expect("completion");

    assert_eq!(c.text, "Looks good.");
    assert_eq!(c.finish_reason.as_deref(), Some("end_turn"));
    assert_eq!(c.model, "claude-sonnet-4-5-20250929");
    assert_eq!(
        c.usage,
        Usage {
            input_tokens: 120,
            output_tokens: 5,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 900,
        }
    );
    let cost = apprentice_llm::cost_usd(&c.model, &c.usage).expect("priced");
    assert!((cost - (120.0 * 3.0 + 5.0 * 15.0 + 900.0 * 0.3) / 1e6).abs() < 1e-12);

    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/messages");
    assert_eq!(r.header("x-api-key"), Some(ANTHROPIC_KEY));
    assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("authorization"), None);
    let body = r.json();
    assert_eq!(body["model"], "claude-sonnet-4-5");
    assert_eq!(body["max_tokens"], 512);
    assert_eq!(body["temperature"].as_f64(), Some(0.0));
    assert_eq!(
        body["system"],
        "Review the patch.\n\nYou are a careful coding agent."
    );
    assert_eq!(
        body["messages"],
        serde_json::json!([
            {"role": "user", "content": "Fix the bug."},
            {"role": "assistant", "content": "<read path=\"src/lib.rs\"/>"},
            {"role": "user", "content": "fn main() {}"},
        ])
    );
    assert!(body.get("lora").is_none() && body.get("seed").is_none());
}

#[tokio::test]
async fn rate_limit_429_honours_retry_after_then_succeeds() {
    let server = TestServer::start(vec![
        Reply::json(
            429,
            r#"{"error":{"message":"Rate limit reached","type":"rate_limit_error"}}"#,
        )
        .header("retry-after", "1"),
        Reply::json(200, OPENAI_OK),
    ])
    .await;
    let started = Instant::now();
    let c = openai(&server.base(), Some(OPENAI_KEY))
        .complete(&[ChatMessage::user("hi")], &RequestOptions::default())
        .await
        .expect("completion after retry");
    let elapsed = started.elapsed();
    assert_eq!(c.usage.output_tokens, 7);
    assert_eq!(server.requests().len(), 2);
    // The policy's own delays are milliseconds: waiting a second means Retry-After won.
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}

#[tokio::test]
async fn rate_limit_with_retry_after_beyond_budget_fails_fast() {
    let server = TestServer::start(vec![
        Reply::json(429, r#"{"error":{"message":"quota"}}"#).header("retry-after", "600"),
    ])
    .await;
    let started = Instant::now();
    let err = openai(&server.base(), None)
        .complete(&[ChatMessage::user("hi")], &RequestOptions::default())
        .await
        .expect_err("gives up");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(server.requests().len(), 1);
    assert!(err.is_infrastructure());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(600)));
    assert!(matches!(
        err.root(),
        LlmError::RateLimited { status: 429, .. }
    ));
}

#[tokio::test]
async fn anthropic_529_overloaded_then_success() {
    let server = TestServer::start(vec![
        Reply::json(529, OVERLOADED),
        Reply::json(200, ANTHROPIC_OK),
    ])
    .await;
    let c = anthropic(&server.base())
        .complete("", &[ChatMessage::user("hi")], &RequestOptions::default())
        .await
        .expect("completion after retry");
    assert_eq!(c.text, "Looks good.");
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn anthropic_persistent_overload_is_infrastructure() {
    let server = TestServer::start(vec![Reply::json(529, OVERLOADED)]).await;
    let err = anthropic(&server.base())
        .complete("", &[ChatMessage::user("hi")], &RequestOptions::default())
        .await
        .expect_err("overloaded");
    assert_eq!(server.requests().len(), 3);
    assert_eq!(err.attempts(), 3);
    assert!(err.is_infrastructure());
    assert!(matches!(
        err.root(),
        LlmError::Overloaded { status: 529, .. }
    ));
    assert!(err.to_string().contains("Overloaded"), "{err}");
}

#[tokio::test]
async fn server_500_then_success() {
    let server = TestServer::start(vec![
        Reply::json(
            500,
            r#"{"error":{"code":500,"message":"KV cache full","type":"server_error"}}"#,
        ),
        Reply::json(200, OPENAI_OK),
    ])
    .await;
    let c = openai(&server.base(), None)
        .complete(&[ChatMessage::user("hi")], &RequestOptions::default())
        .await
        .expect("completion after retry");
    assert_eq!(c.finish_reason.as_deref(), Some("stop"));
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn persistent_500_gives_up_after_max_attempts() {
    let server = TestServer::start(vec![Reply::json(
        500,
        r#"{"error":{"message":"upstream exploded"}}"#,
    )])
    .await;
    let err = openai(&server.base(), None)
        .complete(&[ChatMessage::user("hi")], &RequestOptions::default())
        .await
        .expect_err("fails");
    assert_eq!(server.requests().len(), 3);
    match &err {
        LlmError::RetriesExhausted { attempts, last, .. } => {
            assert_eq!(*attempts, 3);
            assert!(matches!(**last, LlmError::Server { status: 500, .. }));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.is_infrastructure());
    assert_eq!(err.status(), Some(500));
    let text = err.to_string();
    assert!(
        text.contains("3 attempt") && text.contains("upstream exploded"),
        "{text}"
    );
}

#[tokio::test]
async fn truncated_json_is_malformed_after_one_retry() {
    let truncated = &OPENAI_OK[..OPENAI_OK.len() / 2];
    let server = TestServer::start(vec![Reply::json(200, truncated)]).await;
    let err = openai(&server.base(), None)
        .complete(&[ChatMessage::user("hi")], &RequestOptions::default())
        .await
        .expect_err("malformed");
    assert_eq!(server.requests().len(), 2, "retried exactly once");
    assert_eq!(err.attempts(), 2);
    match err.root() {
        LlmError::Malformed { snippet, message } => {
            assert!(
                snippet.starts_with("{\n  \"id\": \"chatcmpl-1\""),
                "{snippet}"
            );
            assert!(message.contains("invalid JSON"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.is_infrastructure());
}

#[tokio::test]
async fn truncated_json_once_then_success() {
    let server = TestServer::start(vec![
        Reply::json(200, &ANTHROPIC_OK[..40]),
        Reply::json(200, ANTHROPIC_OK),
    ])
    .await;
    let c = anthropic(&server.base())
        .complete("", &[ChatMessage::user("hi")], &RequestOptions::default())
        .await
        .expect("second try parses");
    assert_eq!(c.text, "Looks good.");
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn slow_response_exceeding_timeout_is_a_retried_timeout() {
    let server = TestServer::start(vec![
        Reply::json(200, OPENAI_OK).delayed(Duration::from_secs(3)),
    ])
    .await;
    let client = openai(&server.base(), None)
        .with_retry(fast_retry(2))
        .with_timeout(Duration::from_millis(200));
    let started = Instant::now();
    let err = client
        .complete(&[ChatMessage::user("hi")], &RequestOptions::default())
        .await
        .expect_err("times out");
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");
    assert_eq!(err.attempts(), 2);
    assert!(matches!(err.root(), LlmError::Timeout { .. }), "{err:?}");
    assert!(err.is_infrastructure());
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn connection_refused_is_unreachable() {
    let base = closed_port_base().await;
    let err = openai(&base, Some(OPENAI_KEY))
        .with_retry(fast_retry(2))
        .complete(&[ChatMessage::user("hi")], &RequestOptions::default())
        .await
        .expect_err("nothing listens");
    assert_eq!(err.attempts(), 2);
    match err.root() {
        LlmError::Unreachable { message } => {
            assert!(message.contains("cannot connect"), "{message}");
            assert!(message.to_lowercase().contains("refused"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.is_infrastructure());
}

#[tokio::test]
async fn connection_closed_without_answer_is_retried() {
    let server = TestServer::start(vec![Reply::hang_up(), Reply::json(200, OPENAI_OK)]).await;
    let c = openai(&server.base(), None)
        .complete(&[ChatMessage::user("hi")], &RequestOptions::default())
        .await
        .expect("completion after reconnect");
    assert_eq!(c.usage.input_tokens, 42);
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn unauthorized_401_is_not_retried_and_hides_the_key() {
    // Like OpenAI's real 401, the message echoes the key it rejected.
    let body = format!(
        r#"{{"error":{{"message":"Incorrect API key provided: {OPENAI_KEY}.","type":"invalid_request_error","code":"invalid_api_key"}}}}"#
    );
    let server = TestServer::start(vec![Reply::json(401, &body)]).await;
    let err = openai(&server.base(), Some(OPENAI_KEY))
        .complete(&[ChatMessage::user("hi")], &RequestOptions::default())
        .await
        .expect_err("unauthorized");
    assert_eq!(server.requests().len(), 1, "not retried");
    assert!(matches!(err, LlmError::Auth { status: 401, .. }), "{err:?}");
    assert!(!err.is_infrastructure());
    let text = err.to_string();
    assert!(text.contains("Incorrect API key provided"), "{text}");
    assert!(!text.contains(OPENAI_KEY), "{text}");
    assert!(!format!("{err:?}").contains(OPENAI_KEY));
}

#[tokio::test]
async fn bad_request_400_is_not_retried_and_keeps_the_server_message() {
    let server = TestServer::start(vec![Reply::json(
        400,
        r#"{"type":"error","error":{"type":"invalid_request_error","message":"messages: roles must alternate"}}"#,
    )])
    .await;
    let err = anthropic(&server.base())
        .complete("", &[ChatMessage::user("hi")], &RequestOptions::default())
        .await
        .expect_err("bad request");
    assert_eq!(server.requests().len(), 1);
    match &err {
        LlmError::BadRequest {
            status,
            kind,
            message,
        } => {
            assert_eq!(*status, 400);
            assert_eq!(kind.as_deref(), Some("invalid_request_error"));
            assert_eq!(message, "messages: roles must alternate");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(!err.is_infrastructure());
}

#[tokio::test]
async fn api_keys_never_appear_in_debug_output() {
    let openai_client = openai("http://127.0.0.1:9", Some(OPENAI_KEY));
    let anthropic_client = anthropic("http://127.0.0.1:9");
    for text in [
        format!("{openai_client:?}"),
        format!("{anthropic_client:?}"),
        format!("{:#?}", (&openai_client, &anthropic_client)),
    ] {
        assert!(
            !text.contains(OPENAI_KEY) && !text.contains(ANTHROPIC_KEY),
            "{text}"
        );
        assert!(text.contains("[REDACTED]"), "{text}");
    }

    // Errors of every kind, with servers that echo the key wherever they can.
    let echo = format!(r#"{{"error":{{"message":"key {ANTHROPIC_KEY} rejected"}}}}"#);
    let server = TestServer::start(vec![
        Reply::json(401, &echo),
        Reply::json(500, &echo),
        Reply::json(200, &format!("{{\"content\": \"{ANTHROPIC_KEY}")),
        Reply::json(429, &echo).header("retry-after", "0"),
        Reply::json(400, &echo),
    ])
    .await;
    let client = anthropic(&server.base()).with_retry(RetryPolicy::none());
    let mut errors = Vec::new();
    for _ in 0..5 {
        errors.push(
            client
                .complete("", &[ChatMessage::user("hi")], &RequestOptions::default())
                .await
                .expect_err("error"),
        );
    }
    let refused = openai(&closed_port_base().await, Some(OPENAI_KEY))
        .with_retry(RetryPolicy::none())
        .complete(&[ChatMessage::user("hi")], &RequestOptions::default())
        .await
        .expect_err("refused");
    errors.push(refused);
    assert!(
        matches!(errors[2], LlmError::Malformed { .. }),
        "{:?}",
        errors[2]
    );
    for e in &errors {
        for text in [format!("{e:?}"), format!("{e}")] {
            assert!(
                !text.contains(ANTHROPIC_KEY) && !text.contains(OPENAI_KEY),
                "{text}"
            );
        }
    }
}

#[tokio::test]
async fn chat_client_trait_object_prepends_system_for_openai() {
    let server = TestServer::start(vec![Reply::json(200, OPENAI_OK)]).await;
    let client: Box<dyn ChatClient> = Box::new(openai(&server.base(), None));
    assert_eq!(client.model(), "qwen2.5-coder-1.5b-instruct");
    client
        .chat(
            "Be brief.",
            &[ChatMessage::user("hi")],
            &RequestOptions::default(),
        )
        .await
        .expect("completion");
    let body = server.requests()[0].json();
    assert_eq!(
        body["messages"],
        serde_json::json!([
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
        ])
    );
}

#[tokio::test]
async fn https_runs_a_tls_handshake_with_the_ring_provider() {
    // A plain-TCP peer that answers a ClientHello with HTTP text: the TLS stack must start
    // (ring provider installed, no panic), send its hello and reject the reply.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let n = s.read(&mut buf).await.unwrap_or(0);
            // 0x16 = TLS handshake record: proof that a ClientHello was sent.
            let reply: &[u8] = if n > 0 && buf[0] == 0x16 {
                b"HTTP/1.1 400 Bad Request\r\n\r\n"
            } else {
                b""
            };
            let _ = s.write_all(reply).await;
        }
    });
    let err = AnthropicClient::new(
        "claude-sonnet-4-5",
        Some(&format!("https://{addr}")),
        ANTHROPIC_KEY,
    )
    .expect("client")
    .with_retry(RetryPolicy::none())
    .with_timeout(Duration::from_secs(5))
    .complete("", &[ChatMessage::user("hi")], &RequestOptions::default())
    .await
    .expect_err("not a TLS server");
    match &err {
        LlmError::Unreachable { message } => {
            assert!(message.contains("https://127.0.0.1"), "{message}");
            // rustls' verdict on the non-TLS reply.
            assert!(message.contains("corrupt message"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
}
