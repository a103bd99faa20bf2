//! Scorers: the `Scorer` trait, the LVLM teacher, the student (issue 5).
