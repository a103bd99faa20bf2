//! Reading a judge's answer into typed scores, strictly.
//!
//! Judges wrap their JSON in prose or code fences, write Python dicts (`'yes'`, `True`,
//! `None`), and give integer or float scores; all of that is accepted. What is never done
//! (paper-notes.md, "Pitfalls in the reference evaluation"): finding "yes" anywhere in the text,
//! rejecting integer scores, or substituting a value for a missing or bad one. The verdict comes
//! from an explicit `verdict` field; a missing field, a score outside [0, 5] or NaN is an error.

use rewardedit_core::{Axis, AxisScore, Reward, MAX_SCORE};
use serde_json::{Map, Value};

use crate::error::ScoreError;

/// Parses a one-axis answer `{"verdict": "yes"|"no", "score": 0-5, "flaw": "..."}` (preset
/// `paper`).
pub fn parse_axis(axis: Axis, answer: &str) -> Result<AxisScore, ScoreError> {
    let obj = extract_object(answer)?;
    axis_from(axis, &obj, answer)
}

/// Parses a three-axis answer `{"following": {...}, "preservation": {...}, "quality": {...}}`
/// (preset `joint`).
pub fn parse_joint(answer: &str) -> Result<Reward, ScoreError> {
    let obj = extract_object(answer)?;
    let [following, preservation, quality] = Axis::ALL.map(|axis| {
        match field(&obj, axis.name()) {
            Some(Value::Object(inner)) => axis_from(axis, inner, answer),
            Some(other) => Err(ScoreError::parse(format!("{axis}: expected an object, got {other}"), answer)),
            None => Err(ScoreError::parse(format!("missing field {:?}", axis.name()), answer)),
        }
    });
    Ok(Reward::new(following?, preservation?, quality?))
}

/// The JSON schema of an answer, for servers that honour `response_format: json_schema`.
pub fn answer_schema(joint: bool) -> Value {
    let axis = serde_json::json!({
        "type": "object",
        "properties": {
            "verdict": {"type": "string", "enum": ["yes", "no"]},
            "score": {"type": "number"},
            "flaw": {"type": "string"}
        },
        "required": ["verdict", "score", "flaw"],
        "additionalProperties": false
    });
    if !joint {
        return axis;
    }
    serde_json::json!({
        "type": "object",
        "properties": {"following": axis, "preservation": axis, "quality": axis},
        "required": ["following", "preservation", "quality"],
        "additionalProperties": false
    })
}

/// Reads one axis from an answer object; `answer` is only quoted in errors.
fn axis_from(axis: Axis, obj: &Map<String, Value>, answer: &str) -> Result<AxisScore, ScoreError> {
    let missing = |name: &str| ScoreError::parse(format!("{axis}: missing field {name:?}"), answer);
    let verdict = match field(obj, "verdict").ok_or_else(|| missing("verdict"))? {
        Value::Bool(b) => *b,
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "yes" | "true" => true,
            "no" | "false" => false,
            _ => return Err(ScoreError::parse(format!("{axis}: verdict {s:?} is neither yes nor no"), answer)),
        },
        other => return Err(ScoreError::parse(format!("{axis}: verdict {other} is neither yes nor no"), answer)),
    };
    let score = match field(obj, "score").ok_or_else(|| missing("score"))? {
        Value::Number(n) => n.as_f64().ok_or_else(|| ScoreError::parse(format!("{axis}: score {n} is not a number"), answer))?,
        // A quoted number ("4", "4.5") is still exactly one number; "4/5" or "four" is not.
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| ScoreError::parse(format!("{axis}: score {s:?} is not a number"), answer))?,
        other => return Err(ScoreError::parse(format!("{axis}: score {other} is not a number"), answer)),
    };
    if !score.is_finite() || !(0.0..=f64::from(MAX_SCORE)).contains(&score) {
        return Err(ScoreError::InvalidScore { axis, reason: format!("{score} is not a number in [0, {MAX_SCORE}]") });
    }
    let flaw = match field(obj, "flaw").ok_or_else(|| missing("flaw"))? {
        Value::String(s) if !is_no_flaw(s) => s.trim().to_string(),
        // "None", "", null: the judge saw no flaw; use the axis' canonical no-flaw sentence,
        // as the training data does (paper-notes.md, "Inference").
        Value::String(_) | Value::Null => axis.no_flaw_text().to_string(),
        other => return Err(ScoreError::parse(format!("{axis}: flaw {other} is not a sentence"), answer)),
    };
    AxisScore::new(score as f32, verdict, flaw).map_err(|e| ScoreError::InvalidScore { axis, reason: e.to_string() })
}

fn is_no_flaw(s: &str) -> bool {
    let t = s.trim().trim_end_matches('.');
    t.is_empty() || ["none", "n/a", "no flaw", "no flaws"].iter().any(|n| t.eq_ignore_ascii_case(n))
}

/// A field by exact name, ignoring ASCII case (`"Score"` is `"score"`).
fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
}

/// The first balanced `{...}` in `text` that reads as a JSON or Python-dict object.
fn extract_object(text: &str) -> Result<Map<String, Value>, ScoreError> {
    let mut last_err = None;
    for (start, _) in text.match_indices('{') {
        let Some(len) = balanced_len(&text[start..]) else {
            last_err.get_or_insert_with(|| "the object is not closed (truncated answer?)".to_string());
            continue;
        };
        let candidate = &text[start..start + len];
        let parsed = serde_json::from_str::<Value>(candidate)
            .or_else(|e| serde_json::from_str::<Value>(&python_to_json(candidate)).map_err(|_| e));
        match parsed {
            Ok(Value::Object(map)) => return Ok(map),
            Ok(other) => {
                last_err.get_or_insert_with(|| format!("expected an object, got {other}"));
            }
            Err(e) => {
                last_err.get_or_insert_with(|| format!("not JSON nor a Python dict: {e}"));
            }
        }
    }
    Err(ScoreError::parse(last_err.unwrap_or_else(|| "no JSON object in the answer".into()), text))
}

/// Length in bytes of the balanced object at the start of `s` (which begins with `{`), or
/// `None` when it is not closed. Braces inside single- or double-quoted strings do not count.
fn balanced_len(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if let Some(q) = quote {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                _ if c == q => quote = None,
                _ => {}
            }
            continue;
        }
        match c {
            '"' | '\'' => quote = Some(c),
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// Rewrites a Python literal dict as JSON: single-quoted strings, `True`/`False`/`None`, and
/// trailing commas. Anything else (e.g. `nan`) is left alone, so it still fails to parse.
fn python_to_json(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                out.push('"');
                let mut escaped = false;
                for c in chars.by_ref() {
                    out.push(c);
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        break;
                    }
                }
            }
            '\'' => {
                out.push('"');
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => match chars.next() {
                            Some('\'') => out.push('\''),
                            Some(n) => {
                                out.push('\\');
                                out.push(n);
                            }
                            None => {}
                        },
                        '"' => out.push_str("\\\""),
                        '\'' => break,
                        _ => out.push(c),
                    }
                }
                out.push('"');
            }
            ',' => {
                let mut rest = chars.clone();
                while rest.next_if(|c| c.is_whitespace()).is_some() {}
                if !matches!(rest.peek(), Some('}' | ']')) {
                    out.push(',');
                }
            }
            c if c.is_ascii_alphabetic() => {
                let mut word = String::from(c);
                while let Some(n) = chars.next_if(|n| n.is_ascii_alphanumeric() || *n == '_') {
                    word.push(n);
                }
                out.push_str(match word.as_str() {
                    "True" => "true",
                    "False" => "false",
                    "None" => "null",
                    _ => &word,
                });
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(answer: &str) -> AxisScore {
        parse_axis(Axis::Following, answer).unwrap_or_else(|e| panic!("{answer}: {e}"))
    }

    fn err(answer: &str) -> ScoreError {
        match parse_axis(Axis::Following, answer) {
            Ok(s) => panic!("{answer} parsed as {s:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn accepts_integer_float_json_python_and_surrounding_prose() {
        let a = ok(r#"{"verdict": "yes", "score": 4, "flaw": "None"}"#);
        assert_eq!((a.verdict(), a.score(), a.flaw()), (true, 4.0, "No negative aspects"));
        let a = ok("Sure! Here it is:\n```json\n{\"Verdict\": \"No\", \"Score\": 2.5, \"Flaw\": \"the {cup} stays red\"}\n```\nHope that helps.");
        assert_eq!((a.verdict(), a.score(), a.flaw()), (false, 2.5, "the {cup} stays red"));
        let a = ok("{'verdict': False, 'score': 0, 'flaw': \"the cat's tail is missing\",}");
        assert_eq!((a.verdict(), a.score(), a.flaw()), (false, 0.0, "the cat's tail is missing"));
        let a = ok("{'verdict': True, 'score': '5', 'flaw': None}");
        assert_eq!((a.verdict(), a.score()), (true, 5.0));
        let a = ok(r#"{'verdict': 'no', 'score': 3e0, 'flaw': 'it\'s "odd"'}"#);
        assert_eq!((a.score(), a.flaw()), (3.0, "it's \"odd\""));
    }

    #[test]
    fn the_verdict_comes_from_its_field_never_from_the_text() {
        // "yes" appears everywhere except in the verdict.
        let a = ok(r#"Yes, yes! {"flaw": "yes-man edit", "score": 1, "verdict": "no"} yes"#);
        assert!(!a.verdict());
        assert!(matches!(err(r#"The answer is yes. {"score": 4, "flaw": "None"}"#), ScoreError::Parse { reason, .. } if reason.contains("verdict")));
        assert!(matches!(err(r#"{"verdict": "yes, mostly", "score": 4, "flaw": ""}"#), ScoreError::Parse { .. }));
    }

    #[test]
    fn bad_scores_are_typed_errors_not_guesses() {
        for bad in [r#"{"verdict": "yes", "score": 5.5, "flaw": ""}"#, r#"{"verdict": "yes", "score": -1, "flaw": ""}"#, r#"{"verdict": "yes", "score": "NaN", "flaw": ""}"#] {
            assert!(matches!(err(bad), ScoreError::InvalidScore { axis: Axis::Following, .. }), "{bad}");
        }
        for bad in [
            r#"{"verdict": "yes", "flaw": ""}"#,
            r#"{"verdict": "yes", "score": "4/5", "flaw": ""}"#,
            r#"{"verdict": "yes", "score": nan, "flaw": ""}"#,
            r#"{"verdict": "yes", "score": null, "flaw": ""}"#,
            r#"{"verdict": "yes", "score": 4}"#,
            r#"{"verdict": "yes", "score": 4, "flaw": "trunc"#,
            "I cannot judge these images.",
            "",
        ] {
            assert!(matches!(err(bad), ScoreError::Parse { .. }), "{bad}");
        }
    }

    #[test]
    fn joint_needs_all_three_axes() {
        let r = parse_joint(
            r#"{"following": {"verdict": "yes", "score": 5, "flaw": "None"},
                "preservation": {"verdict": "no", "score": 2, "flaw": "the sky changed"},
                "quality": {"verdict": "yes", "score": 4.5, "flaw": ""}}"#,
        )
        .unwrap();
        assert_eq!(r.scores(), [5.0, 2.0, 4.5]);
        assert_eq!(r.verdicts(), [true, false, true]);
        assert_eq!(r.preservation.flaw(), "the sky changed");
        let e = parse_joint(r#"{"following": {"verdict": "yes", "score": 5, "flaw": ""}, "quality": {"verdict": "yes", "score": 5, "flaw": ""}}"#).unwrap_err();
        assert!(e.to_string().contains("preservation"), "{e}");
        let e = parse_joint(r#"{"following": {"verdict": "yes", "score": 5, "flaw": ""}, "preservation": {"verdict": "yes", "score": 9, "flaw": ""}, "quality": {"verdict": "yes", "score": 5, "flaw": ""}}"#).unwrap_err();
        assert!(matches!(e, ScoreError::InvalidScore { axis: Axis::Preservation, .. }));
    }

    #[test]
    fn schema_lists_every_field() {
        let s = answer_schema(true);
        assert_eq!(s["required"], serde_json::json!(["following", "preservation", "quality"]));
        assert_eq!(s["properties"]["quality"]["required"], serde_json::json!(["verdict", "score", "flaw"]));
    }
}
