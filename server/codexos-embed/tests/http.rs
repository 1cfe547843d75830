//! The HTTP embedders against a real HTTP server on loopback (a small hand-rolled one, so each
//! test decides exactly what the server answers).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;

use codexos_embed::{Embedder, HttpApi, HttpEmbedder, HttpEmbedderConfig, cosine};
use serde_json::{Value, json};

struct Received {
    path: String,
    authorization: Option<String>,
    body: Value,
}

/// Serves every connection with `answer(request body) -> (status, body)` and reports each request.
fn serve(
    answer: impl Fn(&Value) -> (u16, String) + Send + 'static,
) -> (String, mpsc::Receiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let path = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_string();
            let (mut length, mut authorization) = (0, None);
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                let (name, value) = line.split_once(':').unwrap();
                match name.to_ascii_lowercase().as_str() {
                    "content-length" => length = value.trim().parse().unwrap(),
                    "authorization" => authorization = Some(value.trim().to_string()),
                    _ => {}
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let (status, reply) = answer(&body);
            let _receiver_may_be_gone = sender.send(Received {
                path,
                authorization,
                body,
            });
            let response = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                reply.len()
            );
            stream.write_all(response.as_bytes()).unwrap();
        }
    });
    (url, receiver)
}

/// A vector per input text that depends on the text, so order mistakes show.
fn vector_for(text: &str) -> Vec<f32> {
    vec![text.len() as f32, 1.0, 0.0]
}

fn inputs(body: &Value) -> Vec<String> {
    body["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|text| text.as_str().unwrap().to_string())
        .collect()
}

fn config(api: HttpApi, url: String) -> HttpEmbedderConfig {
    HttpEmbedderConfig {
        api,
        url,
        model: "test-embed".into(),
        api_key_env: None,
        batch_size: 2,
        timeout_secs: 5,
    }
}

#[test]
fn openai_compatible_servers_answer_in_input_order_even_when_they_shuffle_the_data() {
    let (url, requests) = serve(|body| {
        let mut data: Vec<Value> = inputs(body)
            .iter()
            .enumerate()
            .map(|(index, text)| json!({"object": "embedding", "index": index, "embedding": vector_for(text)}))
            .collect();
        data.reverse();
        (
            200,
            json!({"object": "list", "data": data, "model": "test-embed"}).to_string(),
        )
    });
    // Any set variable shows the key is read from the environment; setting one would race the
    // other tests' threads.
    let key = std::env::var("HOME").unwrap();
    let config = HttpEmbedderConfig {
        api_key_env: Some("HOME".into()),
        ..config(HttpApi::OpenAi, format!("{url}/v1"))
    };
    let embedder = HttpEmbedder::connect(config).unwrap();
    assert_eq!(embedder.dim(), 3);
    assert_eq!(
        embedder.space().model(),
        "http-OpenAI-compatible-test-embed"
    );

    let texts = ["a", "bbb", "cc", "dddd", "e"];
    let vectors = embedder.embed(&texts).unwrap();
    for (text, vector) in texts.iter().zip(&vectors) {
        assert!(cosine(vector, &vector_for(text)) > 0.9999, "{text}");
        let length: f32 = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((length - 1.0).abs() < 1e-5);
    }
    let received: Vec<Received> = requests.try_iter().collect();
    assert_eq!(received.len(), 1 + 3, "one probe, then batches of two");
    assert!(
        received
            .iter()
            .all(|request| request.path == "/v1/embeddings")
    );
    assert!(
        received
            .iter()
            .all(|request| request.authorization == Some(format!("Bearer {key}")))
    );
    assert_eq!(
        received[1].body,
        json!({"model": "test-embed", "input": ["a", "bbb"]})
    );
}

#[test]
fn ollama_native_servers_are_asked_on_api_embed() {
    let (url, requests) = serve(|body| {
        let embeddings: Vec<Vec<f32>> = inputs(body).iter().map(|text| vector_for(text)).collect();
        (
            200,
            json!({"model": "test-embed", "embeddings": embeddings}).to_string(),
        )
    });
    let embedder = HttpEmbedder::connect(config(HttpApi::Ollama, format!("{url}/"))).unwrap();
    let vector = embedder.embed_query("hello").unwrap();
    assert!(cosine(&vector, &vector_for("hello")) > 0.9999);
    let received: Vec<Received> = requests.try_iter().collect();
    assert!(
        received
            .iter()
            .all(|request| request.path == "/api/embed" && request.authorization.is_none())
    );
}

fn connect_error(answer: impl Fn(&Value) -> (u16, String) + Send + 'static) -> String {
    let (url, _requests) = serve(answer);
    match HttpEmbedder::connect(config(HttpApi::OpenAi, url)) {
        Ok(_) => panic!("the server's answer should be refused"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn an_http_error_names_the_provider_the_url_the_status_and_the_servers_words() {
    let message = connect_error(|_| (404, r#"{"error": "model \"test-embed\" not found"}"#.into()));
    assert!(
        message.contains("OpenAI-compatible (test-embed)"),
        "{message}"
    );
    assert!(
        message.contains("/embeddings") && message.contains("404") && message.contains("not found"),
        "{message}"
    );
}

#[test]
fn an_answer_that_is_not_embeddings_is_refused_with_the_reason() {
    let message = connect_error(|_| (200, "<html>proxy login</html>".into()));
    assert!(message.contains("not an embeddings response"), "{message}");
    let message = connect_error(|_| (200, json!({"data": []}).to_string()));
    assert!(
        message.contains("returned 0 vectors for 1 texts"),
        "{message}"
    );
    let message = connect_error(|_| {
        (
            200,
            json!({"data": [{"index": 0, "embedding": []}]}).to_string(),
        )
    });
    assert!(message.contains("empty vector"), "{message}");
}

#[test]
fn a_server_that_changes_dimension_midway_is_refused() {
    let (url, _requests) = serve(|body| {
        let dim = if inputs(body)[0] == "dimension probe" {
            3
        } else {
            4
        };
        let data: Vec<Value> = inputs(body)
            .iter()
            .enumerate()
            .map(|(index, _)| json!({"index": index, "embedding": vec![1.0; dim]}))
            .collect();
        (200, json!({"data": data}).to_string())
    });
    let embedder = HttpEmbedder::connect(config(HttpApi::OpenAi, url)).unwrap();
    let message = embedder
        .embed(&["x"])
        .err()
        .map(|error| error.to_string())
        .unwrap_or_default();
    assert!(message.contains("4 dims, expected 3"), "{message}");
}

#[test]
fn a_server_that_is_not_there_is_named_in_the_error() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let message = HttpEmbedder::connect(config(HttpApi::Ollama, url.clone()))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        message.contains("Ollama (test-embed)") && message.contains(&format!("{url}/api/embed")),
        "{message}"
    );
}

#[test]
fn embedding_and_dropping_inside_an_async_runtime_does_not_panic() {
    let (url, _requests) = serve(|body| {
        let embeddings: Vec<Vec<f32>> = inputs(body).iter().map(|text| vector_for(text)).collect();
        (200, json!({"embeddings": embeddings}).to_string())
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let embedder = HttpEmbedder::connect(config(HttpApi::Ollama, url)).unwrap();
        assert_eq!(embedder.embed(&["inside a runtime"]).unwrap().len(), 1);
        drop(embedder);
    });
}
