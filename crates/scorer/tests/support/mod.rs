//! A scriptable OpenAI-compatible Chat Completions server on 127.0.0.1 (random port), for the
//! tests and the throughput bench. Plain HTTP/1.1 with keep-alive, one thread per connection:
//! small enough to control exactly (slow replies, cut-off bodies) without a server framework.
#![allow(dead_code)] // Each test binary uses a different part.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use image::RgbImage;
use rewardedit_scorer::LvlmConfig;
use serde_json::{json, Value};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    /// Path with query, e.g. `/v1/chat/completions`.
    pub path: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When the whole request had arrived.
    pub at: Instant,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("the client sends JSON")
    }

    /// Whether the raw body contains `needle` (cheap: no JSON parsing).
    pub fn contains(&self, needle: &str) -> bool {
        self.body.windows(needle.len()).any(|w| w == needle.as_bytes())
    }

    /// The user message's text parts, joined.
    pub fn text(&self) -> String {
        self.parts().iter().filter_map(|p| p["text"].as_str()).collect::<Vec<_>>().join("\n")
    }

    /// The user message's images, decoded from their data URLs, in order.
    pub fn images(&self) -> Vec<RgbImage> {
        self.parts()
            .iter()
            .filter_map(|p| p["image_url"]["url"].as_str())
            .map(|url| {
                let (_, b64) = url.split_once(";base64,").expect("a base64 data URL");
                let bytes = base64::engine::general_purpose::STANDARD.decode(b64).expect("valid base64");
                image::load_from_memory(&bytes).expect("a decodable image").to_rgb8()
            })
            .collect()
    }

    fn parts(&self) -> Vec<Value> {
        self.json()["messages"][0]["content"].as_array().cloned().unwrap_or_default()
    }
}

/// What the server answers.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 with a chat completion whose message content is this text (usage: 1000 in, 50 out).
    Chat(String),
    /// 200 with a chat completion and the usage the server bills for it.
    Billed { content: String, prompt_tokens: u64, completion_tokens: u64 },
    /// Any status with a raw body and an optional `Retry-After` value.
    Status { status: u16, body: String, retry_after: Option<String> },
    /// The reply after a pause.
    Slow(Duration, Box<Reply>),
    /// Headers promising the whole body, then half of it, then the connection closes.
    CutBody(String),
}

impl Reply {
    pub fn chat(content: impl Into<String>) -> Reply {
        Reply::Chat(content.into())
    }
    pub fn status(status: u16) -> Reply {
        Reply::Status { status, body: format!("{{\"error\": {{\"message\": \"status {status}\"}}}}"), retry_after: None }
    }
    pub fn too_many(retry_after: &str) -> Reply {
        Reply::Status { status: 429, body: "{\"error\": \"slow down\"}".into(), retry_after: Some(retry_after.into()) }
    }
}

/// The JSON body of a chat completion with `content` and its usage.
pub fn completion(content: &str, prompt_tokens: u64, completion_tokens: u64) -> String {
    json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens}
    })
    .to_string()
}

/// A one-axis answer (preset `paper`).
pub fn axis_answer(verdict: &str, score: f32, flaw: &str) -> String {
    json!({"verdict": verdict, "score": score, "flaw": flaw}).to_string()
}

/// A three-axis answer (preset `joint`).
pub fn joint_answer(scores: [f32; 3]) -> String {
    let axis = |s: f32| json!({"verdict": if s >= 3.0 { "yes" } else { "no" }, "score": s, "flaw": if s >= 3.0 { "None" } else { "a flaw" }});
    json!({"following": axis(scores[0]), "preservation": axis(scores[1]), "quality": axis(scores[2])}).to_string()
}

type Script = dyn Fn(&Request, usize) -> Reply + Send + Sync;

struct State {
    script: Box<Script>,
    record: bool,
    log: Mutex<Vec<Request>>,
    count: AtomicUsize,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    stop: AtomicBool,
}

/// A running fake server; it stops accepting when dropped.
pub struct FakeServer {
    addr: SocketAddr,
    state: Arc<State>,
}

impl FakeServer {
    /// Starts a server that answers request number `n` (0-based, in arrival order) with
    /// `script(&request, n)` and records every request.
    pub fn start(script: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static) -> FakeServer {
        Self::spawn(Box::new(script), true)
    }

    /// Like [`FakeServer::start`] but keeps no request bodies (for long benchmark runs).
    pub fn start_unrecorded(script: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static) -> FakeServer {
        Self::spawn(Box::new(script), false)
    }

    fn spawn(script: Box<Script>, record: bool) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("bound address");
        let state = Arc::new(State {
            script,
            record,
            log: Mutex::new(Vec::new()),
            count: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let st = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if st.stop.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let st = st.clone();
                    std::thread::spawn(move || serve(stream, &st));
                }
            }
        });
        FakeServer { addr, state }
    }

    /// `http://127.0.0.1:PORT/v1`, the base URL to configure.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Requests received so far.
    pub fn count(&self) -> usize {
        self.state.count.load(Ordering::SeqCst)
    }

    /// The recorded requests, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.state.log.lock().expect("log lock").clone()
    }

    /// Most requests ever between "fully received" and "reply started": never more than the
    /// client's concurrency, whose permits are held from before sending until after reading.
    pub fn peak_in_flight(&self) -> usize {
        self.state.peak.load(Ordering::SeqCst)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Serves one keep-alive connection until the client closes it.
fn serve(stream: TcpStream, st: &State) {
    let Ok(read_half) = stream.try_clone() else { return };
    let mut reader = BufReader::new(read_half);
    let mut out = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let len = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let request = Request { path, headers, body, at: Instant::now() };
        let n = st.count.fetch_add(1, Ordering::SeqCst);
        let now = st.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        st.peak.fetch_max(now, Ordering::SeqCst);
        let reply = (st.script)(&request, n);
        if st.record {
            st.log.lock().expect("log lock").push(request);
        }
        if !respond(&mut out, reply, st) {
            return;
        }
    }
}

/// Writes one reply; false when the connection is done.
fn respond(out: &mut TcpStream, reply: Reply, st: &State) -> bool {
    match reply {
        Reply::Slow(pause, reply) => {
            std::thread::sleep(pause);
            respond(out, *reply, st)
        }
        Reply::Chat(content) => respond(out, Reply::Billed { content, prompt_tokens: 1000, completion_tokens: 50 }, st),
        Reply::Billed { content, prompt_tokens, completion_tokens } => {
            st.in_flight.fetch_sub(1, Ordering::SeqCst);
            write_all(out, 200, &completion(&content, prompt_tokens, completion_tokens), None)
        }
        Reply::Status { status, body, retry_after } => {
            st.in_flight.fetch_sub(1, Ordering::SeqCst);
            write_all(out, status, &body, retry_after.as_deref())
        }
        Reply::CutBody(content) => {
            st.in_flight.fetch_sub(1, Ordering::SeqCst);
            let body = completion(&content, 1000, 50);
            let head = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n", body.len());
            let _ = out.write_all(head.as_bytes()).and_then(|_| out.write_all(&body.as_bytes()[..body.len() / 2]));
            let _ = out.shutdown(Shutdown::Both);
            false
        }
    }
}

fn write_all(out: &mut TcpStream, status: u16, body: &str, retry_after: Option<&str>) -> bool {
    let extra = retry_after.map(|v| format!("retry-after: {v}\r\n")).unwrap_or_default();
    let head = format!(
        "HTTP/1.1 {status} Fake\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{extra}\r\n",
        body.len()
    );
    out.write_all(head.as_bytes()).and_then(|_| out.write_all(body.as_bytes())).and_then(|_| out.flush()).is_ok()
}

/// A scorer configuration for `server`: no cache unless `cache_dir` is given, fast retries.
pub fn config(server: &FakeServer, cache_dir: Option<&std::path::Path>) -> LvlmConfig {
    LvlmConfig {
        base_url: server.base_url(),
        api_key: Some("test-key".into()),
        model: "fake-vlm".into(),
        max_retries: 3,
        backoff_base_ms: 1,
        backoff_max_ms: 20,
        timeout_s: 10.0,
        cache_dir: cache_dir.map(Into::into),
        no_cache: cache_dir.is_none(),
        ..LvlmConfig::default()
    }
}

/// A small image whose pixels depend on `seed`, so distinct seeds give distinct images.
pub fn test_image(w: u32, h: u32, seed: u8) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 7 + seed as u32 * 31) as u8, (y * 5 + seed as u32 * 17) as u8, ((x ^ y) as u8).wrapping_add(seed)])
    })
}
