//! The LVLM teacher against a fake OpenAI-compatible server: what it sends, what it accepts,
//! and that it never returns a score it did not read.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rewardedit_core::Axis;
use rewardedit_scorer::lvlm::AuthStyle;
use rewardedit_scorer::{LvlmScorer, Preset, ScoreError, ScoreRequest, Scorer};
use support::{axis_answer, config, joint_answer, test_image, FakeServer, Reply};

fn request(instruction: &str) -> ScoreRequest {
    ScoreRequest {
        id: "e1".into(),
        source: Arc::new(test_image(24, 16, 1)),
        edited: Arc::new(test_image(24, 16, 2)),
        instruction: instruction.into(),
        edit_type: None,
        provenance: serde_json::json!({}),
    }
}

fn joint_scorer(server: &FakeServer) -> LvlmScorer {
    LvlmScorer::new(rewardedit_scorer::LvlmConfig { preset: Preset::Joint, ..config(server, None) }).unwrap()
}

/// Which paper rubric a request carries.
fn rubric(r: &support::Request) -> Axis {
    let t = r.text();
    if t.contains("INSTRUCTION FOLLOWING") {
        Axis::Following
    } else if t.contains("DETAIL PRESERVATION") {
        Axis::Preservation
    } else {
        assert!(t.contains("GENERATION QUALITY"), "unknown rubric: {t}");
        Axis::Quality
    }
}

#[test]
fn paper_preset_sends_three_rubrics_with_the_right_images() {
    let server = FakeServer::start(|r, _| {
        Reply::chat(match rubric(r) {
            Axis::Following => axis_answer("yes", 4.0, "None"),
            Axis::Preservation => axis_answer("no", 2.0, "the sky turned green"),
            Axis::Quality => axis_answer("yes", 5.0, ""),
        })
    });
    let scorer = LvlmScorer::new(config(&server, None)).unwrap();
    let req = request("make the ball red");
    let reward = scorer.score(&req).unwrap();

    assert_eq!(reward.scores(), [4.0, 2.0, 5.0], "each axis read from its own rubric");
    assert_eq!(reward.verdicts(), [true, false, true]);
    assert_eq!(reward.preservation.flaw(), "the sky turned green");
    assert_eq!(reward.quality.flaw(), Axis::Quality.no_flaw_text());

    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    let mut axes: Vec<_> = reqs.iter().map(rubric).collect();
    axes.sort();
    assert_eq!(axes, Axis::ALL);
    for r in &reqs {
        let body = r.json();
        assert_eq!(r.path, "/v1/chat/completions");
        assert_eq!(r.header("authorization"), Some("Bearer test-key"));
        assert_eq!(body["model"], "fake-vlm");
        assert_eq!(body["temperature"], 0);
        let images = r.images();
        match rubric(r) {
            Axis::Quality => {
                assert_eq!(images, [(*req.edited).clone()], "quality sees the edited image only");
                assert!(!r.text().contains("make the ball red"));
            }
            _ => {
                assert_eq!(images, [(*req.source).clone(), (*req.edited).clone()]);
                assert!(r.text().contains("\"make the ball red\""));
            }
        }
    }
    let usage = scorer.usage();
    assert_eq!((usage.requests, usage.prompt_tokens, usage.completion_tokens), (3, 3000, 150));
    // GPT-4o default prices: 3000 * 2.5 / 1e6 + 150 * 10 / 1e6.
    assert!((usage.cost_usd - 0.009).abs() < 1e-12, "{}", usage.cost_usd);
}

#[test]
fn joint_preset_sends_one_request_and_can_ask_for_a_json_schema() {
    let server = FakeServer::start(|_, _| Reply::chat(joint_answer([1.0, 4.5, 3.0])));
    let cfg = rewardedit_scorer::LvlmConfig { preset: Preset::Joint, json_schema: true, ..config(&server, None) };
    let scorer = LvlmScorer::new(cfg).unwrap();
    let req = request("remove the cup");
    let reward = scorer.score(&req).unwrap();
    assert_eq!(reward.scores(), [1.0, 4.5, 3.0]);
    assert_eq!(reward.verdicts(), [false, true, true]);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].images(), [(*req.source).clone(), (*req.edited).clone()]);
    let body = reqs[0].json();
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(body["response_format"]["json_schema"]["schema"]["required"][1], "preservation");
}

#[test]
fn large_images_are_downscaled_keeping_aspect() {
    let server = FakeServer::start(|_, _| Reply::chat(joint_answer([5.0; 3])));
    let cfg = rewardedit_scorer::LvlmConfig { preset: Preset::Joint, max_image_side: 32, ..config(&server, None) };
    let mut req = request("x");
    req.source = Arc::new(test_image(128, 64, 3));
    LvlmScorer::new(cfg).unwrap().score(&req).unwrap();
    let sizes: Vec<_> = server.requests()[0].images().iter().map(|i| i.dimensions()).collect();
    assert_eq!(sizes, [(32, 16), (24, 16)]);
}

#[test]
fn replies_in_every_accepted_style_give_the_same_reward() {
    let styles = [
        r#"{"following": {"verdict": "yes", "score": 4, "flaw": "None"}, "preservation": {"verdict": "no", "score": 2, "flaw": "the dog moved"}, "quality": {"verdict": "yes", "score": 5, "flaw": "None"}}"#.to_string(),
        "Here is my judgement:\n```json\n{\"following\": {\"verdict\": \"Yes\", \"score\": 4.0, \"flaw\": \"none\"}, \"preservation\": {\"verdict\": \"No\", \"score\": 2.0, \"flaw\": \"the dog moved\"}, \"quality\": {\"verdict\": \"yes\", \"score\": 5.0, \"flaw\": \"\"}}\n```".into(),
        "{'following': {'verdict': True, 'score': 4, 'flaw': None}, 'preservation': {'verdict': False, 'score': 2.0, 'flaw': 'the dog moved'}, 'quality': {'verdict': 'yes', 'score': '5', 'flaw': 'None'},}".into(),
    ];
    for style in styles {
        let server = FakeServer::start(move |_, _| Reply::chat(style.clone()));
        let reward = joint_scorer(&server).score(&request("x")).unwrap();
        assert_eq!(reward.scores(), [4.0, 2.0, 5.0]);
        assert_eq!(reward.verdicts(), [true, false, true]);
        assert_eq!(reward.joined_text(), "No negative aspects; the dog moved; No noticeable issues");
    }
}

#[test]
fn bad_replies_are_typed_errors_never_scores_and_are_not_retried() {
    let bad: Vec<(Reply, &str)> = vec![
        (Reply::chat("{\"following\": {\"verdict\": \"yes\", \"score\": 4"), "parse"),
        (Reply::chat("Yes. Yes, the edit is good, yes."), "parse"),
        (Reply::chat("I'm sorry, I can't help with that."), "parse"),
        (Reply::chat(joint_answer([5.0, 6.0, 5.0])), "invalid_score"),
        (Reply::chat(joint_answer([5.0, -0.5, 5.0])), "invalid_score"),
        (Reply::chat(joint_answer([5.0, 5.0, 5.0]).replace("\"score\":5.0", "\"score\":\"NaN\"")), "invalid_score"),
        (Reply::chat(r#"{"following": {"verdict": "yes", "score": 4, "flaw": ""}}"#), "parse"),
        (Reply::Status { status: 200, body: "{\"choices\": [{\"message\": {\"content\": \"{".into(), retry_after: None }, "bad_response"),
        (Reply::Status { status: 200, body: "<html>gateway</html>".into(), retry_after: None }, "bad_response"),
        (Reply::status(401), "http_status"),
        (Reply::status(400), "http_status"),
    ];
    for (reply, kind) in bad {
        let server = FakeServer::start(move |_, _| reply.clone());
        let scorer = joint_scorer(&server);
        let err = scorer.score(&request("x")).expect_err("a bad reply must not give a score");
        assert_eq!(err.kind(), kind, "{err}");
        assert_eq!(server.count(), 1, "permanent failures are not retried: {err}");
        assert_eq!(scorer.usage().failures, 1);
    }
}

#[test]
fn paper_preset_fails_the_edit_when_one_axis_fails() {
    let server = FakeServer::start(|r, _| match rubric(r) {
        Axis::Quality => Reply::chat(r#"{"verdict": "yes", "score": 5}"#),
        _ => Reply::chat(axis_answer("yes", 5.0, "None")),
    });
    let err = LvlmScorer::new(config(&server, None)).unwrap().score(&request("x")).unwrap_err();
    assert!(matches!(err, ScoreError::Parse { ref reason, .. } if reason.contains("quality") && reason.contains("flaw")), "{err}");
}

#[test]
fn transient_failures_are_retried_until_success() {
    let server = FakeServer::start(|_, n| match n {
        0 => Reply::status(500),
        1 => Reply::too_many("0"),
        2 => Reply::CutBody(joint_answer([5.0; 3])),
        3 => Reply::status(503),
        _ => Reply::chat(joint_answer([3.0, 4.0, 5.0])),
    });
    let cfg = rewardedit_scorer::LvlmConfig { preset: Preset::Joint, max_retries: 4, ..config(&server, None) };
    let scorer = LvlmScorer::new(cfg).unwrap();
    assert_eq!(scorer.score(&request("x")).unwrap().scores(), [3.0, 4.0, 5.0]);
    assert_eq!(server.count(), 5);
    let u = scorer.usage();
    assert_eq!((u.requests, u.retries, u.failures), (5, 4, 0));
}

#[test]
fn retries_are_bounded() {
    for (reply, kind) in [(Reply::status(500), "http_status"), (Reply::too_many("0"), "rate_limited")] {
        let server = FakeServer::start(move |_, _| reply.clone());
        let cfg = rewardedit_scorer::LvlmConfig { preset: Preset::Joint, max_retries: 2, ..config(&server, None) };
        let err = LvlmScorer::new(cfg).unwrap().score(&request("x")).unwrap_err();
        assert_eq!(err.kind(), kind);
        assert_eq!(server.count(), 3, "one attempt and two retries");
        assert!(err.to_string().contains("3 attempt"), "{err}");
    }
}

#[test]
fn retry_after_is_honoured() {
    let server = FakeServer::start(|_, n| if n == 0 { Reply::too_many("1") } else { Reply::chat(joint_answer([5.0; 3])) });
    // Backoff alone would wait at most 20 ms; only Retry-After explains a full second.
    joint_scorer(&server).score(&request("x")).unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let gap = reqs[1].at - reqs[0].at;
    assert!(gap >= Duration::from_secs(1), "retried after {gap:?}");
}

#[test]
fn slow_replies_time_out_and_are_retried_a_bounded_number_of_times() {
    let server = FakeServer::start(|_, _| Reply::Slow(Duration::from_secs(3), Box::new(Reply::chat(joint_answer([5.0; 3])))));
    let cfg = rewardedit_scorer::LvlmConfig { preset: Preset::Joint, timeout_s: 0.2, max_retries: 1, ..config(&server, None) };
    let err = LvlmScorer::new(cfg).unwrap().score(&request("x")).unwrap_err();
    assert!(matches!(err, ScoreError::Timeout { attempts: 2, .. }), "{err}");
    assert_eq!(server.count(), 2);
}

#[test]
fn the_cache_prevents_repeat_calls_and_never_stores_failures() {
    let dir = tempfile::tempdir().unwrap();
    let fail_first = Arc::new(AtomicUsize::new(1));
    let flag = fail_first.clone();
    let server = FakeServer::start(move |r, _| {
        if flag.load(Ordering::SeqCst) == 1 && rubric(r) == Axis::Quality {
            Reply::chat("no idea")
        } else {
            Reply::chat(axis_answer("yes", 4.0, "None"))
        }
    });
    let cfg = config(&server, Some(dir.path()));
    {
        // First run: following and preservation succeed and are cached; quality fails.
        let scorer = LvlmScorer::new(cfg.clone()).unwrap();
        assert_eq!(scorer.score(&request("x")).unwrap_err().kind(), "parse");
        assert_eq!(server.count(), 3);
    }
    fail_first.store(0, Ordering::SeqCst);
    {
        // Second run: only the failed axis is asked again.
        let scorer = LvlmScorer::new(cfg.clone()).unwrap();
        assert_eq!(scorer.score(&request("x")).unwrap().scores(), [4.0; 3]);
        assert_eq!(server.count(), 4);
        assert_eq!(scorer.usage().cache_hits, 2);
    }
    {
        // Third run: zero requests.
        let scorer = LvlmScorer::new(cfg.clone()).unwrap();
        assert_eq!(scorer.score(&request("x")).unwrap().scores(), [4.0; 3]);
        assert_eq!(server.count(), 4);
        assert_eq!((scorer.usage().cache_hits, scorer.usage().requests), (3, 0));
        // A different instruction or model is a different question.
        scorer.score(&request("y")).unwrap();
        assert_eq!(server.count(), 7);
    }
    let other_model = rewardedit_scorer::LvlmConfig { model: "other".into(), ..cfg };
    LvlmScorer::new(other_model).unwrap().score(&request("x")).unwrap();
    assert_eq!(server.count(), 10);
}

#[test]
fn azure_style_sends_api_key_header_and_api_version() {
    let server = FakeServer::start(|_, _| Reply::chat(joint_answer([5.0; 3])));
    let cfg = rewardedit_scorer::LvlmConfig {
        preset: Preset::Joint,
        base_url: format!("{}/openai/deployments/gpt4o", server.base_url()),
        auth: AuthStyle::ApiKey,
        api_version: Some("2024-10-21".into()),
        ..config(&server, None)
    };
    LvlmScorer::new(cfg).unwrap().score(&request("x")).unwrap();
    let r = &server.requests()[0];
    assert_eq!(r.path, "/v1/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21");
    assert_eq!(r.header("api-key"), Some("test-key"));
    assert_eq!(r.header("authorization"), None);
}

#[test]
fn batch_respects_the_request_concurrency_limit() {
    let server = FakeServer::start(|_, _| Reply::Slow(Duration::from_millis(30), Box::new(Reply::chat(axis_answer("yes", 5.0, "None")))));
    let cfg = rewardedit_scorer::LvlmConfig { concurrency: 2, ..config(&server, None) };
    let scorer = LvlmScorer::new(cfg).unwrap();
    let reqs: Vec<_> = (0..4).map(|i| request(&format!("edit {i}"))).collect();
    let results = scorer.score_batch(&reqs, 8);
    assert!(results.iter().all(|r| r.is_ok()));
    assert_eq!(server.count(), 12);
    assert!(server.peak_in_flight() <= 2, "peak {}", server.peak_in_flight());
}

#[test]
fn unusable_requests_and_configs_fail_before_sending() {
    let server = FakeServer::start(|_, _| Reply::chat(joint_answer([5.0; 3])));
    let scorer = joint_scorer(&server);
    assert_eq!(scorer.score(&request("   ")).unwrap_err().kind(), "invalid_request");
    assert_eq!(server.count(), 0);
    let no_model = rewardedit_scorer::LvlmConfig { model: String::new(), ..config(&server, None) };
    assert!(matches!(LvlmScorer::new(no_model), Err(ScoreError::Config(_))));
}
