//! Flaw sentences: one generator per flaw kind, naming the objects and attributes involved
//! ("the circle is still red", "the blue square moved", "the image is blurry").

use crate::edit::{EditCase, EditOp};
use crate::flaw::FlawKind;
use crate::instruction::{refer, with_article};
use crate::scene::{Light, Style, Tint};

fn light_at(l: Light) -> &'static str {
    match l {
        Light::Day => "in daylight",
        Light::Dusk => "at dusk",
        Light::Night => "at night",
    }
}

fn tint_adj(t: Tint) -> &'static str {
    match t {
        Tint::Neutral => "neutral",
        Tint::Autumn => "autumnal",
        Tint::Winter => "wintry",
    }
}

fn style_noun(s: Style) -> &'static str {
    match s {
        Style::Photo => "a photo",
        Style::Sketch => "a pencil sketch",
        Style::Sepia => "a sepia print",
        Style::Posterized => "a poster",
    }
}

/// What still looks as before when the edit was not done: "the circle is still red".
fn still(case: &EditCase) -> String {
    let s = &case.scene;
    let obj = |i: usize| refer(s, i);
    match case.instruction.op {
        EditOp::Recolour { object, .. } => format!("{} is still {}", obj(object), s.objects[object].colour.name()),
        EditOp::Reshape { object, .. } => format!("{} is still {}", obj(object), with_article(s.objects[object].shape.name())),
        EditOp::Resize { object, .. } => format!("{} is still {}", obj(object), s.objects[object].size.name()),
        EditOp::Remove { object } => format!("{} is still there", obj(object)),
        EditOp::Add { new } => format!("there is no {} {}", new.noun_phrase(), new.cell.phrase()),
        EditOp::Retexture { object, .. } => format!("{} is still {}", obj(object), s.objects[object].texture.name()),
        EditOp::SetBackground { .. } => {
            format!("the background is still {} {}", s.background.pattern.adjective(), s.background.colour.name())
        }
        EditOp::SetLight { .. } => format!("the scene is still {}", light_at(s.light)),
        EditOp::SetTint { .. } => format!("the colours are still {}", tint_adj(s.tint)),
        EditOp::SetStyle { .. } => format!("the image is still {}", style_noun(s.style)),
    }
}

/// What the instruction asked for: "the circle should be blue".
fn should(case: &EditCase) -> String {
    let s = &case.scene;
    let obj = |i: usize| refer(s, i);
    match case.instruction.op {
        EditOp::Recolour { object, to } => format!("{} should be {}", obj(object), to.name()),
        EditOp::Reshape { object, to } => format!("{} should be {}", obj(object), with_article(to.name())),
        EditOp::Resize { object, to } => format!("{} should be {}", obj(object), to.name()),
        EditOp::Remove { object } => format!("{} should be gone", obj(object)),
        EditOp::Add { new } => format!("there should be {} {}", with_article(&new.noun_phrase()), new.cell.phrase()),
        EditOp::Retexture { object, to } => format!("{} should be {}", obj(object), to.name()),
        EditOp::SetBackground { to } => format!("the background should be {} {}", to.pattern.adjective(), to.colour.name()),
        EditOp::SetLight { to } => format!("the scene should be {}", light_at(to)),
        EditOp::SetTint { to } => format!("the colours should be {}", tint_adj(to)),
        EditOp::SetStyle { to } => format!("the image should be {}", style_noun(to)),
    }
}

/// The sentence for a flaw of `kind` found on `case`. `subject` is the source-scene index of the
/// object involved (collateral flaws, wrong object), when known; `mild` softens the wording.
pub fn describe(kind: FlawKind, case: &EditCase, subject: Option<usize>, mild: bool) -> String {
    let other = || match subject.filter(|&j| j < case.scene.objects.len()) {
        Some(j) => refer(&case.scene, j),
        None => "another object".to_string(),
    };
    let slightly = if mild { "slightly " } else { "" };
    match kind {
        FlawKind::NoChange if mild => format!("the change is too faint: {}", still(case)),
        FlawKind::NoChange => still(case),
        FlawKind::WrongObject => format!("{}, and {} was changed instead", still(case), other()),
        FlawKind::WrongAttribute => format!("the wrong change was made: {}", should(case)),
        FlawKind::HalfApplied => format!("the edit was only half done: {} in places", still(case)),
        FlawKind::OtherRecoloured => format!("{} changed colour", other()),
        FlawKind::OtherMoved => format!("{} moved", other()),
        FlawKind::BackgroundShift => "the background changed colour".to_string(),
        FlawKind::ColourCast => format!("the rest of the image has a {slightly}different colour cast"),
        FlawKind::Blur => format!("the image is {slightly}blurry"),
        FlawKind::Noise => format!("the image is {slightly}noisy"),
        FlawKind::Blocking => format!("the image has {slightly}blocky compression artefacts"),
        FlawKind::Ghosting => format!("the image has {slightly}doubled, ghosted edges"),
        FlawKind::Banding => format!("the image shows {slightly}visible colour banding"),
    }
}
