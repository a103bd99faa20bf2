//! Burn modules of the reward-conditioned editor (issue 3).
